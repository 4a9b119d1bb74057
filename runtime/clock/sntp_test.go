package clock

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// sntpQuery is a minimal SNTP client: it sends one version 4 client request
// and returns the reply, the request's transmit time and the arrival time.
func sntpQuery(t *testing.T, addr string) (reply []byte, sent, arrived time.Time, err error) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := make([]byte, ntpLen)
	req[0] = 4<<3 | 3
	req[2] = 6
	sent = time.Now()
	putNTPTime(req[40:], sent)
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	arrived = time.Now()
	return buf[:n], sent, arrived, err
}

func TestSNTPReply(t *testing.T) {
	const skew = 3 * time.Second
	s, err := serveSNTP("127.0.0.1:0", func() bool { return true }, skewed(skew))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, sent, arrived, err := sntpQuery(t, s.Addr().String())
	if err != nil {
		t.Fatalf("no SNTP reply: %v", err)
	}
	if len(r) != ntpLen {
		t.Fatalf("reply of %d bytes, want %d", len(r), ntpLen)
	}
	if li, vn, mode := r[0]>>6, (r[0]>>3)&7, r[0]&7; li != 0 || vn != 4 || mode != 4 {
		t.Errorf("LI %d VN %d mode %d, want 0 4 4", li, vn, mode)
	}
	if r[1] != SNTPStratum || string(r[12:16]) != "LOCL" || r[2] != 6 {
		t.Errorf("stratum %d, reference %q, poll %d: want %d, LOCL, the request's 6", r[1], r[12:16], r[2], SNTPStratum)
	}
	if got := ntpTime(r[24:32]); got.Sub(sent).Abs() > time.Microsecond {
		t.Errorf("originate %v, want the request's transmit time %v", got, sent)
	}
	// The client's offset computation recovers the server's skew.
	t1, t2 := ntpTime(r[32:40]), ntpTime(r[40:48])
	if t2.Before(t1) {
		t.Errorf("transmit %v before receive %v", t2, t1)
	}
	offset := (t1.Sub(sent) + t2.Sub(arrived)) / 2
	if (offset - skew).Abs() > 50*time.Millisecond {
		t.Errorf("offset %v computed from the reply, want about %v", offset, skew)
	}
}

func TestSNTPSilentWhenNotAnswering(t *testing.T) {
	var answer atomic.Bool
	s, err := ServeSNTP("127.0.0.1:0", answer.Load)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, _, err := sntpQuery(t, s.Addr().String()); err == nil {
		t.Error("answered while not the master")
	}
	answer.Store(true)
	if _, _, _, err := sntpQuery(t, s.Addr().String()); err != nil {
		t.Errorf("no reply once the master: %v", err)
	}
}

func TestTimesyncdDropIn(t *testing.T) {
	site := &spec.Site{Name: "lab", TimeSync: true, Servers: []*spec.Server{
		{Name: "a", Address: "10.0.0.11"}, {Name: "b", Address: "10.0.0.12"}}}
	a := &fakeAgent{name: "b", st: api.State{Spec: site, Master: "a"}}
	path := filepath.Join(t.TempDir(), "timesyncd.conf.d", "vigil.conf")
	restarts := 0
	ts := &Timesyncd{Path: path, Restart: func() error { restarts++; return nil },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	expect := func(what, content string, wantRestarts int) {
		t.Helper()
		b, err := os.ReadFile(path)
		if content == "" {
			if !os.IsNotExist(err) {
				t.Errorf("%s: drop-in %q present, want none", what, b)
			}
		} else if string(b) != content {
			t.Errorf("%s: drop-in %q (%v), want %q", what, b, err, content)
		}
		if restarts != wantRestarts {
			t.Errorf("%s: %d restarts of timesyncd, want %d", what, restarts, wantRestarts)
		}
	}
	header := "# Written by vigil agent: the site's time_sync follows the master.\n[Time]\nNTP=\n"

	ts.Update(a)
	expect("master a", header+"NTP=10.0.0.11\n", 1)
	ts.Update(a)
	expect("unchanged", header+"NTP=10.0.0.11\n", 1)
	site.VirtualIP = "10.0.0.10/24"
	ts.Update(a)
	expect("virtual_ip", header+"NTP=10.0.0.10\n", 2)
	a.st.Master = "b"
	ts.Update(a)
	expect("this server is the master", "", 3)
	a.st.Master = "a"
	site.TimeSync = false
	ts.Update(a)
	expect("time_sync off", "", 3)
	if err := os.WriteFile(path, []byte("[Time]\nNTP=10.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts.Update(a)
	expect("a drop-in left by an earlier run", "", 4)
}
