package agent

import (
	"context"

	"vigil/runtime/api"
	"vigil/runtime/cluster"
)

// RecordStats commits daily statistics through this agent's cluster
// (master only), so that tests can give the balancer days of history.
func (a *Agent) RecordStats(ctx context.Context, stats []api.DailyStat) error {
	conv := make([]cluster.DailyStat, len(stats))
	for i, s := range stats {
		conv[i] = cluster.DailyStat(s)
	}
	return a.cl.RecordStats(ctx, conv)
}
