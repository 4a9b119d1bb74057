package agent

import (
	"maps"
	"slices"

	"vigil/runtime/api"
	"vigil/runtime/assign"
	"vigil/runtime/cluster"
)

// assignment is the stage that decides what this server records. It
// reruns assign.Assign only when its inputs changed (assignInputs.same)
// or a handed-over camera's linger is due (handover.go), and otherwise
// carries the previous view's result over.
//
// In: the previous view, v's index and health, the observation (members'
// lateness, overrides, time), the recorder and what every server runs.
// Out: v's result, input, mine (with the cameras lingering here), failing
// and warm; a.assigned, a.linger; whether the result was recomputed.
func (a *Agent) assignment(prev view, v *view, obs observation, rec *recorderSet, running map[string]map[string]bool) (changed bool) {
	in := assignInputs{idx: a.idx, rec: rec, health: v.health, running: running, overrides: obs.st.Overrides, late: lateOf(obs.members)}
	if in.same(a.assigned) && !a.lingerDue(obs.now) {
		v.result, v.mine, v.warm, v.failing, v.input = prev.result, prev.mine, prev.warm, prev.failing, prev.input
		return false
	}
	ain := assign.Input{
		Spec:      obs.st.Spec,
		Members:   v.health,
		Running:   running,
		Overrides: obs.st.Overrides,
		Now:       obs.now,
	}
	v.result = assign.Assign(ain)
	v.input = ain
	v.mine = a.withLinger(prev.mine, v.result.For(a.cfg.Server), v.result, running[a.cfg.Server], obs.now)
	v.failing = failingOf(v.health, in.late)
	v.warm = warmFor(ain, v.mine, a.cfg.Server, v.failing)
	a.assigned = in
	return true
}

// warmFor lists the cameras this server would record if the failing
// servers were declared dead, and does not record now. Their sessions
// connect and hold the last seconds in memory (recorder.Camera.Warm), so
// that a takeover starts with media from before it, instead of connecting
// and waiting for a keyframe then.
func warmFor(in assign.Input, mine []string, self string, failing []string) []string {
	if len(failing) == 0 {
		return nil
	}
	dead := maps.Clone(in.Members)
	for _, name := range failing {
		m := dead[name]
		m.Health = api.HealthDead
		dead[name] = m
	}
	in.Members = dead
	now := make(map[string]bool, len(mine))
	for _, c := range mine {
		now[c] = true
	}
	var out []string
	for _, c := range assign.Assign(in).For(self) {
		if !now[c] {
			out = append(out, c)
		}
	}
	return out
}

// failingOf names the servers that are suspect, or alive but late to
// answer, sorted.
func failingOf(health map[string]assign.Member, late []string) []string {
	var out []string
	for name, m := range health {
		if m.Health == api.HealthSuspect || m.Health == api.HealthAlive && slices.Contains(late, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// lateOf names the members late to answer, sorted.
func lateOf(members map[string]cluster.Member) []string {
	var out []string
	for name, m := range members {
		if m.Late {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
