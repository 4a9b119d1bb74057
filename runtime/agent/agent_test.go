package agent_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// newSite starts a site of the named servers with n simulated cameras and
// stops it when the test ends. VIGIL_TEST_LOG=1 shows the agents' logs.
func newSite(t *testing.T, servers []string, cameras int) *devsite.Site {
	t.Helper()
	opts := devsite.Options{Servers: servers, Cameras: cameras, Keepalive: time.Second, Dir: t.TempDir(), StatsInterval: time.Second}
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := devsite.New(opts)
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

func waitRecorded(t *testing.T, s *devsite.Site, on string, want map[string][]string, d time.Duration) *api.State {
	t.Helper()
	st, err := s.Wait(ctxFor(t, d), on, func(st *api.State) bool { return devsite.RecordedBy(st, want) })
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
	rev, err := s.Commit(ctxFor(t, 20*time.Second), spec)
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
}

// TestTwoServersTakeOverAndFailBack kills the server of two cameras (one
// normal, one fast) on a 2-server site: the other server takes them over
// although the site has no quorum left (with what it held warm since the
// server went quiet), refuses changes with 503, and hands them back without
// a gap when the server returns. The takeover times are
// logged (go test -v -run TestTwoServers ./runtime/agent).
func TestTwoServersTakeOverAndFailBack(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2"}, 3)
	fast := s.CameraSpec(3, "rec-1", "rec-2")
	fast.Redundancy = spec.RedundancyFast
	spec := s.Spec(s.CameraSpec(1, "rec-1", "rec-2"), s.CameraSpec(2, "rec-2", "rec-1"), fast)
	if _, err := s.Commit(ctxFor(t, 20*time.Second), spec); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-2", map[string][]string{"cam1": {"rec-1"}, "cam2": {"rec-2"}, "cam3": {"rec-1"}}, 20*time.Second)

	killed := time.Now()
	if err := s.Kill("rec-1"); err != nil {
		t.Fatal(err)
	}
	killTook := time.Since(killed)
	t.Logf("killed at %s, kill took %v", killed.Format("15:04:05.000"), killTook)
	took := map[string]time.Duration{}
	ctx := ctxFor(t, 30*time.Second)
	st, err := s.Wait(ctx, "rec-2", func(st *api.State) bool {
		for _, c := range []string{"cam1", "cam3"} {
			if _, ok := took[c]; !ok && slices.Contains(devsite.Recorders(st, c), "rec-2") {
				took[c] = time.Since(killed)
			}
		}
		return len(took) == 2
	})
	if err != nil {
		t.Fatalf("%v: %s", err, describe(st))
	}
	t.Logf("takeover with keepalive 1s: redundancy normal %v, fast %v", took["cam1"].Round(10*time.Millisecond), took["cam3"].Round(10*time.Millisecond))
	if c := camera(st, "cam1"); c.State != api.CameraCovered {
		t.Errorf("cam1 is %s (%s), want covered", c.State, c.Reason)
	}

	// One server of two is no quorum: changes are refused, recording goes on.
	_, err = s.Client("rec-2").Apply(ctxFor(t, 20*time.Second), api.ApplyRequest{Spec: spec, BaseRevision: st.Revision})
	if !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("apply without quorum: %v, want 503", err)
	}

	returned := time.Now()
	if err := s.Start("rec-1"); err != nil {
		t.Fatal(err)
	}
	// Make-before-break: at every moment someone records cam1 and cam3.
	st, err = s.Wait(ctxFor(t, 30*time.Second), "rec-2", func(st *api.State) bool {
		for _, c := range []string{"cam1", "cam3"} {
			if len(devsite.Recorders(st, c)) == 0 {
				t.Errorf("%s not recorded during failback: %s", c, describe(st))
			}
		}
		return devsite.RecordedBy(st, map[string][]string{"cam1": {"rec-1"}, "cam3": {"rec-1"}, "cam2": {"rec-2"}})
	})
	if err != nil {
		t.Fatalf("failback: %v: %s", err, describe(st))
	}
	failedBack := time.Since(returned)
	t.Logf("failback done %v after the server returned", failedBack.Round(10*time.Millisecond))
	for _, name := range []string{"cam1", "cam3"} {
		c := camera(st, name)
		if c.LastGap == nil || c.LastGap.End.IsZero() || c.LastGap.End.After(returned) {
			t.Errorf("%s: last gap %+v, want the takeover gap, closed before the server returned", name, c.LastGap)
		}
	}

	// The files tell the same story: one hole at the takeover, none at the
	// failback: a second past it, once those parts are on disk.
	until := time.Now().Add(time.Second)
	for _, name := range []string{"cam1", "cam3"} {
		spans := recordedUntil(t, s, name, until, "rec-1", "rec-2")
		if len(spans) == 0 {
			t.Fatalf("%s: no recordings", name)
		}
		var takeover time.Duration
		var hole span
		for _, h := range holes(spans, spans[0].start, until) {
			switch {
			case h.end.Before(killed):
				t.Errorf("%s: hole of %v before the server was killed", name, h.end.Sub(h.start))
			case h.start.Before(returned):
				takeover += h.end.Sub(h.start)
				hole = h
			case h.end.Sub(h.start) > 100*time.Millisecond:
				t.Errorf("%s: hole of %v at %s after the server returned (failback must not cut the recording)", name, h.end.Sub(h.start), h.start.Format("15:04:05.000"))
			}
		}
		t.Logf("%s: recording gap in the files at takeover %v", name, takeover.Round(10*time.Millisecond))
		checkReportedGap(t, s, "rec-2", name, hole, killTook)
	}

	// rec-2's events tell the takeover: cam1 was not recorded, then was.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	events, err := s.Client("rec-2").Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var ready, dead time.Time
	for ev := range events {
		if ev.Camera == "cam1" && (ev.Kind == "gap.open" || ev.Kind == "gap.closed" || ev.Kind == "camera.assigned") {
			kinds = append(kinds, ev.Kind)
		}
		if ev.Time.After(killed) && ev.Time.Before(returned) {
			switch {
			case ev.Kind == "takeover.ready" && ready.IsZero():
				ready = ev.Time
			case ev.Kind == "server.dead" && ev.Server == "rec-1":
				dead = ev.Time
			}
		}
	}
	if !slices.Contains(kinds, "gap.open") || !slices.Contains(kinds, "gap.closed") || !slices.Contains(kinds, "camera.assigned") {
		t.Errorf("rec-2's events about cam1: %v", kinds)
	}
	// rec-2 held cam1 warm while rec-1 was late or suspect, so its
	// recording of cam1 starts before it declared rec-1 dead.
	if ready.IsZero() || dead.IsZero() {
		t.Fatalf("rec-2's events: takeover.ready at %v, rec-1 dead at %v; want both", ready, dead)
	}
	for _, sp := range recorded(t, s, "cam1", "rec-2") {
		if sp.start.After(killed) {
			if !sp.start.Before(dead) {
				t.Errorf("rec-2's recording of cam1 starts at %s, after rec-1 was declared dead at %s: nothing held warm",
					sp.start.Format("15:04:05.000"), dead.Format("15:04:05.000"))
			}
			break
		}
	}
}

func camera(st *api.State, name string) api.CameraState {
	for _, c := range st.Cameras {
		if c.Name == name {
			return c
		}
	}
	return api.CameraState{}
}

// TestThreeServers: constant redundancy records twice, the master role
// moves on request and when the master dies, and the new master accepts an
// apply sent to any agent.
func TestThreeServers(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2", "rec-3"}, 4)
	constant := s.CameraSpec(2, "rec-2", "rec-3")
	constant.Redundancy = spec.RedundancyConstant
	spec := s.Spec(s.CameraSpec(1, "rec-1", "rec-2", "rec-3"), constant, s.CameraSpec(3, "rec-3", "rec-1"))
	if _, err := s.Commit(ctxFor(t, 20*time.Second), spec); err != nil {
		t.Fatal(err)
	}
	st := waitRecorded(t, s, "rec-1", map[string][]string{"cam1": {"rec-1"}, "cam2": {"rec-2", "rec-3"}, "cam3": {"rec-3"}}, 20*time.Second)
	if n := s.Cams.Stats()["cam2"].Readers; n != 2 {
		t.Errorf("camera simulator sees %d readers of the constant camera, want 2", n)
	}

	// The master gathers every server's recorded bytes into the replicated
	// state; any agent answers with them.
	deadline := time.Now().Add(15 * time.Second)
	for {
		stats, err := s.Client("rec-3").Stats(ctxFor(t, 5*time.Second), "")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, st := range stats {
			if st.Bytes > 0 {
				got[st.Server+"/"+st.Camera] = true
			}
		}
		if got["rec-1/cam1"] && got["rec-2/cam2"] && got["rec-3/cam2"] && got["rec-3/cam3"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statistics %+v lack a server's camera", stats)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Move the master role to rec-2, asking rec-3 (which forwards if it is
	// not the master).
	if st.Master != "rec-2" {
		m, err := s.Client("rec-3").TransferMaster(ctxFor(t, 10*time.Second), "rec-2")
		if err != nil || m != "rec-2" {
			t.Fatalf("master transfer: %q, %v", m, err)
		}
	}
	if _, err := s.Wait(ctxFor(t, 10*time.Second), "rec-1", func(st *api.State) bool { return st.Master == "rec-2" }); err != nil {
		t.Fatal(err)
	}

	if err := s.Kill("rec-2"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Wait(ctxFor(t, 30*time.Second), "rec-3", func(st *api.State) bool {
		return st.Master != "" && st.Master != "rec-2" && devsite.RecordedBy(st, map[string][]string{"cam2": {"rec-3"}})
	})
	if err != nil {
		t.Fatalf("%v: master %q %s", err, st.Master, describe(st))
	}
	// The new master accepts a change, sent here to a member that may not be it.
	spec.Cameras = append(spec.Cameras, s.CameraSpec(4, "rec-1", "rec-3"))
	via := "rec-1"
	if st.Master == "rec-1" {
		via = "rec-3"
	}
	resp, err := s.Client(via).Apply(ctxFor(t, 20*time.Second), api.ApplyRequest{Spec: spec, BaseRevision: st.Revision})
	if err != nil {
		t.Fatalf("apply after the master died: %v", err)
	}
	if resp.Revision != st.Revision+1 {
		t.Errorf("revision %d after apply on %d", resp.Revision, st.Revision)
	}
	waitRecorded(t, s, via, map[string][]string{"cam4": {"rec-1"}}, 20*time.Second)
}

// TestMaxConcurrentFailovers: with max_concurrent_failovers = 1, the
// second dead server is not covered while the first is.
func TestMaxConcurrentFailovers(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2", "rec-3", "spare"}, 3)
	spec := s.Spec(s.CameraSpec(1, "rec-1", "spare"), s.CameraSpec(2, "rec-2", "spare"), s.CameraSpec(3, "rec-3", "spare"))
	spec.MaxConcurrentFailovers = 1
	if _, err := s.Commit(ctxFor(t, 20*time.Second), spec); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "spare", map[string][]string{"cam1": {"rec-1"}, "cam2": {"rec-2"}, "cam3": {"rec-3"}}, 20*time.Second)
	s.Kill("rec-1")
	waitRecorded(t, s, "spare", map[string][]string{"cam1": {"spare"}}, 30*time.Second)
	s.Kill("rec-2")
	st, err := s.Wait(ctxFor(t, 30*time.Second), "spare", func(st *api.State) bool {
		return camera(st, "cam2").State == api.CameraUncovered
	})
	if err != nil {
		t.Fatalf("%v: %s", err, describe(st))
	}
	if got := devsite.Recorders(st, "cam1"); len(got) != 1 || got[0] != "spare" {
		t.Errorf("cam1 recorded by %v, want the spare", got)
	}
	if got := devsite.Recorders(st, "cam3"); len(got) != 1 || got[0] != "rec-3" {
		t.Errorf("cam3 recorded by %v, want rec-3", got)
	}
	t.Logf("cam2: %s", camera(st, "cam2").Reason)
}

// TestVersionMismatchRefused: a server running another vigil version is
// refused by membership, shown as such, and its cameras are covered.
func TestVersionMismatchRefused(t *testing.T) {
	opts := devsite.Options{Servers: []string{"rec-1", "rec-2"}, Cameras: 1, Keepalive: time.Second, Dir: t.TempDir()}
	s, err := devsite.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.Server("rec-2").Config.Version = "other"
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctxFor(t, 20*time.Second), s.Spec(s.CameraSpec(1, "rec-2", "rec-1"))); err != nil {
		t.Fatal(err)
	}
	st, err := s.Wait(ctxFor(t, 30*time.Second), "rec-1", func(st *api.State) bool {
		return devsite.RecordedBy(st, map[string][]string{"cam1": {"rec-1"}}) && server(st, "rec-2").Message != ""
	})
	if err != nil {
		t.Fatalf("%v: %s", err, describe(st))
	}
	if m := server(st, "rec-2").Message; !strings.Contains(m, "runs vigil other but this site runs test") {
		t.Errorf("rec-2 message %q does not explain the refusal", m)
	}
}

func server(st *api.State, name string) api.ServerState {
	for _, s := range st.Servers {
		if s.Name == name {
			return s
		}
	}
	return api.ServerState{}
}

// TestWitnessRecordsNothing: a witness votes but opens no storage and
// records nothing.
func TestWitnessRecordsNothing(t *testing.T) {
	s := newSite(t, []string{"rec-1", "wit"}, 1)
	site := s.Spec(s.CameraSpec(1, "rec-1"))
	site.Servers[1].Kind = spec.KindWitness
	site.Servers[1].Storage = nil
	if _, err := s.Commit(ctxFor(t, 20*time.Second), site); err != nil {
		t.Fatal(err)
	}
	st := waitRecorded(t, s, "wit", map[string][]string{"cam1": {"rec-1"}}, 20*time.Second)
	if w := server(st, "wit"); w.Kind != spec.KindWitness || w.Recording != 0 {
		t.Errorf("witness %+v", w)
	}
	if w := server(st, "wit"); w.Role != "master" && server(st, "rec-1").Role != "master" {
		t.Errorf("no master among the voters: %s", describe(st))
	}
	if _, err := os.Stat(filepath.Join(s.DataDir("wit"), "recordings")); !os.IsNotExist(err) {
		t.Errorf("the witness made a recordings directory (%v)", err)
	}
}

// Each agent gossips the clock offset its measurer gives (SetClockOffset),
// and /v1/state shows it for every server; a server without one shows none.
func TestStateCarriesClockOffset(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2"}, 0)
	s.Server("rec-2").Agent().SetClockOffset(func() (time.Duration, bool) { return -612400 * time.Microsecond, true })
	if _, err := s.Commit(ctxFor(t, 20*time.Second), s.Spec()); err != nil {
		t.Fatal(err)
	}
	st, err := s.Wait(ctxFor(t, 20*time.Second), "rec-1", func(st *api.State) bool {
		return server(st, "rec-2").ClockOffsetKnown
	})
	if err != nil {
		t.Fatalf("rec-1 never shows rec-2's clock offset: %v", err)
	}
	if got := server(st, "rec-2").ClockOffsetMS; got != -612 {
		t.Errorf("rec-2's clock offset as seen by rec-1: %v ms, want -612", got)
	}
	if r1 := server(st, "rec-1"); r1.ClockOffsetKnown || r1.ClockOffsetMS != 0 {
		t.Errorf("rec-1 measures nothing but shows an offset: %+v", r1)
	}
}
