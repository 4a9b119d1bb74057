package agent

import (
	"context"
	"slices"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/cluster"
)

// The site's gap history. Every agent observes the site-wide gaps
// (gapTracker), but one speaks for the site: the master, or while the site
// has no live master, the first server of the spec that this agent hears
// (so that each side of a partition has one). The speaker raises the gap
// events; the master commits the closed gaps to the replicated state
// (cluster.RecordGaps), where every server reads the same history, the
// footage listing takes its causes from it, and it outlasts restarts.
//
// A closed gap stays unconfirmed on the agent that observed it until the
// committed history holds it (its own record or another observer's), and
// the agent gossips its unconfirmed gaps: the master commits them too, so a
// gap seen only while the site had no master (a 2-server site without a
// witness, one server down) joins the history once a master is elected.
// The master refuses a gap that a recording now covers (its media starts
// before the gap: a server cut off, not down, kept recording), and retracts
// committed gaps the same way.

// maxAnnounced bounds the gaps an agent remembers having told.
const maxAnnounced = 1000

// announce adds the gaps just told to those told before (an open gap
// reaches forever until its close is told).
func announce(told, opened, closed []api.Gap) []api.Gap {
	told = append(told, opened...)
	for _, g := range closed {
		told = slices.DeleteFunc(told, func(x api.Gap) bool { return x.Camera == g.Camera && x.End.IsZero() })
	}
	told = append(told, closed...)
	if len(told) > maxAnnounced {
		told = slices.Delete(told, 0, len(told)-maxAnnounced)
	}
	return told
}

// gapCommitTimeout bounds one commit of gaps; what is left is tried again
// on the next pass.
const gapCommitTimeout = 5 * time.Second

// speaksForSite tells whether this agent raises the site's gap events: it
// is the master, or the master is not alive in its view (a master that
// died is still named until the election) and it is the first server of
// the spec it hears.
func (a *Agent) speaksForSite(v *view) bool {
	if v.master == a.cfg.Server {
		return true
	}
	if v.master != "" && v.health[v.master].Health == api.HealthAlive {
		return false
	}
	spec := v.spec()
	if spec == nil {
		return false
	}
	for _, s := range spec.Servers {
		if s.Name == a.cfg.Server {
			return true
		}
		if v.health[s.Name].Health == api.HealthAlive {
			return false
		}
	}
	return false
}

// reportGaps raises the events of the gaps a pass reported (when this
// agent speaks for the site) and, on the master, commits the closed gaps
// not yet in the history.
func (a *Agent) reportGaps(v *view, opened, closed, retracted []api.Gap) {
	if a.speaksForSite(v) {
		// A gap the site's history holds was told when it closed: a
		// server that restarts finds it again in its own index (ownGap),
		// and must not tell it twice.
		opened, closed = a.untold(opened), a.untold(closed)
		a.announced = announce(a.announced, opened, closed)
		a.gapEvents(opened, closed, retracted)
	} else {
		// A gap this agent told while it spoke for its side of a
		// partition is taken back by it too.
		var mine []api.Gap
		for _, g := range retracted {
			if slices.ContainsFunc(a.announced, func(x api.Gap) bool { return cluster.Overlaps(x, g) }) {
				mine = append(mine, g)
			}
		}
		a.gapEvents(nil, nil, mine)
	}
	if len(closed) > 0 && v.master != a.cfg.Server {
		a.poke() // gossip them: the master commits them
	}
	if v.master == a.cfg.Server && a.cl.IsLeader() {
		a.commitGaps(v, retracted)
	}
}

// untold drops the gaps that overlap a gap of the site's committed
// history.
func (a *Agent) untold(gaps []api.Gap) []api.Gap {
	return slices.DeleteFunc(gaps, func(g api.Gap) bool {
		return slices.ContainsFunc(a.cl.Gaps(g.Camera), func(c api.Gap) bool { return cluster.Overlaps(c, g) })
	})
}

// commitGaps commits, in the background and one commit at a time, the
// gaps of the site that the history lacks: this agent's and its peers'
// unconfirmed ones that no recording covers, and the retraction of
// committed gaps that a recording covers (and of retracted, this agent's
// own retractions).
func (a *Agent) commitGaps(v *view, retracted []api.Gap) {
	var candidates []api.Gap
	candidates = append(candidates, a.gaps.unreported(a.cl.Gaps, time.Now())...)
	for name, ms := range v.statuses {
		if name != a.cfg.Server && ms != nil && v.health[name].Health == api.HealthAlive {
			candidates = append(candidates, ms.Gaps...)
		}
	}
	var closed []api.Gap
	committed := map[string][]api.Gap{}
	history := func(camera string) []api.Gap {
		h, ok := committed[camera]
		if !ok {
			h = a.cl.Gaps(camera)
			committed[camera] = h
		}
		return h
	}
	for _, g := range candidates {
		if g.Camera == "" || !g.End.After(g.Start) || v.spec().Camera(g.Camera) == nil {
			continue
		}
		if from, ok := a.gaps.recordedSince(g.Camera); ok && !from.After(g.Start) {
			continue // recorded through it after all
		}
		overlaps := func(c api.Gap) bool { return cluster.Overlaps(c, g) }
		if slices.ContainsFunc(history(g.Camera), overlaps) || slices.ContainsFunc(closed, overlaps) {
			continue
		}
		closed = append(closed, g)
	}
	for _, c := range v.spec().Cameras {
		from, ok := a.gaps.recordedSince(c.Name)
		if !ok {
			continue
		}
		for _, g := range a.cl.GapsFrom(c.Name, from) {
			if !slices.ContainsFunc(retracted, func(r api.Gap) bool { return cluster.Overlaps(r, g) }) {
				retracted = append(retracted, g)
			}
		}
	}
	if len(closed) == 0 && len(retracted) == 0 {
		return
	}
	if !a.committingGaps.CompareAndSwap(false, true) {
		a.poke() // one commit at a time: the next pass tries again
		return
	}
	go func() {
		defer a.committingGaps.Store(false)
		ctx, cancel := context.WithTimeout(a.ctx, gapCommitTimeout)
		defer cancel()
		if err := a.cl.RecordGaps(ctx, closed, retracted); err != nil {
			a.log.Warn("cannot commit gaps to the site's history; trying again", "gaps", len(closed), "retracted", len(retracted), "error", err)
		}
	}()
}

// siteGaps is the site's gap history of a camera ("" for every camera),
// oldest first: the committed gaps, the closed ones this agent observed
// that are not committed yet (the site has no master, or the commit is
// under way), and the gaps open now.
func (a *Agent) siteGaps(camera string) []api.Gap {
	out := a.cl.Gaps(camera)
	committed := len(out)
	for _, g := range a.gaps.unreported(a.cl.Gaps, time.Now()) {
		if camera == "" || g.Camera == camera {
			if !slices.ContainsFunc(out[:committed], func(c api.Gap) bool { return cluster.Overlaps(c, g) }) {
				out = append(out, g)
			}
		}
	}
	out = append(out, a.gaps.openGaps(camera)...)
	slices.SortStableFunc(out, func(x, y api.Gap) int { return x.Start.Compare(y.Start) })
	return out
}

// lastGap is a camera's gap open now, else the last of its history (the
// committed one, or a newer one this agent observed that is not committed
// yet).
func (a *Agent) lastGap(camera string) *api.Gap {
	if g := a.gaps.openGap(camera); g != nil {
		return g
	}
	last, ok := a.cl.LastGap(camera)
	if u, seen := a.gaps.lastUnconfirmed(camera); seen && (!ok || u.Start.After(last.Start) && !cluster.Overlaps(u, last)) {
		last, ok = u, true
	}
	if !ok {
		return nil
	}
	return &last
}
