package agent

import (
	"slices"
	"time"

	"vigil/runtime/assign"
	"vigil/runtime/recorder"
)

// A make-before-break handover (failback, balancing, a drain, a spec
// change) releases this server's recording once the camera's new recorder
// says it records (assign's step 7). That claim can be stale: a recorder
// stays "recording" until its watchdog has seen nothing written for the
// camera's stall timeout, so a new recorder that stopped writing just
// before (seen when a server cut off by a partition returns overloaded)
// would take the camera from a server that still had every frame. So the
// releasing server lingers: it records the camera on for as long as the
// claim may be stale (the stall timeout, at least two parts, and a second
// for the gossip); if the new recorder fails meanwhile, step 7 gives the
// camera back to this server, whose session never stopped.

// lingerFor is how long a released camera is still recorded here.
func lingerFor(c recorder.Camera) time.Duration {
	stall := c.StallTimeout
	if stall <= 0 {
		stall = recorder.DefaultStallTimeout
	}
	return max(stall, 2*time.Second) + time.Second
}

// withLinger returns the cameras this server records: those the
// assignment gives it (mine) and those it handed over lately that it still
// records (it records them now, and the camera has another recorder).
// A server that is leaving the site does not linger: it waited for the
// new recorders before leaving.
func (a *Agent) withLinger(prev, mine []string, res assign.Result, running map[string]bool, now time.Time) []string {
	if a.leaving.Load() {
		clear(a.linger)
		return mine
	}
	if a.linger == nil {
		a.linger = map[string]time.Time{}
	}
	for _, c := range prev {
		if slices.Contains(mine, c) || !running[c] || len(res.Cameras[c].Recorders) == 0 {
			continue
		}
		if _, ok := a.linger[c]; !ok {
			if cam, ok := a.idx.cameras[c]; ok {
				a.linger[c] = now.Add(lingerFor(cam))
			}
		}
	}
	out := slices.Clone(mine)
	for c, until := range a.linger {
		switch {
		case slices.Contains(mine, c) || !now.Before(until) || len(res.Cameras[c].Recorders) == 0:
			delete(a.linger, c)
		default:
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// lingerDue tells whether a lingering camera's time is up.
func (a *Agent) lingerDue(now time.Time) bool {
	for _, until := range a.linger {
		if !now.Before(until) {
			return true
		}
	}
	return false
}
