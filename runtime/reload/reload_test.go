package reload

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"vigil/dev/devsite"
	"vigil/hcl"
	"vigil/planner"
	"vigil/planner/views"
	"vigil/runtime/agent"
	"vigil/runtime/api"
)

// siteHCL is the configuration of an in-process (devsite) site with cameras cam1..camN.
func siteHCL(s *devsite.Site, cameras int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "site %q {\n  keepalive = %q\n%s\n", s.Name, s.Keepalive.String(), extra)
	for _, n := range s.Names() {
		srv := s.Server(n)
		fmt.Fprintf(&b, "  server %q {\n    address = %q\n    port = %d\n    storage \"main\" {\n      path = \"recordings\"\n    }\n  }\n", n, srv.IP, srv.Port)
	}
	for i := 1; i <= cameras; i++ {
		fmt.Fprintf(&b, "  camera \"cam%d\" {\n    url = %q\n    server = %q\n    transport = \"tcp\"\n    segment_duration = \"2s\"\n  }\n", i, s.Cams.URL(i), s.Names()[0])
	}
	b.WriteString("}\n")
	return b.String()
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

type harness struct {
	site    *devsite.Site
	dirs    map[string]string
	w       map[string]*Watcher
	results map[string]chan Result
	regs    map[string]*prometheus.Registry
	// notified counts Reloading and Reloaded calls.
	reloading, reloaded atomic.Int32
}

// newHarness starts a site whose servers each watch their own copy of the
// configuration directory, initially with initial cameras. The site is
// fresh: the first load creates it.
func newHarness(tb testing.TB, servers []string, cameras, initial int) *harness {
	tb.Helper()
	site, err := devsite.New(devsite.Options{Servers: servers, Cameras: cameras})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(site.Close)
	if err := site.Start(); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range servers {
		if _, err := site.Wait(ctx, n, func(st *api.State) bool { return true }); err != nil {
			tb.Fatal(err)
		}
	}
	h := &harness{site: site, dirs: map[string]string{}, w: map[string]*Watcher{}, results: map[string]chan Result{}, regs: map[string]*prometheus.Registry{}}
	for _, n := range servers {
		dir := tb.TempDir()
		writeFile(tb, filepath.Join(dir, "site.hcl"), siteHCL(site, initial, ""))
		h.dirs[n] = dir
		h.results[n] = make(chan Result, 100)
		h.regs[n] = prometheus.NewRegistry()
		w, err := Start(site.Server(n).Agent(), Options{
			Dir: dir, Token: site.Token, Debounce: 200 * time.Millisecond,
			Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
			Registerer: h.regs[n], results: h.results[n],
			Reloading: func() { h.reloading.Add(1) },
			Reloaded:  func(error) { h.reloaded.Add(1) },
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { w.Close() })
		h.w[n] = w
	}
	return h
}

// next waits for the next reload of server n that was not skipped.
func (h *harness) next(tb testing.TB, n string) Result {
	tb.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-h.results[n]:
			if !r.Skipped {
				return r
			}
		case <-deadline:
			tb.Fatalf("%s: no reload within 20s", n)
		}
	}
}

// settled forces a reload of server n (as SIGHUP does) and fails unless
// the next reload that is not skipped is that one, with nothing to change:
// everything the files hold was applied, and no reload of theirs came
// between (waiting a while for none proves nothing on a busy machine).
func (h *harness) settled(tb testing.TB, n string) {
	tb.Helper()
	h.w[n].Trigger()
	if r := h.next(tb, n); r.Err != nil || !r.Planned || r.Changes != 0 || r.Applied != 0 {
		tb.Fatalf("%s: a reload of its own before the forced one, or changes left: %+v", n, r)
	}
}

// skipped waits for server n's next reload and fails unless it was skipped
// (the content had not changed).
func (h *harness) skipped(tb testing.TB, n string) {
	tb.Helper()
	select {
	case r := <-h.results[n]:
		if !r.Skipped {
			tb.Fatalf("%s: unexpected reload %+v", n, r)
		}
	case <-time.After(20 * time.Second):
		tb.Fatalf("%s: no reload within 20s", n)
	}
}

func (h *harness) agent(n string) *agent.Agent { return h.site.Server(n).Agent() }

func (h *harness) waitRecording(tb testing.TB, n, camera string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.site.Wait(ctx, n, func(st *api.State) bool { return len(devsite.Recorders(st, camera)) > 0 }); err != nil {
		tb.Fatal(err)
	}
}

func TestValidChangeApplied(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 2, 1)
	r := h.next(t, "s1")
	if r.Err != nil || r.Applied == 0 {
		t.Fatalf("first load: %+v", r)
	}
	h.waitRecording(t, "s1", "cam1")
	writeFile(t, filepath.Join(h.dirs["s1"], "site.hcl"), siteHCL(h.site, 2, ""))
	r = h.next(t, "s1")
	if r.Err != nil || r.Applied != 2 || r.Changes != 1 {
		t.Fatalf("adding cam2: %+v", r)
	}
	h.waitRecording(t, "s1", "cam2")
	if v := value(h.w["s1"].applied); v != 2 {
		t.Errorf("applies_total = %v, want 2", v)
	}
}

func TestInvalidChangeRefusedThenFixed(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 2, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	events, err := h.site.Client("s1").Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.dirs["s1"], "site.hcl")
	bad := strings.Replace(siteHCL(h.site, 2, ""), `server = "s1"`, `server = "s9"`, 1)
	writeFile(t, path, bad)
	r := h.next(t, "s1")
	if r.Err == nil || r.Applied != 0 {
		t.Fatalf("invalid change: %+v", r)
	}
	st := h.agent("s1").State()
	if st.Revision != 1 || !strings.Contains(st.ConfigError, "site.hcl:") || !strings.Contains(st.ConfigError, "s9") {
		t.Fatalf("after an invalid change: revision %d, config_error %q", st.Revision, st.ConfigError)
	}
	if v := value(h.w["s1"].valid); v != 0 {
		t.Errorf("vigil_config_valid = %v, want 0", v)
	}
	if v := value(h.w["s1"].errs); v != 1 {
		t.Errorf("reload_errors_total = %v, want 1", v)
	}
	sawEvent := false
	for !sawEvent {
		select {
		case ev := <-events:
			sawEvent = ev.Kind == "config.invalid"
		case <-time.After(5 * time.Second):
			t.Fatal("no config.invalid event")
		}
	}
	h.waitRecording(t, "s1", "cam1") // the last good spec keeps running

	writeFile(t, path, siteHCL(h.site, 2, ""))
	r = h.next(t, "s1")
	if r.Err != nil || r.Applied != 2 {
		t.Fatalf("fixed change: %+v", r)
	}
	if st := h.agent("s1").State(); st.ConfigError != "" {
		t.Errorf("config_error still %q", st.ConfigError)
	}
	if v := value(h.w["s1"].valid); v != 1 {
		t.Errorf("vigil_config_valid = %v, want 1", v)
	}
}

func TestRapidFireOneApply(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 10, 0)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	path := filepath.Join(h.dirs["s1"], "site.hcl")
	for i := 1; i <= 10; i++ {
		writeFile(t, path, siteHCL(h.site, i, ""))
		time.Sleep(10 * time.Millisecond) // writes spread in time, within the debounce
	}
	r := h.next(t, "s1")
	if r.Err != nil || r.Applied != 2 || r.Changes != 10 {
		t.Fatalf("after 10 writes: %+v", r)
	}
	h.settled(t, "s1")
}

func TestRenameReplace(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 2, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	// What git checkout and most editors do: write elsewhere, rename over.
	tmp := filepath.Join(h.dirs["s1"], ".site.hcl.swp")
	writeFile(t, tmp, siteHCL(h.site, 2, ""))
	if err := os.Rename(tmp, filepath.Join(h.dirs["s1"], "site.hcl")); err != nil {
		t.Fatal(err)
	}
	if r := h.next(t, "s1"); r.Err != nil || r.Applied != 2 {
		t.Fatalf("after rename: %+v", r)
	}
	// Once more: the watch survives the replaced file.
	writeFile(t, tmp, siteHCL(h.site, 1, ""))
	if err := os.Rename(tmp, filepath.Join(h.dirs["s1"], "site.hcl")); err != nil {
		t.Fatal(err)
	}
	if r := h.next(t, "s1"); r.Err != nil || r.Applied != 3 {
		t.Fatalf("after second rename: %+v", r)
	}
}

func TestUnchangedContentAndTrigger(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 1, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	path := filepath.Join(h.dirs["s1"], "site.hcl")
	writeFile(t, path, siteHCL(h.site, 1, "")) // same bytes
	h.skipped(t, "s1")
	h.w["s1"].Trigger() // SIGHUP
	r := h.next(t, "s1")
	if r.Err != nil || !r.Planned || r.Changes != 0 || r.Applied != 0 {
		t.Fatalf("forced reload of unchanged content: %+v", r)
	}
	// Only the forced reload is notified: not the first load (the agent's
	// start), nor the write that changed nothing.
	if a, b := h.reloading.Load(), h.reloaded.Load(); a != 1 || b != 1 {
		t.Errorf("Reloading called %d times, Reloaded %d, want 1 and 1", a, b)
	}
}

func TestFollowerOnlyValidates(t *testing.T) {
	h := newHarness(t, []string{"s1", "s2"}, 2, 1)
	// The first load: s1, the first server of the configuration, creates
	// the site; s2 validates.
	master, follower := "s1", "s2"
	if r := h.next(t, master); r.Err != nil || r.Applied == 0 {
		t.Fatalf("master, first load: %+v", r)
	}
	if r := h.next(t, follower); r.Err != nil || r.Planned {
		t.Fatalf("follower, first load: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := h.site.Wait(ctx, follower, func(st *api.State) bool { return st.Revision > 0 })
	if err != nil {
		t.Fatal(err)
	}
	rev := st.Revision
	// The same git update reaches both servers.
	for _, n := range []string{"s1", "s2"} {
		writeFile(t, filepath.Join(h.dirs[n], "site.hcl"), siteHCL(h.site, 2, ""))
	}
	if r := h.next(t, master); r.Err != nil || r.Applied != rev+1 {
		t.Fatalf("master: %+v (revision was %d)", r, rev)
	}
	if r := h.next(t, follower); r.Err != nil || r.Planned {
		t.Fatalf("follower: %+v", r)
	}
	// An invalid change on the follower only is shown by the follower.
	writeFile(t, filepath.Join(h.dirs[follower], "site.hcl"), "site {")
	if r := h.next(t, follower); r.Err == nil {
		t.Fatalf("follower accepted an invalid change: %+v", r)
	}
	if e := h.agent(follower).State().ConfigError; e == "" {
		t.Error("the follower shows no config_error")
	}
	// The master's watcher runs one more (forced) reload: the writes' late
	// events are handled by then, and this reload applies nothing (a sleep
	// proves nothing on a busy machine).
	h.w[master].Trigger()
	if r := h.next(t, master); r.Err != nil || r.Applied != 0 {
		t.Errorf("master, forced reload of the same content: %+v", r)
	}
	if st := h.agent(master).State(); st.Revision != rev+1 {
		t.Errorf("revision %d, want %d: applied twice", st.Revision, rev+1)
	}
}

func TestSiteMissingRefused(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 1, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	other := strings.Replace(siteHCL(h.site, 1, ""), `site "test"`, `site "other"`, 1)
	writeFile(t, filepath.Join(h.dirs["s1"], "site.hcl"), other)
	r := h.next(t, "s1")
	if r.Err == nil || !strings.Contains(r.Err.Error(), `site "test"`) {
		t.Fatalf("configuration without the agent's site: %+v", r)
	}
}

// BenchmarkReloadAddCamera measures a saved change that adds a camera:
// from the file write to the camera recording on a one-server site (camsim
// on loopback, so the camera's connect time is near zero). commit-ms is the
// part up to the committed revision (debounce, load, plan, apply); the rest
// (commit-to-recording-ms) is the agent starting the recorder, the RTSP
// connect and the wait for the first key frame (camsim's GOP is 1 s).
func BenchmarkReloadAddCamera(b *testing.B) {
	h := newHarness(b, []string{"s1"}, 2, 1)
	if r := h.next(b, "s1"); r.Applied == 0 {
		b.Fatalf("first load: %+v", r)
	}
	path := filepath.Join(h.dirs["s1"], "site.hcl")
	a := h.agent("s1")
	recording := func(cam string) bool {
		return len(devsite.Recorders(ptr(a.State()), cam)) > 0
	}
	var commit time.Duration
	n := 0
	for b.Loop() {
		if n > 0 { // remove cam2 again, untimed
			b.StopTimer()
			writeFile(b, path, siteHCL(h.site, 1, ""))
			h.next(b, "s1")
			for recording("cam2") {
				time.Sleep(5 * time.Millisecond)
			}
			b.StartTimer()
		}
		n++
		start := time.Now()
		writeFile(b, path, siteHCL(h.site, 2, ""))
		if r := h.next(b, "s1"); r.Applied == 0 {
			b.Fatalf("adding cam2: %+v", r)
		}
		commit += time.Since(start)
		for !recording("cam2") {
			time.Sleep(2 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(commit.Milliseconds())/float64(n), "commit-ms/op")
	b.ReportMetric(float64((b.Elapsed()-commit).Milliseconds())/float64(n), "commit-to-recording-ms/op")
}

func ptr[T any](v T) *T { return &v }

// value reads a gauge or counter.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	c.Write(&m)
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestNewMasterAppliesPendingOnce: a change every server saw is not applied
// again by a new master, and a change only a follower saw (the master died
// before it applied it) is applied when that follower becomes the master.
func TestNewMasterAppliesPendingOnce(t *testing.T) {
	h := newHarness(t, []string{"s1", "s2"}, 2, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("s1, first load: %+v", r)
	}
	h.next(t, "s2")
	for _, n := range []string{"s1", "s2"} {
		writeFile(t, filepath.Join(h.dirs[n], "site.hcl"), siteHCL(h.site, 2, ""))
	}
	if r := h.next(t, "s1"); r.Applied != 2 {
		t.Fatalf("s1: %+v", r)
	}
	if r := h.next(t, "s2"); r.Planned {
		t.Fatalf("s2 (follower): %+v", r)
	}
	transfer := func(to string) {
		t.Helper()
		if _, err := h.site.Client(to).TransferMaster(t.Context(), to); err != nil {
			t.Fatal(err)
		}
	}
	transfer("s2")
	r := h.next(t, "s2")
	if r.Err != nil || !r.Planned || r.Changes != 0 || r.Applied != 0 {
		t.Fatalf("new master s2 planned the change it saw: %+v", r)
	}
	// Only s1, now a follower, sees the next change; then it becomes the
	// master again (as if s2 had died before applying).
	writeFile(t, filepath.Join(h.dirs["s1"], "site.hcl"), siteHCL(h.site, 1, ""))
	if r := h.next(t, "s1"); r.Planned || r.Err != nil {
		t.Fatalf("s1 (follower): %+v", r)
	}
	transfer("s1")
	if r := h.next(t, "s1"); r.Err != nil || r.Applied != 3 {
		t.Fatalf("s1 as master again: %+v", r)
	}
}

// TestPlanLogShowsNetwork: a change of a server's network block is a change
// of that server in the plan that hot reload logs and applies.
func TestPlanLogShowsNetwork(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 1, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	net := `  server "s1" {`
	withNet := strings.Replace(siteHCL(h.site, 1, ""), net, net+`
    network {
      interface "eth0" {
        addresses = ["10.0.0.11/24"]
        mtu       = 9000
      }
    }`, 1)
	cfg, diags := hcl.Load([]string{writeTemp(t, withNet)}, hcl.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st := h.agent("s1").State()
	p, err := planner.Plan(cfg.Sites[0], &st, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	views.Text(&buf, p, false)
	if !strings.Contains(buf.String(), `network.interface["eth0"].mtu`) || !strings.Contains(buf.String(), "10.0.0.11/24") {
		t.Errorf("the plan does not show the network change:\n%s", buf.String())
	}
	writeFile(t, filepath.Join(h.dirs["s1"], "site.hcl"), withNet)
	if r := h.next(t, "s1"); r.Err != nil || r.Applied != 2 || r.Changes != 1 {
		t.Fatalf("network change: %+v", r)
	}
}

func writeTemp(t *testing.T, content string) string {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "site.hcl"), content)
	return dir
}

// fakeAgent is enough of an agent for changes that never reach the apply.
type fakeAgent struct {
	mu     sync.Mutex
	evs    []api.Event
	cfgErr string
	domain *api.DomainTree
}

func (f *fakeAgent) Name() string { return "s1" }
func (f *fakeAgent) Client(token string) *api.Client {
	return api.NewClient("http://127.0.0.1:1", token)
}
func (f *fakeAgent) State() api.State                 { return api.State{Site: "test", Master: "s2"} }
func (f *fakeAgent) LeaderLoop(func(context.Context)) {}
func (f *fakeAgent) Emit(ev api.Event) {
	f.mu.Lock()
	f.evs = append(f.evs, ev)
	f.mu.Unlock()
}
func (f *fakeAgent) SetConfigError(msg string) {
	f.mu.Lock()
	f.cfgErr = msg
	f.mu.Unlock()
}
func (f *fakeAgent) SetDomain(d *api.DomainTree) {
	f.mu.Lock()
	f.domain = d
	f.mu.Unlock()
}

func TestSensitiveValuesScrubbed(t *testing.T) {
	const secret = "hunter2-camera-password"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "site.hcl"), `
variable "pw" {
  type      = string
  sensitive = true
  default   = "`+secret+`"
}
locals {
  # The same text as the password, in a line an error points at.
  n = "`+secret+`" * 2
}
site "test" {
  server "s1" {
    address = "127.0.0.1"
    storage "main" { path = "rec" }
  }
  camera "c1" {
    url      = "rtsp://127.0.0.1/c1"
    password = var.pw
    server   = "s1"
  }
}
`)
	var log strings.Builder
	var mu sync.Mutex
	fa := &fakeAgent{}
	results := make(chan Result, 10)
	w, err := Start(fa, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &log, mu: &mu}, nil)), results: results})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r := <-results
	if r.Err == nil {
		t.Fatal("an invalid local was accepted")
	}
	mu.Lock()
	out := log.String()
	mu.Unlock()
	fa.mu.Lock()
	defer fa.mu.Unlock()
	for what, s := range map[string]string{"log": out, "config_error": fa.cfgErr, "event": fa.evs[0].Message, "result": r.Err.Error()} {
		if strings.Contains(s, secret) {
			t.Errorf("the %s shows the sensitive value: %s", what, s)
		}
	}
	if !strings.Contains(out, "(sensitive)") {
		t.Errorf("log without a scrubbed value:\n%s", out)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestApplyFailureRetried(t *testing.T) {
	site, err := devsite.New(devsite.Options{Servers: []string{"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	if err := site.Start(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "site.hcl"), siteHCL(site, 0, ""))
	results := make(chan Result, 10)
	// A wrong token: every apply is refused, as an unreachable master
	// would be.
	w, err := Start(site.Server("s1").Agent(), Options{Dir: dir, Token: "wrong",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), results: results, retryMin: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := range 3 {
		select {
		case r := <-results:
			if r.Err == nil || !r.Planned || !strings.Contains(r.Err.Error(), "token") {
				t.Fatalf("attempt %d: %+v", i+1, r)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no attempt %d", i+1)
		}
	}
}

func TestDirectoryReplaced(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 2, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	// Deploy tools swap a whole new directory in by rename.
	dir := h.dirs["s1"]
	next := dir + ".new"
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(next, "site.hcl"), siteHCL(h.site, 2, ""))
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir + ".old") })
	if err := os.Rename(next, dir); err != nil {
		t.Fatal(err)
	}
	if r := h.next(t, "s1"); r.Err != nil || r.Applied != 2 {
		t.Fatalf("after replacing the directory: %+v", r)
	}
	// The new directory is watched.
	writeFile(t, filepath.Join(dir, "site.hcl"), siteHCL(h.site, 1, ""))
	if r := h.next(t, "s1"); r.Err != nil || r.Applied != 3 {
		t.Fatalf("a change in the new directory: %+v", r)
	}
}

// TestOverBoundConfigKeepsLastGood: a watched directory that gains a file
// exceeding the loader's bounds (the hardening issue's out-of-memory
// locals, a symlink to /dev/zero) is an invalid configuration like any
// other: refused with config_error, and the last good spec keeps running.
func TestOverBoundConfigKeepsLastGood(t *testing.T) {
	h := newHarness(t, []string{"s1"}, 1, 1)
	if r := h.next(t, "s1"); r.Applied != 1 {
		t.Fatalf("first load: %+v", r)
	}
	boom := filepath.Join(h.dirs["s1"], "boom.hcl")
	writeFile(t, boom, `locals { boom = length(setproduct(range(1000), range(1000), range(1000))) }`+"\n")
	if r := h.next(t, "s1"); r.Err == nil || r.Applied != 0 {
		t.Fatalf("over-bound locals: %+v", r)
	}
	if st := h.agent("s1").State(); st.Revision != 1 || !strings.Contains(st.ConfigError, "setproduct") {
		t.Fatalf("after over-bound locals: revision %d, config_error %q", st.Revision, st.ConfigError)
	}
	os.Remove(boom)
	if err := os.Symlink("/dev/zero", filepath.Join(h.dirs["s1"], "zero.hcl")); err != nil {
		t.Fatal(err)
	}
	if r := h.next(t, "s1"); r.Err == nil || r.Applied != 0 {
		t.Fatalf("symlink to /dev/zero: %+v", r)
	}
	if st := h.agent("s1").State(); st.Revision != 1 || !strings.Contains(st.ConfigError, "not a regular file") {
		t.Fatalf("after a symlink to /dev/zero: revision %d, config_error %q", st.Revision, st.ConfigError)
	}
	h.waitRecording(t, "s1", "cam1")
}

// TestDomainTreeKnown: a directory that describes a domain tells the agent
// its tree of sites (for the console), even on a follower that only
// validates; one without a domain tells it none.
func TestDomainTreeKnown(t *testing.T) {
	dir := t.TempDir()
	site := func(name, parent, ip string) string {
		p := ""
		if parent != "" {
			p = fmt.Sprintf("  parent = %q\n", parent)
		}
		return fmt.Sprintf("site %q {\n%s  server \"%s-1\" {\n    address = %q\n    storage \"main\" { path = \"rec\" }\n  }\n}\n", name, p, name, ip)
	}
	writeFile(t, filepath.Join(dir, "domain.hcl"), "domain \"acme\" {}\n"+site("hq", "", "127.0.0.1")+site("test", "hq", "127.0.0.2")+site("north", "test", "127.0.0.3"))
	fa := &fakeAgent{}
	results := make(chan Result, 10)
	w, err := Start(fa, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), results: results})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if r := <-results; r.Err != nil {
		t.Fatal(r.Err)
	}
	want := &api.DomainTree{Name: "acme", Sites: []api.DomainTreeSite{{Name: "hq"}, {Name: "test", Parent: "hq"}, {Name: "north", Parent: "test"}}}
	fa.mu.Lock()
	got := fa.domain
	fa.mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("domain tree (-want +got):\n%s", diff)
	}

	writeFile(t, filepath.Join(dir, "domain.hcl"), site("test", "", "127.0.0.2"))
	if r := <-results; r.Err != nil {
		t.Fatal(r.Err)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	if fa.domain != nil {
		t.Errorf("a directory of one site without a domain block: tree %+v", fa.domain)
	}
}
