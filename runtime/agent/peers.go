package agent

import (
	"context"
	"slices"
	"sync"
	"time"
)

// askPeers calls ask for every peer (name to API address) in parallel,
// each within timeout, and returns the names of those whose ask failed,
// sorted. ask runs concurrently: it guards what it shares.
func (a *Agent) askPeers(ctx context.Context, what string, peers map[string]string, timeout time.Duration, ask func(ctx context.Context, name, addr string) error) []string {
	var mu sync.Mutex
	var silent []string
	var wg sync.WaitGroup
	for name, addr := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			if err := ask(ctx, name, addr); err != nil {
				a.log.Debug("a peer did not answer", "what", what, "peer", name, "err", err)
				mu.Lock()
				silent = append(silent, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(silent)
	return silent
}
