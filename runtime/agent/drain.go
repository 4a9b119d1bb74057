package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/assign"
	"vigil/runtime/cluster"

	"vigil/hcl/spec"
)

// A drain hands a server's cameras away without losing a frame: the
// assignment treats the server as draining (assign.Member.Draining), so its
// cameras go to their covers while it keeps recording each of them until
// the cover runs it (a make-before-break handover, as for failback). Two
// things drain a server: vigil drain, committed through the master so that
// every agent agrees (cluster.State.Drains), and a planned stop (Close),
// which needs no quorum: the stopping agent gossips that it is leaving and
// waits for its cameras to be taken over before it leaves the site.

// handOverTimeout bounds how long Close waits for the site to take this
// server's cameras over (a connection and a key frame each, normally).
const handOverTimeout = 30 * time.Second

// handOver makes this server draining and waits until no camera it records
// waits for a new recorder, or handOverTimeout. Cameras nobody else can
// take (locked, no room) are not waited for.
func (a *Agent) handOver() {
	a.mu.Lock()
	gen, hasSpec := a.view.gen, a.view.spec() != nil
	a.mu.Unlock()
	if !hasSpec {
		return
	}
	a.leaving.Store(true)
	a.poke()
	deadline := time.Now().Add(handOverTimeout)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		a.mu.Lock()
		v := a.view
		a.mu.Unlock()
		// The view must come from a pass that knew about the stop.
		if v.gen != gen && v.input.Members[a.cfg.Server].Draining {
			waiting := a.handingOver(v)
			if len(waiting) == 0 {
				a.log.Info("cameras handed over; leaving the site")
				return
			}
			if time.Now().After(deadline) {
				a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventServerStopTimeout,
					Message: fmt.Sprintf("stopping although %d cameras were not taken over within %s: %v", len(waiting), handOverTimeout, waiting)})
				return
			}
		} else if time.Now().After(deadline) {
			return
		}
		<-t.C
	}
}

// handingOver lists the cameras this server records only until another
// server runs them (role failback in v's assignment) while its own
// session records them: their frames would be lost if it stopped now.
func (a *Agent) handingOver(v view) []string {
	own := v.statuses[a.cfg.Server]
	if own == nil {
		return nil
	}
	running := own.running()
	var out []string
	for name, c := range v.result.Cameras {
		if !running[name] {
			continue
		}
		for _, r := range c.Recorders {
			if r.Server == a.cfg.Server && r.Role == assign.RoleFailback {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// drainStaying forecasts the cameras a drain of server leaves on it: the
// assignment of the last pass, rerun with server draining.
func drainStaying(in assign.Input, server string) []api.DrainStay {
	if in.Spec == nil {
		return nil
	}
	in.Members = maps.Clone(in.Members)
	m := in.Members[server]
	m.Draining = true
	in.Members[server] = m
	res := assign.Assign(in)
	var out []api.DrainStay
	for _, c := range in.Spec.Cameras {
		d := res.Cameras[c.Name]
		if len(d.Recorders) > 0 && d.Recorders[0].Server == server {
			why := d.Reason
			if c.Locked {
				why = "locked to " + server
			}
			out = append(out, api.DrainStay{Camera: c.Name, Reason: why})
		}
	}
	slices.SortFunc(out, func(x, y api.DrainStay) int { return strings.Compare(x.Camera, y.Camera) })
	return out
}

// handleDrain serves POST /v1/drain: the master commits the drain (or its
// undo); other agents forward it.
func (a *Agent) handleDrain(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, 1<<20)
	if !ok {
		return
	}
	var req api.DrainRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Server == "" {
		writeError(w, http.StatusBadRequest, api.Error{Error: `the request must name the server to drain: {"server": "NAME", "undo": false}`})
		return
	}
	if !a.cl.IsLeader() {
		a.forward(w, r, body)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := a.cl.SetDrain(ctx, req.Server, !req.Undo); err != nil {
		code := http.StatusInternalServerError
		msg := err.Error()
		switch {
		case errors.Is(err, cluster.ErrUnknownServer):
			code = http.StatusNotFound
		case errors.Is(err, cluster.ErrNoQuorum):
			code, msg = http.StatusServiceUnavailable, a.noQuorumMessage(err)
		}
		writeError(w, code, api.Error{Error: msg})
		return
	}
	a.mu.Lock()
	in := a.view.input
	a.mu.Unlock()
	resp := api.DrainResponse{Server: req.Server, Draining: !req.Undo}
	if req.Undo {
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventServerUndrained, Message: fmt.Sprintf("drain of %s ended: it takes its cameras back", req.Server)})
	} else {
		resp.Staying = drainStaying(in, req.Server)
		msg := fmt.Sprintf("%s drained: its cameras are handed to other servers", req.Server)
		if n := len(resp.Staying); n > 0 {
			msg += fmt.Sprintf("; %d cannot be placed elsewhere and stay", n)
		}
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventServerDraining, Message: msg})
	}
	writeJSON(w, http.StatusOK, resp)
}
