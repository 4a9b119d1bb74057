package agent_test

import (
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/api"
)

// TestDrainAndPlannedStop: vigil drain hands a server's cameras to their
// backups make-before-break and leaves its locked camera; the undo takes
// them back the same way; a planned stop (Close) hands them over before
// the server leaves, and the server is shown draining, then left. At no
// moment is a moved camera unrecorded, and the files have no hole.
func TestDrainAndPlannedStop(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2", "rec-3"}, 4)
	locked := s.CameraSpec(4, "rec-3")
	locked.Locked = true
	spec := s.Spec(s.CameraSpec(1, "rec-3", "rec-1"), s.CameraSpec(2, "rec-3", "rec-2"), s.CameraSpec(3, "rec-1", "rec-2"), locked)
	if _, err := s.Commit(ctxFor(t, 20*time.Second), spec); err != nil {
		t.Fatal(err)
	}
	home := map[string][]string{"cam1": {"rec-3"}, "cam2": {"rec-3"}, "cam3": {"rec-1"}, "cam4": {"rec-3"}}
	waitRecorded(t, s, "rec-1", home, 30*time.Second)
	from := time.Now()
	moved := []string{"cam1", "cam2"}
	// watch waits on rec-1 for cond, failing when a moved camera has no
	// recording session at any moment.
	watch := func(what string, cond func(*api.State) bool) *api.State {
		t.Helper()
		st, err := s.Wait(ctxFor(t, 30*time.Second), "rec-1", func(st *api.State) bool {
			for _, c := range moved {
				if len(devsite.Recorders(st, c)) == 0 {
					t.Errorf("%s: %s not recorded by anyone: %s", what, c, describe(st))
				}
			}
			return cond(st)
		})
		if err != nil {
			t.Fatalf("%s: %v: %s", what, err, describe(st))
		}
		return st
	}

	resp, err := s.Client("rec-2").Drain(ctxFor(t, 20*time.Second), "rec-3", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Staying) != 1 || resp.Staying[0].Camera != "cam4" {
		t.Errorf("drain says %+v stay, want cam4 (locked)", resp.Staying)
	}
	drained := map[string][]string{"cam1": {"rec-1"}, "cam2": {"rec-2"}, "cam3": {"rec-1"}, "cam4": {"rec-3"}}
	st := watch("drain", func(st *api.State) bool { return devsite.RecordedBy(st, drained) })
	if h := server(st, "rec-3").Health; h != api.HealthDraining {
		t.Errorf("drained rec-3 is shown %q, want %q", h, api.HealthDraining)
	}

	if _, err := s.Client("rec-3").Drain(ctxFor(t, 20*time.Second), "rec-3", true); err != nil {
		t.Fatal(err)
	}
	st = watch("undo", func(st *api.State) bool { return devsite.RecordedBy(st, home) })
	if h := server(st, "rec-3").Health; h != api.HealthAlive {
		t.Errorf("rec-3 after the undo is shown %q, want alive", h)
	}

	// The planned stop returns once the cameras are taken over.
	if err := s.Stop("rec-3"); err != nil {
		t.Fatal(err)
	}
	watch("stop", func(st *api.State) bool {
		return devsite.RecordedBy(st, map[string][]string{"cam1": {"rec-1"}, "cam2": {"rec-2"}}) && server(st, "rec-3").Health == api.HealthLeft
	})

	// The files: no hole in the moved cameras up to a second past the
	// stop, once those parts are on disk.
	until := time.Now().Add(time.Second)
	for _, c := range moved {
		for _, h := range holes(recordedUntil(t, s, c, until, "rec-1", "rec-2", "rec-3"), from, until) {
			if h.end.Sub(h.start) > 100*time.Millisecond {
				t.Errorf("%s: hole of %v at %s in the files", c, h.end.Sub(h.start).Round(time.Millisecond), h.start.Format("15:04:05.000"))
			}
		}
	}
}
