package assign

import (
	"strings"
	"testing"

	"vigil/runtime/api"
)

// draining marks servers as draining in m.
func draining(m map[string]Member, names ...string) map[string]Member {
	for _, n := range names {
		d := m[n]
		d.Draining = true
		m[n] = d
	}
	return m
}

// A drain is make-before-break: the draining server keeps each camera until
// its cover runs it; cameras nobody can take and locked cameras stay.
func TestDrain(t *testing.T) {
	locked := cam("c-lock", "rec-3")
	locked.Locked = true
	s := site([]string{"rec-1", "rec-2/1", "rec-3"},
		cam("c-1", "rec-3", "rec-1"), cam("c-2", "rec-3", "rec-2"), cam("c-3", "rec-2"), locked)
	// rec-2 is full with its own camera: c-2 cannot leave rec-3.
	run := func(running map[string]map[string]bool) Result {
		return Assign(Input{Spec: s, Members: draining(health(s), "rec-3"), Running: running, Now: t0})
	}
	onRec3 := map[string]bool{"c-1": true, "c-2": true, "c-lock": true}

	r := run(map[string]map[string]bool{"rec-3": onRec3})
	for name, w := range map[string]want{
		"c-1":    {"rec-1(backup) rec-3(failback)", api.CameraCovered, "rec-3 draining"},
		"c-2":    {"rec-3(primary)", api.CameraRecording, "no other live server with room"},
		"c-lock": {"rec-3(primary)", api.CameraRecording, ""},
		"c-3":    {"rec-2(primary)", api.CameraRecording, ""},
	} {
		c := r.Cameras[name]
		if recs(c) != w.recorders || c.State != w.state || !strings.Contains(c.Reason, w.reason) {
			t.Errorf("%s while rec-1 connects: %s %s %q, want %s %s %q", name, recs(c), c.State, c.Reason, w.recorders, w.state, w.reason)
		}
	}

	// rec-1 runs c-1: rec-3 lets it go.
	r = run(map[string]map[string]bool{"rec-3": onRec3, "rec-1": {"c-1": true}})
	if c := r.Cameras["c-1"]; recs(c) != "rec-1(backup)" {
		t.Errorf("c-1 once rec-1 runs it: %s, want rec-1(backup)", recs(c))
	}
	// A draining server takes nothing new: rec-1's camera does not go there
	// when rec-1 dies.
	m := draining(health(s, "rec-1=dead@1"), "rec-3")
	r = Assign(Input{Spec: site([]string{"rec-1", "rec-3"}, cam("c-9", "rec-1", "rec-3")), Members: m, Now: t0})
	if c := r.Cameras["c-9"]; c.State != api.CameraUncovered {
		t.Errorf("camera of a dead server with only a draining backup: %s %s, want uncovered", recs(c), c.State)
	}
}

// A drain takes no max_concurrent_failovers slot: a server that fails
// while another drains is covered.
func TestDrainIsNoFailure(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "rec-3"}, cam("c-1", "rec-1", "rec-3"), cam("c-2", "rec-2", "rec-3"))
	s.MaxConcurrentFailovers = 1
	m := draining(health(s, "rec-2=dead@5"), "rec-1")
	r := Assign(Input{Spec: s, Members: m, Now: t0})
	if len(r.Queued) != 0 {
		t.Errorf("queued %v: a drain took a failover slot", r.Queued)
	}
	for _, name := range []string{"c-1", "c-2"} {
		if c := r.Cameras[name]; recs(c) != "rec-3(backup)" {
			t.Errorf("%s: %s, want rec-3(backup)", name, recs(c))
		}
	}
}
