package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// The replicated gap history: a gap recorded again (another observer's
// times) replaces the one it overlaps, a retraction removes it, the
// history is bounded per camera, outlasts a snapshot and follows the spec.
func TestFSMGapHistory(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	at := func(s float64) time.Time {
		return time.Unix(1000, 0).Add(time.Duration(s * float64(time.Second))).UTC()
	}
	gap := func(cam string, from, to float64) api.Gap {
		return api.Gap{Camera: cam, Start: at(from), End: at(to), Cause: api.CauseServerFailure}
	}
	applyEntry(t, f, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Closed: []api.Gap{gap("cam1", 10, 12), gap("cam2", 10, 11), gap("cam1", 1, 2)}})
	// Another observer saw cam1's gap a ping earlier; an empty gap is none.
	applyEntry(t, f, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Closed: []api.Gap{gap("cam1", 9.9, 12), gap("cam2", 20, 20)}})
	want := []api.Gap{gap("cam1", 1, 2), gap("cam1", 9.9, 12)}
	if d := cmp.Diff(want, f.gapsOf("cam1")); d != "" {
		t.Errorf("cam1's gaps (-want +got):\n%s", d)
	}
	if got := f.gapsOf(""); len(got) != 3 || got[1].Camera != "cam1" || got[2].Camera != "cam2" {
		t.Errorf("every gap: %v, want 3 by start then camera", got)
	}
	c := &Cluster{fsm: f}
	if last, ok := c.LastGap("cam1"); !ok || !last.Start.Equal(at(9.9)) {
		t.Errorf("cam1's last gap %v (%v), want the one from 9.9 s", last, ok)
	}
	if got := c.GapsFrom("cam1", at(5)); len(got) != 1 || !got[0].Start.Equal(at(9.9)) {
		t.Errorf("cam1's gaps from 5 s: %v, want the one from 9.9 s", got)
	}
	// A server cut off kept recording cam2 through its gap.
	applyEntry(t, f, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Retracted: []api.Gap{gap("cam2", 10, 11)}})
	if got := f.gapsOf("cam2"); len(got) != 0 {
		t.Errorf("cam2's retracted gap is still there: %v", got)
	}
	if d := cmp.Diff(f.gapsOf(""), restored(t, f).gapsOf("")); d != "" {
		t.Errorf("the snapshot lost gaps (-before +after):\n%s", d)
	}

	var many []api.Gap
	for i := range GapHistory + 5 {
		many = append(many, gap("cam3", float64(100+2*i), float64(101+2*i)))
	}
	applyEntry(t, f, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Closed: many})
	if got := f.gapsOf("cam3"); len(got) != GapHistory || !got[0].Start.Equal(at(110)) {
		t.Errorf("cam3 keeps %d gaps from %v, want the newest %d", len(got), got[0].Start, GapHistory)
	}

	site := spec.Site{Name: "hq", Servers: []*spec.Server{{Name: "rec-1"}}, Cameras: []*spec.Camera{{Name: "cam1", Server: "rec-1"}}}
	applyEntry(t, f, cmdApplySpec, cmdApplySpecV, applySpecBody{Spec: site})
	if got := fmt.Sprint(len(f.gapsOf("cam1")), len(f.gapsOf("cam3"))); got != "2 0" {
		t.Errorf("after cam3 left the spec: cam1 and cam3 keep %s gaps, want 2 0", got)
	}
}

// One gap committed twice (a master and a new master after a change, two
// observers with the same times, twice in one entry) is one record, after
// a snapshot too.
func TestFSMGapCommittedTwice(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	start := time.Unix(1000, 0).UTC()
	gap := api.Gap{Camera: "cam1", Start: start, End: start.Add(time.Second), Cause: api.CauseServerFailure}
	applyEntry(t, f, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Closed: []api.Gap{gap}})
	applyEntry(t, f, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Closed: []api.Gap{gap, gap}})
	f = restored(t, f)
	applyEntry(t, f, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Closed: []api.Gap{gap}})
	if d := cmp.Diff([]api.Gap{gap}, f.gapsOf("cam1")); d != "" {
		t.Errorf("cam1's gaps (-want +got):\n%s", d)
	}
}
