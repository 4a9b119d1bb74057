package devsite

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

func loadSite(t testing.TB, path string, vars map[string]string) (*spec.Site, *hcl.Config) {
	t.Helper()
	cfg, diags := hcl.Load([]string{path}, hcl.LoadOptions{Vars: vars})
	if diags.HasErrors() {
		t.Fatalf("loading %s: %s", path, diags.Error())
	}
	return cfg.Sites[0], cfg
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitState polls the site until cond holds.
func waitState(t *testing.T, s *Site, d time.Duration, what string, cond func(*api.State) bool) *api.State {
	t.Helper()
	ctx := ctxFor(t, d)
	var last *api.State
	for {
		if st, err := s.State(ctx); err == nil {
			last = st
			if cond(st) {
				return st
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last state: %+v", what, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestQuickstart runs examples/quickstart relocated to random addresses:
// every server up, a master, every camera recorded by its primary, a stopped
// server's cameras moved to its backups, and a clean shutdown.
func TestQuickstart(t *testing.T) {
	site, cfg := loadSite(t, "../../examples/quickstart", nil)
	dir := t.TempDir()
	s, err := Start(site, Options{Dir: dir, Relocate: true, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Unserved) != 0 || s.Cams == nil || len(s.Cams.Paths()) != 12+SparePaths {
		t.Fatalf("camsim should serve the 12 cameras; unserved: %v", s.Unserved)
	}

	p, rev, err := s.Apply(ctxFor(t, 30*time.Second), site, planner.Options{Sensitive: cfg.Sensitive})
	if err != nil {
		t.Fatal(err)
	}
	if rev == 0 || p.Summary.Add != 16 { // site, 3 servers, 12 cameras
		t.Fatalf("apply: revision %d, summary %+v", rev, p.Summary)
	}
	if p, err := s.Plan(ctxFor(t, 10*time.Second), site, planner.Options{}); err != nil || p.HasChanges() {
		t.Fatalf("a plan right after apply should have no changes: %v, %+v", err, p)
	}

	primaries := map[string][]string{}
	for _, c := range site.Cameras {
		primaries[c.Name] = []string{c.Server}
	}
	st := waitState(t, s, 30*time.Second, "every camera recorded by its primary", func(st *api.State) bool {
		return st.Master != "" && RecordedBy(st, primaries)
	})
	for _, srv := range st.Servers {
		if srv.Health != api.HealthAlive {
			t.Errorf("server %s is %s, want alive", srv.Name, srv.Health)
		}
	}

	// Stopped through the control endpoint, as `vigil dev stop` does.
	ctl := httptest.NewUnstartedServer(s.ControlHandler(nil))
	if ctl.TLS, err = s.ControlTLS(ctl.Listener.Addr().String()); err != nil {
		t.Fatal(err)
	}
	ctl.StartTLS()
	defer ctl.Close()
	addr := strings.TrimPrefix(ctl.URL, "https://")
	if _, err := Control(context.Background(), addr, s.Token, "stop", "srv-2", nil); err == nil || !strings.Contains(err.Error(), "VIGIL_CACERT") {
		t.Fatalf("without the site's CA: %v", err)
	}
	roots := s.CA.Pool()
	if _, err := Control(context.Background(), addr, "wrong", "stop", "srv-2", roots); err == nil || !strings.Contains(err.Error(), "VIGIL_TOKEN") {
		t.Fatalf("a wrong token: %v", err)
	}
	if _, err := Control(context.Background(), addr, s.Token, "stop", "rec-9", roots); err == nil || !strings.Contains(err.Error(), "srv-1, srv-2, srv-3") {
		t.Fatalf("an unknown server: %v", err)
	}
	if _, err := Control(context.Background(), addr, s.Token, "stop", "srv-2", roots); err != nil {
		t.Fatal(err)
	}
	waitState(t, s, 30*time.Second, "srv-2's cameras on its backups", func(st *api.State) bool {
		for _, c := range site.Cameras {
			recs := Recorders(st, c.Name)
			if len(recs) == 0 || slices.Contains(recs, "srv-2") {
				return false
			}
		}
		return true
	})
	if msg, err := s.Do("start", "srv-2"); err != nil || !strings.Contains(msg, "started srv-2") {
		t.Fatalf("start: %q, %v", msg, err)
	}
	waitState(t, s, 30*time.Second, "cameras back on srv-2 (failback)", func(st *api.State) bool {
		return RecordedBy(st, primaries)
	})

	// The CA file vigil dev prints verifies the agents' HTTPS.
	pool, err := api.LoadCA(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.NewClient(s.Addr("srv-1"), s.Token, api.WithCA(pool)).State(context.Background()); err != nil {
		t.Errorf("with VIGIL_CACERT=%s: %v", s.CAFile, err)
	}

	apiAddr := strings.TrimPrefix(s.Addr("srv-1"), "https://")
	s.Close()
	for _, a := range []string{apiAddr, s.Cams.Addr()} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("after Close, %s is still in use: %v", a, err)
			continue
		}
		l.Close()
	}
	var segments int
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".mp4") {
			segments++
		}
		return nil
	})
	if segments < 12 {
		t.Errorf("%d segments under %s, want one per camera at least", segments, dir)
	}
}

func TestCamsimPlan(t *testing.T) {
	cams := []*spec.Camera{
		{Name: "a", URL: "rtsp://127.0.0.1:8554/cam1"},
		{Name: "b", URL: "rtsp://user:secret@127.0.0.1:8554/cam7"},
		{Name: "c", URL: "rtsp://127.0.0.1:9000/cam2"},
		{Name: "d", URL: "rtsp://10.0.0.5:554/cam1"},
		{Name: "e", URL: "rtsp://127.0.0.1:8554/stream1"},
		{Name: "f", URL: "http://127.0.0.1:8554/cam3"},
	}
	addr, paths, unserved := camsimPlan(cams)
	if addr != "127.0.0.1:8554" || paths != 7 {
		t.Errorf("camsim on %q with %d paths, want 127.0.0.1:8554 with 7", addr, paths)
	}
	var got []string
	for _, u := range unserved {
		got = append(got, u.Camera+": "+u.Reason)
		if strings.Contains(u.URL, "secret") {
			t.Errorf("unserved URL shows a password: %s", u.URL)
		}
	}
	want := []string{
		"c: camsim serves 127.0.0.1:8554 only",
		"d: its host is not a loopback address (127.0.0.x)",
		"e: camsim serves the paths /cam1 ... /camN only",
		"f: camsim serves rtsp:// only",
	}
	if !slices.Equal(got, want) {
		t.Errorf("unserved:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	site := &spec.Site{Name: "x", Servers: []*spec.Server{{Name: "a", Address: "127.0.0.1", Port: port, Kind: spec.KindRecording}}}
	_, err = Start(site, Options{Dir: t.TempDir()})
	var inUse *PortInUseError
	if !errors.As(err, &inUse) || err.Error() != "port "+strconv.Itoa(port)+" on 127.0.0.1 (a's API) is in use: is another vigil dev, vigil agent or vigil camsim running?" {
		t.Fatalf("got %v", err)
	}
	site.Servers[0].Address = "192.0.2.1"
	if _, err := Start(site, Options{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("got %v", err)
	}
}
