package agent_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"vigil/hcl"
	"vigil/runtime/agent/agenttest"
	"vigil/runtime/api"
)

// newSite starts a site of the named servers with n simulated cameras and
// stops it when the test ends. VIGIL_TEST_LOG=1 shows the agents' logs.
func newSite(t *testing.T, servers []string, cameras int) *agenttest.Site {
	t.Helper()
	opts := agenttest.Options{Servers: servers, Cameras: cameras, Keepalive: time.Second, Dir: t.TempDir()}
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := agenttest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitRecorded(t *testing.T, s *agenttest.Site, on string, want map[string][]string, d time.Duration) *api.State {
	t.Helper()
	st, err := s.Wait(ctxFor(t, d), on, func(st *api.State) bool { return agenttest.RecordedBy(st, want) })
	if err != nil {
		t.Fatalf("%v; want %v; state: %s", err, want, describe(st))
	}
	return st
}

func describe(st *api.State) string {
	if st == nil {
		return "none"
	}
	out := ""
	for _, s := range st.Servers {
		out += "\n  server " + s.Name + " " + s.Health + " " + s.Role
	}
	for _, c := range st.Cameras {
		out += "\n  camera " + c.Name + " " + c.State + " (" + c.Reason + ") by"
		for _, r := range c.Recorders {
			out += " " + r.Server + "/" + r.Role + "/" + r.State
		}
	}
	return out
}

func TestSingleServerRecordsItsCameras(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 2)
	h, err := s.Client("rec-1").Health(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != "waiting" {
		t.Errorf("fresh agent health = %+v, want waiting", h)
	}
	spec := s.Spec(s.CameraSpec(1, "rec-1"), s.CameraSpec(2, "rec-1"))
	rev, err := s.Apply(ctxFor(t, 20*time.Second), spec)
	if err != nil {
		t.Fatal(err)
	}
	if rev != 1 {
		t.Errorf("first revision = %d, want 1", rev)
	}
	st := waitRecorded(t, s, "rec-1", map[string][]string{"cam1": {"rec-1"}, "cam2": {"rec-1"}}, 20*time.Second)
	if st.Master != "rec-1" || st.Revision != 1 {
		t.Errorf("state: master %q revision %d", st.Master, st.Revision)
	}
	for _, c := range st.Cameras {
		if c.State != api.CameraRecording {
			t.Errorf("%s is %s (%s)", c.Name, c.State, c.Reason)
		}
	}
	_ = errors.New
	_ = hcl.KindRecording
}
