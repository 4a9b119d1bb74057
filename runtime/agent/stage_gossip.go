package agent

import (
	"encoding/json"
	"slices"
	"time"
)

// gossipOwn is the stage that gossips this server's status.
//
// In: own status (from the recorder, or waiting), the previous view's
// status of this server, the observation's time; usage, viewers, leaving,
// the gaps this server saw that the site's history lacks.
// Out: the gossiped status (the previous one's pointer when nothing
// changed, so that view.sameAs sees no change), also set in obs.statuses.
func (a *Agent) gossipOwn(own *memberStatus, prev view, obs observation) *memberStatus {
	a.fillUsage(own, obs.now)
	own.Viewers = int(a.console.viewers.Load())
	own.Leaving = a.leaving.Load()
	if obs.st.Spec != nil {
		own.Gaps = a.gaps.unreported(a.cl.Gaps, obs.now)
	}
	if !a.gossip(own) && prev.statuses[a.cfg.Server] != nil {
		own = prev.statuses[a.cfg.Server]
	}
	obs.statuses[a.cfg.Server] = own
	return own
}

// gossip publishes this agent's status when it changed, and tells whether
// it did.
func (a *Agent) gossip(ms *memberStatus) bool {
	b, err := json.Marshal(ms)
	if err != nil {
		return false
	}
	if slices.Equal(b, a.lastSent) {
		return false
	}
	a.lastSent = b
	a.cl.SetStatus(b)
	return true
}

// SetClockOffset gives the agent what measures this server's clock offset
// to the master (the master's clock minus this server's; ok false while
// unknown), e.g. runtime/clock's Measurer.Offset. The agent gossips it in
// its status, and /v1/state shows it for every server.
func (a *Agent) SetClockOffset(offset func() (time.Duration, bool)) {
	a.mu.Lock()
	a.clockOffset = offset
	a.mu.Unlock()
}

// fillUsage adds CPU, memory, the version and the clock offset; CPU and memory
// are sampled every few seconds so that the gossiped status does not change
// on every pass.
func (a *Agent) fillUsage(ms *memberStatus, now time.Time) {
	a.mu.Lock()
	offset := a.clockOffset
	a.mu.Unlock()
	// Called without a.mu: the measurer reads the agent's state.
	if offset != nil {
		if d, ok := offset(); ok {
			v := d.Round(time.Millisecond).Milliseconds()
			ms.ClockMS = &v
		}
	}
	if now.Sub(a.usageAt) >= 5*time.Second {
		a.usageAt = now
		a.cpu, a.rss = a.usage.sample()
	}
	ms.CPU = float64(int(a.cpu*10)) / 10
	ms.Memory = a.rss >> 20 << 20
	ms.Version = a.cfg.Version
}
