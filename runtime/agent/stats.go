package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/cluster"
)

// DefaultStatsInterval is how often the master gathers the servers' daily
// recorded bytes into the replicated state (the input of balancing).
const DefaultStatsInterval = 5 * time.Minute

// statsDays is how many UTC days back each gathering refreshes: today's
// running total and yesterday's final one.
const statsDays = 2

// gatherStats runs on the master: every StatsInterval it asks every live
// server of the spec for its recent daily bytes and commits them.
func (a *Agent) gatherStats(ctx context.Context) {
	t := time.NewTicker(a.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stats := a.collectStats(ctx)
		if len(stats) == 0 {
			continue
		}
		if err := a.cl.RecordStats(ctx, stats); err != nil && ctx.Err() == nil {
			a.log.Warn("cannot commit recording statistics", "err", err)
		}
	}
}

func statsSince(now time.Time) string {
	return now.UTC().AddDate(0, 0, -(statsDays - 1)).Format(time.DateOnly)
}

// collectStats gathers the daily bytes of this server and of every other
// live server of the spec; a server that does not answer is skipped until
// the next round.
func (a *Agent) collectStats(ctx context.Context) []cluster.DailyStat {
	since := statsSince(time.Now())
	a.mu.Lock()
	v := a.view
	a.mu.Unlock()
	if v.spec() == nil {
		return nil
	}
	var out []cluster.DailyStat
	for _, s := range a.localStats(since) {
		out = append(out, cluster.DailyStat(s))
	}
	for _, s := range v.spec().Servers {
		m, ok := v.members[s.Name]
		if s.Name == a.cfg.Server || !ok || m.Health != api.HealthAlive {
			continue
		}
		remote, err := a.fetchLocalStats(ctx, m.APIAddr(), since)
		if err != nil {
			a.log.Debug("no recording statistics from a server", "from", s.Name, "err", err)
			continue
		}
		for _, st := range remote {
			if st.Server == s.Name { // a server speaks for itself only
				out = append(out, cluster.DailyStat(st))
			}
		}
	}
	return out
}

// localStats are this server's daily bytes per camera since a date.
func (a *Agent) localStats(since string) []api.DailyStat {
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	if rec == nil {
		return nil
	}
	var out []api.DailyStat
	for _, cam := range rec.store.Cameras() {
		for date, b := range rec.store.DailyBytes(cam) {
			if date >= since {
				out = append(out, api.DailyStat{Server: a.cfg.Server, Camera: cam, Date: date, Bytes: b})
			}
		}
	}
	sortStats(out)
	return out
}

func sortStats(s []api.DailyStat) {
	slices.SortFunc(s, func(x, y api.DailyStat) int {
		if x.Date != y.Date {
			return cmp.Compare(x.Date, y.Date)
		}
		if x.Camera != y.Camera {
			return cmp.Compare(x.Camera, y.Camera)
		}
		return cmp.Compare(x.Server, y.Server)
	})
}

func (a *Agent) fetchLocalStats(ctx context.Context, addr, since string) ([]api.DailyStat, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.peerURL(addr)+"/v1/stats/local?since="+since, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.peerHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", addr, resp.Status)
	}
	var out []api.DailyStat
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func (a *Agent) handleStats(w http.ResponseWriter, r *http.Request) {
	since := r.URL.Query().Get("since")
	if since != "" {
		if _, err := time.Parse(time.DateOnly, since); err != nil {
			writeError(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("since=%q is not a date YYYY-MM-DD", since)})
			return
		}
	}
	out := []api.DailyStat{}
	for _, s := range a.cl.Stats(since) {
		out = append(out, api.DailyStat(s))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) handleLocalStats(w http.ResponseWriter, r *http.Request) {
	since := r.URL.Query().Get("since")
	out := a.localStats(since)
	if out == nil {
		out = []api.DailyStat{}
	}
	writeJSON(w, http.StatusOK, out)
}
