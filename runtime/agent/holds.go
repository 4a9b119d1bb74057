package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// handleHoldFootage answers POST /v1/holds/footage: the footage each hold
// of the request covers, on this server (local) or on every live server of
// the site, asked in parallel within peerHistoryTimeout. The planner shows
// it with each hold.
func (a *Agent) handleHoldFootage(w http.ResponseWriter, r *http.Request) {
	var req api.HoldFootageRequest
	body, ok := readBody(w, r, maxBody)
	if !ok {
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("the body is not a hold footage request: %v", err)})
		return
	}
	for i, h := range req.Holds {
		if h == nil || h.Name == "" || !h.To.After(h.From) {
			writeError(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("hold %d of the request has no name or no period (to after from)", i+1)})
			return
		}
	}
	out := api.HoldFootage{Footage: a.localHeld(req.Holds)}
	if !req.Local {
		peers := a.livePeers(&out.Unanswered)
		more, unanswered := a.peerHeld(r.Context(), peers, req.Holds)
		out.Footage = append(out.Footage, more...)
		out.Unanswered = append(out.Unanswered, unanswered...)
		slices.Sort(out.Unanswered)
	}
	slices.SortFunc(out.Footage, func(x, y api.HeldFootage) int {
		return strings.Compare(x.Hold+"\x00"+x.Server, y.Hold+"\x00"+y.Server)
	})
	writeJSON(w, http.StatusOK, out)
}

// localHeld is this server's part: nothing on a server that records
// nothing.
func (a *Agent) localHeld(holds []*spec.Hold) []api.HeldFootage {
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	if rec == nil {
		return nil
	}
	var out []api.HeldFootage
	for _, f := range rec.store.Footage(holds) {
		if f.Segments == 0 {
			continue
		}
		out = append(out, api.HeldFootage{Hold: f.Hold, Server: a.cfg.Server, Cameras: f.Cameras,
			Segments: f.Segments, Bytes: f.Bytes, First: f.First, Last: f.Last})
	}
	return out
}

// peerHeld asks every peer for its part in parallel, each within
// peerHistoryTimeout, and returns the answers and the names of the silent.
func (a *Agent) peerHeld(ctx context.Context, peers map[string]string, holds []*spec.Hold) ([]api.HeldFootage, []string) {
	var mu sync.Mutex
	var out []api.HeldFootage
	silent := a.askPeers(ctx, "hold footage", peers, peerHistoryTimeout, func(ctx context.Context, name, addr string) error {
		f, err := a.peerClient(addr).HoldFootage(ctx, api.HoldFootageRequest{Holds: holds, Local: true})
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, x := range f.Footage {
			x.Server = name // a peer answers for itself only
			out = append(out, x)
		}
		return nil
	})
	return out, silent
}

// recordingHolds lists the active holds of spec that keep part of a
// camera's footage from start to end, for the recordings listing.
func recordingHolds(spec *spec.Site, camera string, start, end, now time.Time) []api.RecordingHold {
	out := []api.RecordingHold{}
	if spec == nil {
		return out
	}
	for _, h := range spec.Holds {
		if h.Active(now) && h.MatchesCamera(camera) && h.Overlaps(start, end) {
			out = append(out, api.RecordingHold{Name: h.Name, Start: h.From, End: h.To, Until: h.Until, Reason: h.Reason})
		}
	}
	return out
}
