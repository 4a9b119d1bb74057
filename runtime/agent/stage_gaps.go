package agent

import "time"

// trackGaps is the stage that tracks the site's recording gaps. Gaps
// depend on the sessions and the assignment, and on time while one waits
// for confirmation (or, on the master, for its commit): it runs when the
// view changed or a gap is pending.
//
// In: the observation (spec, members' Heard, statuses, time), the view's
// result, health, master and statuses, this server's status, whether the
// view is the same.
// Out: the gap tracker's state; gap events; on the master, the commit of
// the site's gaps (reportGaps).
func (a *Agent) trackGaps(obs observation, v *view, own *memberStatus, same bool) {
	if obs.st.Spec == nil || same && !a.gaps.pendingGaps() && !(obs.master == a.cfg.Server && a.gaps.hasUnconfirmed()) {
		return
	}
	heard := make(map[string]time.Time, len(obs.members))
	for name, m := range obs.members {
		heard[name] = m.Heard
	}
	opened, closed, retracted := a.gaps.observe(obs.st.Spec, v.result, v.health, a.sessionsByCamera(own, obs.statuses, v.health, true), heard, obs.now)
	a.reportGaps(v, opened, closed, retracted)
}
