package agent

import (
	"bytes"
	"maps"
	"slices"

	"vigil/runtime/api"
	"vigil/runtime/assign"
	"vigil/runtime/cluster"
)

// Change detection of the reconcile loop. A pass reruns the assignment only
// when its inputs changed (assignInputs.same), and numbers a new view
// generation — which invalidates the cached answer of GET /v1/state and
// wakes the console — only when what the view shows changed (view.sameAs).
// Every field of the compared types is either compared here or named, with
// the reason, in change_test.go, which fails on a field added to them
// (cluster.Member, assign.Member, view, assignInputs) and handled by
// neither.

// assignInputs are what assign.Assign depended on in the last pass: while
// they do not change, its result and the recorder's set stand.
type assignInputs struct {
	idx       *specIndex
	rec       *recorderSet
	health    map[string]assign.Member
	running   map[string]map[string]bool
	overrides []api.Override
	late      []string // alive servers late to answer (cluster.Member.Late), sorted
}

func (x assignInputs) same(y assignInputs) bool {
	return x.idx == y.idx && x.rec == y.rec && slices.Equal(x.overrides, y.overrides) && slices.Equal(x.late, y.late) &&
		maps.EqualFunc(x.health, y.health, sameHealth) &&
		maps.EqualFunc(x.running, y.running, maps.Equal)
}

// sameHealth tells whether the assignment sees a server the same way.
func sameHealth(m, n assign.Member) bool {
	return m.Health == n.Health && m.Since.Equal(n.Since) && m.Draining == n.Draining && m.Left == n.Left
}

// sameAs tells whether v shows what prev showed, given the same assignment
// result: statuses are compared by pointer (decodeStatus and reconcile keep
// the pointer of an unchanged status).
func (v view) sameAs(prev view) bool {
	return v.revision == prev.revision && v.idx == prev.idx && v.master == prev.master && v.err == prev.err &&
		slices.Equal(v.overrides, prev.overrides) && maps.Equal(v.refused, prev.refused) &&
		maps.Equal(v.statuses, prev.statuses) &&
		maps.EqualFunc(v.members, prev.members, sameMember)
}

// sameMember tells whether /v1/state shows a member the same way. Heard is
// left out: it moves on every answer of the member, and the gap tracker
// reads it on the passes it runs.
func sameMember(m, n cluster.Member) bool {
	return m.Name == n.Name && m.Addr == n.Addr && m.APIPort == n.APIPort && m.Health == n.Health && m.Late == n.Late &&
		m.Since.Equal(n.Since) && m.Left == n.Left && m.Version == n.Version && bytes.Equal(m.Status, n.Status)
}
