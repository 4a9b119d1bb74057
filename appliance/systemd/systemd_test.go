package systemd

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"vigil/runtime/api"
)

// fakeAgent serves /v1/health and counts reconcile passes like the agent.
type fakeAgent struct {
	srv       *httptest.Server
	passes    atomic.Uint64
	done      chan struct{}
	unhealthy atomic.Bool

	mu    sync.Mutex
	state api.State
}

func newFakeAgent(t *testing.T, st api.State) *fakeAgent {
	f := &fakeAgent{done: make(chan struct{}), state: st}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.unhealthy.Load() {
			http.Error(w, "wedged", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAgent) Client(token string) *api.Client { return api.NewClient(f.srv.URL, token) }
func (f *fakeAgent) Progress() (uint64, time.Time) {
	n := f.passes.Load()
	if n == 0 {
		return 0, time.Time{}
	}
	return n, time.Now()
}
func (f *fakeAgent) Done() <-chan struct{} { return f.done }
func (f *fakeAgent) State() api.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakeAgent) setMaster(m string) {
	f.mu.Lock()
	f.state.Master = m
	f.mu.Unlock()
}

// socket listens on a fresh notify socket named by NOTIFY_SOCKET.
func socket(t *testing.T) *net.UnixConn {
	dir, err := os.MkdirTemp("", "sdn") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// next reads the next notification, failing after wait.
func next(t *testing.T, c *net.UnixConn, wait time.Duration) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification within %v: %v", wait, err)
	}
	return string(buf[:n])
}

// expect reads notifications until one contains want (others, like STATUS
// refreshes, may come in between).
func expect(t *testing.T, c *net.UnixConn, want string, wait time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no %q notification within %v", want, wait)
		}
		if m := next(t, c, left); strings.Contains(m, want) {
			return m
		}
	}
}

// quiet fails if a notification containing unwanted arrives within wait.
func quiet(t *testing.T, c *net.UnixConn, unwanted string, wait time.Duration) {
	t.Helper()
	atMost(t, c, unwanted, 0, wait)
}

// atMost fails if more than n notifications containing unwanted arrive
// within wait.
func atMost(t *testing.T, c *net.UnixConn, unwanted string, n int, wait time.Duration) {
	t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(wait)
	for seen := 0; ; {
		c.SetReadDeadline(deadline)
		k, err := c.Read(buf)
		if err != nil {
			return
		}
		if m := string(buf[:k]); strings.Contains(m, unwanted) {
			if seen++; seen > n {
				t.Fatalf("unexpected notification %q (%d within %v, at most %d expected)", m, seen, wait, n)
			}
		}
	}
}

func start(t *testing.T, a Agent, o Options) (cancel func()) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, a, o) }()
	return func() { stop(); <-done }
}

func TestSilentWithoutNotifySocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"})
	returned := make(chan struct{})
	go func() { Run(context.Background(), f, Options{}); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("Run kept running without NOTIFY_SOCKET")
	}
	Reloading() // must not panic or block without a socket
	Ready("x")
}

func TestReadyOnceMasterKnown(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Revision: 4}) // restarted, peers not found yet
	defer start(t, f, Options{JoinGrace: time.Hour})()

	quiet(t, c, "READY=1", 600*time.Millisecond)
	f.setMaster("rec-2")
	m := expect(t, c, "READY=1", 5*time.Second)
	if want := "STATUS=server of hq, 0 cameras recording"; !strings.Contains(m, want) {
		t.Errorf("ready notification %q lacks %q", m, want)
	}
}

func TestReadyOnFreshSite(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1"}) // no spec, no master: nothing to join
	defer start(t, f, Options{JoinGrace: time.Hour})()
	m := expect(t, c, "READY=1", 5*time.Second)
	if want := "STATUS=server (no master) of hq, waiting for vigil apply"; !strings.Contains(m, want) {
		t.Errorf("ready notification %q lacks %q", m, want)
	}
}

func TestReadyAfterJoinGraceWithoutMaster(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-2", Revision: 4})
	defer start(t, f, Options{JoinGrace: 500 * time.Millisecond})()
	m := expect(t, c, "READY=1", 5*time.Second)
	if !strings.Contains(m, "no master reachable yet") {
		t.Errorf("ready notification %q does not say the master is unreachable", m)
	}
}

func TestNotReadyWhileAPIDown(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"})
	f.unhealthy.Store(true)
	defer start(t, f, Options{JoinGrace: time.Millisecond})()
	quiet(t, c, "READY=1", time.Second)
	f.unhealthy.Store(false)
	expect(t, c, "READY=1", 5*time.Second)
}

func TestStatusRefresh(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"})
	defer start(t, f, Options{StatusEvery: 300 * time.Millisecond})()
	expect(t, c, "READY=1", 5*time.Second)
	f.mu.Lock()
	f.state.Revision = 3
	f.state.Servers = []api.ServerState{{Name: "rec-1", Recording: 48}}
	f.mu.Unlock()
	expect(t, c, "STATUS=master of hq, 48 cameras recording", 5*time.Second)
}

func TestWatchdogOnlyWhileLoopProgresses(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"})
	stopLoop := make(chan struct{})
	loopDone := make(chan struct{})
	go func() { // the agent's reconcile loop passes every 500ms
		defer close(loopDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopLoop:
				return
			case <-t.C:
				f.passes.Add(1)
			}
		}
	}()
	defer start(t, f, Options{Watchdog: 2 * time.Second})()

	expect(t, c, "WATCHDOG=1", 5*time.Second)
	expect(t, c, "WATCHDOG=1", 5*time.Second)

	close(stopLoop) // wedge the loop: pings stop
	<-loopDone
	// The loop's last pass may have earned one more ping, sent at the next
	// tick (every second); after it, nothing for more than two intervals.
	atMost(t, c, "WATCHDOG=1", 1, 1500*time.Millisecond)
	quiet(t, c, "WATCHDOG=1", 2500*time.Millisecond)

	f.passes.Add(1) // progress again, but the API is wedged
	f.unhealthy.Store(true)
	quiet(t, c, "WATCHDOG=1", 2500*time.Millisecond)
}

func TestStoppingWhenAgentStops(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"})
	defer start(t, f, Options{})()
	expect(t, c, "READY=1", 5*time.Second)
	close(f.done)
	expect(t, c, "STOPPING=1", 5*time.Second)
}

func TestStoppingOnSIGTERM(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"})
	defer start(t, f, Options{})()
	expect(t, c, "READY=1", 5*time.Second) // Run has subscribed to signals by now
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	m := expect(t, c, "STOPPING=1", 5*time.Second)
	if !strings.Contains(m, "STATUS=stopping") {
		t.Errorf("stopping notification %q has no status", m)
	}
}

func TestReloadNotifications(t *testing.T) {
	c := socket(t)
	Reloading()
	m := next(t, c, 2*time.Second)
	if !strings.HasPrefix(m, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("reloading notification = %q", m)
	}
	Ready("master of hq,\n2 cameras recording")
	if m := next(t, c, 2*time.Second); m != "READY=1\nSTATUS=master of hq, 2 cameras recording" {
		t.Errorf("ready notification = %q", m)
	}
}

func TestSummary(t *testing.T) {
	rec := func(n int) []api.ServerState {
		return []api.ServerState{{Name: "rec-9", Recording: 7}, {Name: "rec-1", Recording: n}}
	}
	for _, tc := range []struct {
		st   api.State
		want string
	}{
		{api.State{Site: "hq", Answering: "rec-1"}, "server (no master) of hq, waiting for vigil apply"},
		{api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"}, "master of hq, waiting for vigil apply"},
		{api.State{Site: "hq", Answering: "rec-1", Master: "rec-1", Revision: 2, Servers: rec(48)}, "master of hq, 48 cameras recording"},
		{api.State{Site: "hq", Answering: "rec-1", Master: "rec-9", Revision: 2, Servers: rec(1)}, "server of hq, 1 camera recording"},
		{api.State{Site: "hq", Answering: "rec-1", Master: "rec-9", Revision: 2, Servers: rec(0), ConfigError: "a.hcl:3: bad\nthing"},
			"server of hq, 0 cameras recording; config refused: a.hcl:3: bad thing"},
	} {
		if got := Summary(tc.st); got != tc.want {
			t.Errorf("Summary = %q, want %q", got, tc.want)
		}
	}
}

func TestSupervise(t *testing.T) {
	c := socket(t)
	f := newFakeAgent(t, api.State{Site: "hq", Answering: "rec-1", Master: "rec-1"})
	stop := Supervise(f, nil)
	expect(t, c, "READY=1", 5*time.Second)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the function Supervise returned did not stop it")
	}
}
