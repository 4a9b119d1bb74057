// Package alerting turns the site's state into notifications and delivers
// them: Conditions reads the lasting conditions off the master's view of
// the site (api.State, the one owner of health, assignment and recorder
// states), an Evaluator decides, alert by alert, what starts and ends and
// groups it into one message, and Send delivers a message to a notifier
// (webhook, mail, MQTT).
//
// Decisions worth knowing:
//   - One failure is one message: everything an alert has to tell within
//     GroupWait of the first item goes into one notification (a dead server
//     with 50 cameras: server.dead and one takeover.started item listing
//     the 50 cameras), and its ends likewise into one resolved message.
//   - server.back and takeover.finished are the ends of server.dead and
//     takeover.started: an alert that lists them is told about those ends
//     (and tracks the lasting condition silently if it does not list it).
//   - A condition is due once it lasted the alert's `for`; one that ends
//     before sends nothing.
package alerting

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// ClockSkewBound is the clock offset past which a server is skewed.
const ClockSkewBound = time.Second

// Since remembers when conditions without a time of their own (storage
// full, clock skew) were first seen, so that `for` applies to them too.
type Since map[string]time.Time

func (s Since) at(key string, now time.Time) time.Time {
	if t, ok := s[key]; ok {
		return t
	}
	s[key] = now
	return now
}

// Conditions lists the lasting conditions of the site in st (the master's
// view), as items in state "started". seen keeps the first-seen times of
// conditions that carry none; entries of conditions that ended are dropped.
func Conditions(st *api.State, now time.Time, seen Since) []api.AlertItem {
	if st.Spec == nil {
		return nil
	}
	var out []api.AlertItem
	live := map[string]bool{}
	since := func(key string) time.Time {
		live[key] = true
		return seen.at(key, now)
	}
	for _, ss := range st.Servers {
		if ss.Kind == spec.KindVirtual {
			continue
		}
		if ss.Health == api.HealthDead {
			out = append(out, api.AlertItem{Condition: spec.EventServerDead, Server: ss.Name, Since: ss.Since,
				Message: fmt.Sprintf("server %s is dead (no answer to keepalives)", ss.Name)})
			if moved := takenOver(st, ss.Name); len(moved) > 0 {
				out = append(out, api.AlertItem{Condition: spec.EventTakeoverStarted, Server: ss.Name, Since: ss.Since, Cameras: moved,
					Message: fmt.Sprintf("%d cameras of %s are recorded by other servers", len(moved), ss.Name)})
			}
		}
		if ss.Health != api.HealthAlive {
			continue
		}
		sv := st.Spec.Server(ss.Name)
		for i, vol := range ss.Storage {
			if vol.Full {
				key := "storage.full/" + ss.Name + "/" + vol.Path
				out = append(out, api.AlertItem{Condition: spec.EventStorageFull, Server: ss.Name, Since: since(key),
					Message: fmt.Sprintf("storage %s of %s is full", vol.Path, ss.Name)})
			}
			if vol.RetentionShort {
				key := "storage.retention/" + ss.Name + "/" + vol.Path
				out = append(out, api.AlertItem{Condition: spec.EventStorageRetention, Server: ss.Name, Since: since(key),
					Message: fmt.Sprintf("storage %s of %s cannot keep its max_age: recordings younger were deleted for room", vol.Path, ss.Name)})
			}
			if sv != nil && i < len(sv.Storage) && underFloor(sv.Storage[i], vol) {
				key := "storage.floor/" + ss.Name + "/" + vol.Path
				out = append(out, api.AlertItem{Condition: spec.EventStorageFloor, Server: ss.Name, Since: since(key),
					Message: fmt.Sprintf("storage %s of %s is under its free-space floor (%s free)", vol.Path, ss.Name, spec.FormatSize(float64(vol.FreeBytes)))})
			}
		}
		if ss.ClockOffsetKnown && math.Abs(ss.ClockOffsetMS) > float64(ClockSkewBound.Milliseconds()) {
			key := "clock.skew/" + ss.Name
			out = append(out, api.AlertItem{Condition: spec.EventClockSkew, Server: ss.Name, Since: since(key),
				Message: fmt.Sprintf("the clock of %s is %.0f ms off the master's (bound %s)", ss.Name, ss.ClockOffsetMS, ClockSkewBound)})
		}
	}
	for _, cs := range st.Cameras {
		if g := cs.LastGap; g != nil && g.End.IsZero() {
			out = append(out, api.AlertItem{Condition: spec.EventGapOpen, Camera: cs.Name, Server: cs.Server, Since: g.Start,
				Message: fmt.Sprintf("%s is not recorded anywhere in the site (%s)", cs.Name, g.Cause)})
		}
		if cs.State != api.CameraFailing {
			continue
		}
		cond, since, why := spec.EventCameraUnreachable, time.Time{}, ""
		for _, r := range cs.Recorders {
			if r.State != "failing" {
				continue
			}
			if r.Cause == api.CauseStall {
				cond = spec.EventCameraStalled
			}
			if since.IsZero() || r.Since.Before(since) {
				since, why = r.Since, fmt.Sprintf("%s: %s", r.Server, r.Error)
			}
		}
		out = append(out, api.AlertItem{Condition: cond, Camera: cs.Name, Server: cs.Server, Since: since,
			Message: fmt.Sprintf("%s cannot be recorded (%s)", cs.Name, why)})
	}
	for k := range seen {
		if !live[k] {
			delete(seen, k)
		}
	}
	return out
}

// takenOver lists the cameras of a dead server that others record, as
// "camera → servers".
func takenOver(st *api.State, server string) []string {
	var out []string
	for _, cs := range st.Cameras {
		if cs.Server != server || cs.State != api.CameraCovered {
			continue
		}
		var by []string
		for _, r := range cs.Recorders {
			if r.Server != server && !slices.Contains(by, r.Server) {
				by = append(by, r.Server)
			}
		}
		out = append(out, cs.Name+" → "+strings.Join(by, ", "))
	}
	return out
}

func underFloor(st *spec.Storage, vol api.StorageState) bool {
	if st.MinFree > 0 && vol.FreeBytes < st.MinFree {
		return true
	}
	return st.MinFreePercent > 0 && vol.TotalBytes > 0 && float64(vol.FreeBytes)*100/float64(vol.TotalBytes) < st.MinFreePercent
}
