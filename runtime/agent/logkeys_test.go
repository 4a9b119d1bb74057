package agent_test

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/dev/devsite"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogKeys: a log line names the server that writes it server=, and a
// server it is about peer=; no line has two server= keys.
func TestLogKeys(t *testing.T) {
	var logs syncBuffer
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1", "rec-2"}, Keepalive: 200 * time.Millisecond, Dir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog := func(line string) {
		t.Helper()
		re := regexp.MustCompile(line)
		deadline := time.Now().Add(30 * time.Second)
		for !re.MatchString(logs.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("no log line with %q:\n%s", line, logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog(`msg="server is alive" server=rec-1 peer=rec-2`)
	if err := s.Stop("rec-2"); err != nil {
		t.Fatal(err)
	}
	waitLog(`msg="server (left the site|is dead)" server=rec-1 peer=rec-2`)
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Count(l, " server=") > 1 {
			t.Errorf("two server= keys: %s", l)
		}
	}
}
