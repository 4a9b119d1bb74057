package agent

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/balance"
	"vigil/runtime/cluster"

	"vigil/hcl/spec"
)

// DefaultBalanceInterval is how often the master runs the storage balancer.
// Moves happen only inside the site's balancing window; outside it a run
// costs one pure computation.
const DefaultBalanceInterval = time.Minute

// BalanceLoop returns the master's storage-balancing loop, to run with
// LeaderLoop: every interval (and once at the start) it computes
// balance.Plan at now() and, when balancing is enabled and the window is
// open, commits the moves as overrides, so that every agent's assignment
// agrees (make-before-break handover is assign's job). Tests pass a fake
// clock to open the window.
func (a *Agent) BalanceLoop(now func() time.Time, interval time.Duration) func(ctx context.Context) {
	return func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			a.balanceOnce(ctx, now())
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}
}

func (a *Agent) balanceOnce(ctx context.Context, now time.Time) {
	r := balance.Plan(a.balanceInput(now, 0))
	if !r.Apply() {
		return
	}
	if err := a.cl.SetOverrides(ctx, r.Overrides); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("cannot commit balancing moves", "err", err)
		}
		return
	}
	for _, m := range r.Report.Moves {
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventBalanceMoved, Camera: m.Camera, Server: m.To,
			Message: fmt.Sprintf("balancing moves camera %s (%s) from %s to %s: %s", m.Camera, balance.FormatRate(m.BytesPerDay), m.From, m.To, m.Reason)})
	}
	a.poke()
}

// balanceInput gathers the balancer's input from the committed state and
// this agent's view of membership.
func (a *Agent) balanceInput(now time.Time, days int) balance.Input {
	st := a.cl.State()
	in := balance.Input{Spec: st.Spec, Overrides: st.Overrides, Now: now, Days: days, Alive: map[string]bool{}}
	a.mu.Lock()
	for name, m := range a.view.health {
		in.Alive[name] = m.Health == api.HealthAlive
	}
	a.mu.Unlock()
	if in.Days <= 0 {
		in.Days = balance.Settings(st.Spec).HistoryDays
	}
	since := now.UTC().AddDate(0, 0, -in.Days).Format(time.DateOnly)
	for _, s := range a.cl.Stats(since) {
		in.Stats = append(in.Stats, api.DailyStat(s))
	}
	return in
}

// handleBalanceReport answers GET /v1/balance/report?days=N: the loads and
// the moves the balancer would make now, whether balancing is enabled or not.
// Every agent answers from its copy of the replicated state.
func (a *Agent) handleBalanceReport(w http.ResponseWriter, r *http.Request) {
	days := 0
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > cluster.StatsRetentionDays {
			writeError(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("days=%q is not a number of days from 1 to %d", s, cluster.StatsRetentionDays)})
			return
		}
		days = n
	}
	writeJSON(w, http.StatusOK, balance.Plan(a.balanceInput(time.Now(), days)).Report)
}
