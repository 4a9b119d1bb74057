package agent

import (
	"slices"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/assign"
)

// A camera handed over is recorded here on for as long as the new
// recorder's claim may be stale; one that goes dark or leaves the spec is
// not; a server leaving the site does not linger.
func TestHandoverLingers(t *testing.T) {
	site := &spec.Site{Cameras: []*spec.Camera{{Name: "cam1", StallTimeout: 3 * time.Second}, {Name: "cam2"}, {Name: "cam3"}}}
	a := &Agent{idx: newSpecIndex(1, site, nil)}
	res := assign.Result{Cameras: map[string]assign.Camera{
		"cam1": {Recorders: []assign.Recorder{{Server: "b", Role: assign.RolePrimary}}},
		"cam2": {Recorders: []assign.Recorder{{Server: "b", Role: assign.RolePrimary}}},
		"cam3": {}, // dark: nobody else records it
	}}
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	running := map[string]bool{"cam1": true, "cam3": true} // cam2 was not recording here
	got := a.withLinger([]string{"cam1", "cam2", "cam3"}, nil, res, running, t0)
	if !slices.Equal(got, []string{"cam1"}) {
		t.Fatalf("handed over at %v: recorded here %v, want cam1", t0, got)
	}
	if a.lingerDue(t0.Add(3999 * time.Millisecond)) {
		t.Errorf("cam1's linger is due before its stall timeout and a second")
	}
	// The new recorder failed: the assignment gives cam1 back (step 7).
	if got := a.withLinger(got, []string{"cam1"}, res, running, t0.Add(time.Second)); !slices.Equal(got, []string{"cam1"}) || len(a.linger) != 0 {
		t.Errorf("given back: %v, lingering %v", got, a.linger)
	}
	// Handed over again; the time is up 4 s later.
	a.withLinger([]string{"cam1"}, nil, res, running, t0.Add(2*time.Second))
	if !a.lingerDue(t0.Add(6 * time.Second)) {
		t.Errorf("cam1's linger is not due after 4 s")
	}
	if got := a.withLinger(nil, nil, res, running, t0.Add(6*time.Second)); len(got) != 0 {
		t.Errorf("after the linger: %v", got)
	}
	a.leaving.Store(true)
	if got := a.withLinger([]string{"cam1"}, nil, res, running, t0.Add(7*time.Second)); len(got) != 0 {
		t.Errorf("a leaving server lingers on %v", got)
	}
}
