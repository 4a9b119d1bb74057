package agent

import (
	"fmt"
	"strings"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// publishView is the stage that publishes the pass's view.
//
// In: the view, whether it is the same as the previous one.
// Out: a.view, read by the API (/v1/state caches its answer per view
// generation); the console woken when the view changed.
func (a *Agent) publishView(v view, same bool) {
	a.mu.Lock()
	a.view = v
	if !same {
		a.console.wake()
	}
	a.mu.Unlock()
}

// publishChanges is the stage that tells what a rerun of the assignment
// changed.
//
// In: the previous view and this pass's.
// Out: camera and takeover events; the assignment's metrics.
func (a *Agent) publishChanges(prev, v view) {
	a.diffEvents(prev, v)
	a.updateMetrics(v)
}

// diffEvents raises events for what changed for this server and for the
// site's cameras since the previous pass. Server health and master changes
// are the cluster's events, session states the recorder's.
func (a *Agent) diffEvents(prev, cur view) {
	was := map[string]bool{}
	for _, c := range prev.mine {
		was[c] = true
	}
	for _, c := range cur.mine {
		if was[c] {
			delete(was, c)
			continue
		}
		role := roleOf(cur.result, c, a.cfg.Server)
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventCameraAssigned, Camera: c,
			Message: fmt.Sprintf("recording %s as %s (%s)", c, role, cur.result.Cameras[c].Reason)})
	}
	for c := range was {
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventCameraReleased, Camera: c, Message: fmt.Sprintf("no longer recording %s", c)})
	}
	if len(cur.warm) > 0 && len(prev.warm) == 0 {
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventTakeoverReady,
			Message: fmt.Sprintf("%s not answering: %d cameras are connected here and held in memory, to be recorded at once if it fails",
				strings.Join(cur.failing, ", "), len(cur.warm))})
	}
	for name, c := range cur.result.Cameras {
		old, ok := prev.result.Cameras[name]
		if ok && old.State == c.State {
			continue
		}
		if !ok && c.State == api.CameraRecording {
			continue
		}
		sev := spec.SeverityInfo
		switch c.State {
		case api.CameraDark, api.CameraUncovered:
			sev = spec.SeverityError
		case api.CameraCovered:
			sev = spec.SeverityWarning
		}
		a.emit(api.Event{Severity: sev, Kind: spec.EventAssignmentPrefix + c.State, Camera: name, Server: a.cfg.Server,
			Message: fmt.Sprintf("%s is %s: %s", name, c.State, c.Reason)})
	}
}

func roleOf(r assign.Result, camera, server string) string {
	for _, rec := range r.Cameras[camera].Recorders {
		if rec.Server == server {
			return rec.Role
		}
	}
	return ""
}

func (a *Agent) updateMetrics(v view) {
	a.metrics.assigned.Set(float64(len(v.mine)))
	a.metrics.servers.Reset()
	for _, h := range v.health {
		a.metrics.servers.WithLabelValues(h.Health).Inc()
	}
	a.metrics.cameras.Reset()
	for _, c := range v.result.Cameras {
		a.metrics.cameras.WithLabelValues(c.State).Inc()
	}
}
