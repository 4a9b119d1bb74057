package cluster

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingHandler counts records at warning level and above that are
// about dropped or rejected traffic (not the verdicts, which the test
// checks apart).
type countingHandler struct {
	n    *atomic.Int64
	mu   *sync.Mutex
	last *[]string
}

func (h countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if !aboutTraffic(r.Message) {
		return nil
	}
	h.n.Add(1)
	h.mu.Lock()
	if len(*h.last) < 20 {
		*h.last = append(*h.last, r.Message)
	}
	h.mu.Unlock()
	return nil
}

// aboutTraffic: our drop reports and memberlist's per-packet complaints.
func aboutTraffic(msg string) bool {
	for _, w := range []string{"dropped", "packet", "label", "ecrypt", "stream", "receive"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// flood sends n datagrams of 1200 bytes to addr at about rate per second,
// from a new source port every 50 packets. Every other one carries the
// site's label header, so only the authentication tag gives it away.
func flood(t *testing.T, addr string, label string, n, rate int) int {
	t.Helper()
	var conn net.Conn
	sent := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		if i%50 == 0 {
			if conn != nil {
				conn.Close()
			}
			var err error
			if conn, err = net.Dial("udp", addr); err != nil {
				t.Fatal(err)
			}
		}
		b := make([]byte, 1200)
		rand.Read(b)
		if i%2 == 1 {
			copy(b, append([]byte{labelMsgType, byte(len(label))}, label...))
			b[2+len(label)] = 1 // encryption version 1
		}
		if _, err := conn.Write(b); err == nil {
			sent++
		}
		// Pace the sender: bounded load, not a synchronisation.
		if ahead := time.Duration(i+1)*time.Second/time.Duration(rate) - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	conn.Close()
	return sent
}

// TestMembershipFlood is the flood on loopback, bounded: random
// and forged datagrams at one server's membership port from changing source
// ports. No member may be suspected or declared dead because of it, the log
// stays at a handful of lines, and the drops are counted.
// VIGIL_FLOOD_SECONDS lengthens it (the figures are for 30 s).
func TestMembershipFlood(t *testing.T) {
	seconds := 3
	if v, err := strconv.Atoi(os.Getenv("VIGIL_FLOOD_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	const rate = 3000
	var warns atomic.Int64
	var mu sync.Mutex
	var lines []string
	logger := slog.New(countingHandler{n: &warns, mu: &mu, last: &lines})
	// The default keepalive: the verdicts the issue saw go false.
	s := newSite(t, 0, time.Second)
	for i := 0; i < 3; i++ {
		if _, err := s.add(func(c *Config) { c.Logger = logger }); err != nil {
			t.Fatal(err)
		}
	}
	s.waitFormed()
	before := warns.Load()
	s.events.mu.Lock()
	s.events.ev = nil // only what happens from now on
	s.events.mu.Unlock()
	target := net.JoinHostPort(s.ip(0), strconv.Itoa(s.port+1))
	sent := flood(t, target, "vigil/hq", seconds*rate, rate)

	// Verdicts during the flood: every server still sees every other alive
	// and none was ever suspected.
	for _, kind := range []string{"server.suspect", "server.dead"} {
		if e, ok := s.events.find(kind, ""); ok {
			t.Errorf("flood caused a false verdict: %s %s", e.Kind, e.Message)
		}
	}
	s.waitFormed()
	dropped := s.nodes[0].Dropped()
	logged := warns.Load() - before
	t.Logf("flood of %d datagrams in %ds at %s: %d dropped by the transport (the rest by the kernel), %d warning lines about traffic",
		sent, seconds, target, dropped, logged)
	if dropped == 0 {
		t.Error("no packet was counted as dropped")
	}
	// The first few sources are named, then a summary a minute.
	if logged > int64(10+seconds/60*10) {
		mu.Lock()
		t.Errorf("%d warning lines for one flood (want a bounded few); first: %q", logged, lines)
		mu.Unlock()
	}
	if _, ok := s.events.find("membership.refused", s.ip(0)[:0]); !ok {
		t.Error("no membership.refused event")
	}
}

func TestRepeatKeyIgnoresAddresses(t *testing.T) {
	a := repeatKey("failed to receive: EOF from=127.0.0.1:40001")
	b := repeatKey("failed to receive: EOF from=127.9.3.4:51234")
	c := repeatKey("failed to receive: EOF from=[::1]:51234")
	if a != b || a != c {
		t.Errorf("keys differ: %q %q %q", a, b, c)
	}
	if repeatKey("election won") == repeatKey("election lost") {
		t.Error("different messages share a key")
	}
}

// TestWrongSiteKeyReported: a server with another site key that tries to
// join is reported as an event naming its address, not only logged.
func TestWrongSiteKeyReported(t *testing.T) {
	s := newSite(t, 1, time.Second)
	wrong := make([]byte, SiteKeySize)
	rand.Read(wrong)
	if _, err := s.add(func(c *Config) { c.SiteKey = wrong }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "a membership.refused event naming the intruder", func() bool {
		_, ok := s.events.find("membership.refused", s.ip(1))
		return ok
	})
}
