package agent

import "time"

// SetAuditWindow shortens the minute over which the agent aggregates and
// bounds its audit entries.
func (a *Agent) SetAuditWindow(d time.Duration) {
	a.audit.mu.Lock()
	a.audit.windowLen = d
	a.audit.mu.Unlock()
}
