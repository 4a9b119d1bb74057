package agent

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/eventlog"
)

// Site-wide event queries: GET /v1/events with query parameters answers
// from this agent's history and its live peers', merged by time.
const (
	// peerHistoryTimeout bounds how long a query waits for a peer's part;
	// a peer that does not answer in time is named in UnansweredHeader.
	peerHistoryTimeout = 3 * time.Second
	// defaultEventLimit is how many of the newest matching events a
	// query returns without a limit.
	defaultEventLimit = 10000
)

// eventQuery is a parsed GET /v1/events?... request.
type eventQuery struct {
	filter api.EventFilter
	follow bool
	local  bool
}

func parseEventQuery(r *http.Request, now time.Time) (eventQuery, error) {
	q := r.URL.Query()
	var eq eventQuery
	var err error
	if eq.filter.Since, err = api.ParseTime(q.Get("since"), now); err != nil {
		return eq, fmt.Errorf("since: %w", err)
	}
	if eq.filter.Until, err = api.ParseTime(q.Get("until"), now); err != nil {
		return eq, fmt.Errorf("until: %w", err)
	}
	eq.filter.Kind, eq.filter.Server, eq.filter.Camera = q.Get("kind"), q.Get("server"), q.Get("camera")
	if !api.ValidKindPattern(eq.filter.Kind) {
		return eq, fmt.Errorf("kind=%q is not a valid pattern (e.g. camera.*)", eq.filter.Kind)
	}
	eq.filter.Limit = defaultEventLimit
	if l := q.Get("limit"); l != "" {
		if eq.filter.Limit, err = strconv.Atoi(l); err != nil || eq.filter.Limit <= 0 {
			return eq, fmt.Errorf("limit=%q is not a positive number", l)
		}
	}
	eq.follow, eq.local = q.Get("follow") == "1", q.Get("local") == "1"
	return eq, nil
}

// handleEventHistory answers a query: history first, then, with follow,
// the new events of this agent and (unless local) of its peers.
func (a *Agent) handleEventHistory(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	eq, err := parseEventQuery(r, start)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	flusher, _ := w.(http.Flusher)
	var live <-chan api.Event
	if eq.follow {
		if flusher == nil {
			writeError(w, http.StatusInternalServerError, api.Error{Error: "streaming unsupported"})
			return
		}
		// Subscribe before reading the history, so that nothing falls
		// between the two; what falls in both is sent once (seen).
		_, ch, cancel := a.events.subscribe()
		defer cancel()
		live = ch
	}
	evs := a.history.Query(eq.filter)
	var unanswered []string
	peers := map[string]string{}
	if !eq.local {
		peers = a.livePeers(&unanswered)
		var part []api.Event
		part, unanswered = a.peerHistory(r.Context(), peers, eq.filter, unanswered)
		evs = append(evs, part...)
		api.SortEvents(evs)
		if len(evs) > eq.filter.Limit {
			evs = evs[len(evs)-eq.filter.Limit:]
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	if len(unanswered) > 0 {
		w.Header().Set(api.UnansweredHeader, strings.Join(unanswered, ","))
	}
	w.WriteHeader(http.StatusOK)
	send := a.eventSender(w, r)
	seen := map[string]bool{}
	for _, ev := range evs {
		send(ev)
		if !ev.Time.Before(start) {
			seen[eventKey(ev)] = true
		}
	}
	if !eq.follow {
		return
	}
	flusher.Flush()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	merged := make(chan api.Event, 256)
	if !eq.local {
		a.followPeers(ctx, peers, eq.filter, start, merged)
	}
	for {
		var ev api.Event
		select {
		case <-ctx.Done():
			return
		case <-a.ctx.Done():
			return
		case ev = <-live:
		case ev = <-merged:
		}
		if !eq.filter.Match(ev) || seen[eventKey(ev)] {
			continue
		}
		if send(ev) != nil {
			return
		}
		flusher.Flush()
	}
}

func eventKey(ev api.Event) string {
	return ev.Time.UTC().Format(time.RFC3339Nano) + "\x00" + ev.Kind + "\x00" + ev.Server + "\x00" + ev.Observer + "\x00" + ev.Camera + "\x00" + ev.Message
}

// livePeers maps the alive servers of the spec, other than this one, to
// their API addresses; the others are added to unanswered.
func (a *Agent) livePeers(unanswered *[]string) map[string]string {
	a.mu.Lock()
	v := a.view
	a.mu.Unlock()
	out := map[string]string{}
	if v.spec() == nil {
		return out
	}
	for _, s := range v.spec().Servers {
		if s.Name == a.cfg.Server || s.Kind == spec.KindVirtual {
			continue
		}
		if m, ok := v.members[s.Name]; ok && m.Health == api.HealthAlive {
			out[s.Name] = m.APIAddr()
		} else {
			*unanswered = append(*unanswered, s.Name)
		}
	}
	return out
}

// peerHistory asks every peer for its events in parallel, each within
// peerHistoryTimeout, and returns what they answered and the names of
// those that did not (added to unanswered, sorted).
func (a *Agent) peerHistory(ctx context.Context, peers map[string]string, f api.EventFilter, unanswered []string) ([]api.Event, []string) {
	var mu sync.Mutex
	var out []api.Event
	silent := a.askPeers(ctx, "event history", peers, peerHistoryTimeout, func(ctx context.Context, _, addr string) error {
		evs, err := a.peerEvents(ctx, addr, f, false)
		if err != nil {
			return err
		}
		var got []api.Event
		for ev := range evs {
			got = append(got, ev)
		}
		// A stream cut by the timeout is an incomplete answer.
		if err := ctx.Err(); err != nil {
			return err
		}
		mu.Lock()
		out = append(out, got...)
		mu.Unlock()
		return nil
	})
	unanswered = append(unanswered, silent...)
	slices.Sort(unanswered)
	return out, unanswered
}

// followPeers streams the new events of every peer into out until ctx
// ends; a peer that cannot be followed is left out.
func (a *Agent) followPeers(ctx context.Context, peers map[string]string, f api.EventFilter, since time.Time, out chan<- api.Event) {
	f.Since = since
	for _, addr := range peers {
		go func() {
			evs, err := a.peerEvents(ctx, addr, f, true)
			if err != nil {
				return
			}
			for ev := range evs {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
}

func (a *Agent) peerEvents(ctx context.Context, addr string, f api.EventFilter, follow bool) (<-chan api.Event, error) {
	s, err := a.peerClient(addr).EventHistory(ctx, f, api.EventOptions{Follow: follow, Local: true})
	if err != nil {
		return nil, err
	}
	return s.Events, nil
}

// eventRetentionFile remembers the site's event_retention across restarts,
// so that a start before the spec is read prunes no history the site keeps.
const eventRetentionFile = "event_retention"

func savedEventRetention(dataDir string) time.Duration {
	return savedDuration(dataDir, eventRetentionFile, eventlog.DefaultRetention)
}

// eventRetentionChanged applies and saves a committed event_retention (0:
// the default).
func (a *Agent) eventRetentionChanged(d time.Duration) {
	if d <= 0 {
		d = eventlog.DefaultRetention
	}
	a.history.SetRetention(d)
	a.saveDuration(eventRetentionFile, "event retention", d)
}
