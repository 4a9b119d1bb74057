package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
	"vigil/runtime/cluster"
)

// observation is what a reconcile pass reads of the cluster.
type observation struct {
	st      cluster.State
	members map[string]cluster.Member
	// statuses are the members' decoded gossiped statuses; gossipOwn adds
	// this server's.
	statuses map[string]*memberStatus
	master   string
	refused  map[string]string // server → why membership refused it
	now      time.Time
}

// observe is the stage that observes membership.
//
// In: the cluster's committed state, members (with their gossiped
// statuses), master and refused servers.
// Out: the observation; the master and revision metrics.
func (a *Agent) observe() observation {
	o := observation{st: a.cl.State(), members: map[string]cluster.Member{}, statuses: map[string]*memberStatus{}}
	for _, m := range a.cl.Members() {
		o.members[m.Name] = m
	}
	for name, m := range o.members {
		if name == a.cfg.Server || len(m.Status) == 0 {
			continue
		}
		if ms := a.decodeStatus(name, m.Status); ms != nil {
			o.statuses[name] = ms
		}
	}
	o.master, _ = a.cl.Leader()
	o.now = time.Now()
	o.refused = map[string]string{}
	for _, r := range a.cl.Refused() {
		o.refused[r.Name] = r.Reason
	}
	if o.master == a.cfg.Server {
		a.metrics.master.Set(1)
	} else {
		a.metrics.master.Set(0)
	}
	a.metrics.revision.Set(float64(o.st.Revision))
	return o
}

// view starts the pass's view from what it observed.
func (o observation) view() view {
	return view{revision: o.st.Revision, members: o.members, statuses: o.statuses, master: o.master, overrides: o.st.Overrides, refused: o.refused}
}

// specInForce is the stage that takes a newly committed spec into force.
//
// In: the previous view's revision, the committed state (with a spec).
// Out: a.idx, the index of the committed spec; on a new revision the
// "config.committed" event and the saved keepalive and event retention.
func (a *Agent) specInForce(prev view, st cluster.State) {
	if prev.revision != st.Revision {
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventConfigCommitted, Message: fmt.Sprintf("site spec revision %d is in force", st.Revision)})
		a.keepaliveChanged(st.Spec.Keepalive)
		a.eventRetentionChanged(st.Spec.EventRetention)
	}
	if a.idx == nil || a.idx.revision != st.Revision || a.idx.spec != st.Spec {
		a.idx = newSpecIndex(st.Revision, st.Spec, a.fp)
	}
}

// startupGrace is how long never-seen servers count as alive after start.
func (a *Agent) startupGrace(keepalive time.Duration) time.Duration {
	return 5 * keepalive
}

// healthOf builds the assignment's view of the servers of the spec: their
// health, and whether they are draining (committed drains, servers that
// say they are stopping, this one while it stops).
func (a *Agent) healthOf(spec *spec.Site, members map[string]cluster.Member, statuses map[string]*memberStatus, drains []string, now time.Time) map[string]assign.Member {
	keepalive := spec.Keepalive
	if keepalive <= 0 {
		keepalive = a.cfg.Keepalive
	}
	inGrace := now.Sub(a.started) < a.startupGrace(keepalive)
	out := map[string]assign.Member{}
	for _, s := range spec.Servers {
		switch m, ok := members[s.Name]; {
		case s.Name == a.cfg.Server:
			out[s.Name] = assign.Member{Health: api.HealthAlive, Since: a.started}
		case ok:
			out[s.Name] = assign.Member{Health: m.Health, Since: m.Since, Left: m.Left}
		case inGrace:
			// Not seen yet: assume it is up until membership had time to
			// converge, so that a booting agent records only its own cameras.
			out[s.Name] = assign.Member{Health: api.HealthAlive, Since: a.started}
		}
		if m, ok := out[s.Name]; ok {
			ms := statuses[s.Name]
			m.Draining = slices.Contains(drains, s.Name) || ms != nil && ms.Leaving ||
				s.Name == a.cfg.Server && a.leaving.Load()
			out[s.Name] = m
		}
	}
	return out
}

// decodeStatus decodes a peer's gossiped status, reusing the previous
// decoding while the payload is unchanged (the loop runs several times a
// second; payloads change only when a peer's sessions or usage do).
func (a *Agent) decodeStatus(name string, raw []byte) *memberStatus {
	if c, ok := a.decoded[name]; ok && bytes.Equal(c.raw, raw) {
		return c.status
	}
	var ms memberStatus
	if err := json.Unmarshal(raw, &ms); err != nil {
		a.log.Debug("undecodable status of a peer", "from", name, "err", err)
		return nil
	}
	a.decoded[name] = decodedStatus{raw: bytes.Clone(raw), status: &ms}
	return &ms
}

// decodedStatus caches the decoding of one peer's status payload.
type decodedStatus struct {
	raw    []byte
	status *memberStatus
}
