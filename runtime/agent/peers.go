package agent

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"vigil/runtime/api"
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

// peerURL is the base URL of a peer's API at addr ("host:port"). Agents
// speak to each other with peerHTTP, which trusts the site's CA.
func (a *Agent) peerURL(addr string) string { return "https://" + addr }

// peerClient is an API client of the peer at addr, without a token.
func (a *Agent) peerClient(addr string) *api.Client {
	return api.NewClientHTTP(a.peerURL(addr), "", a.peerHTTP)
}

// Client is a client of this agent's own API with token, trusting what
// the agent's peers trust (hot reload, the supervisor, vigil config import).
func (a *Agent) Client(token string) *api.Client {
	return api.NewClientHTTP(a.Addr(), token, a.peerHTTP)
}

// PeerHTTP is the HTTP client this agent calls its peers with: HTTPS
// verified with the site's CA (the network controller asks peers with it).
func (a *Agent) PeerHTTP() *http.Client { return a.peerHTTP }
