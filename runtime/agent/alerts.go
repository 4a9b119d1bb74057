package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"vigil/hcl"
	"vigil/runtime/alerting"
	"vigil/runtime/api"
	"vigil/runtime/cluster"

	"vigil/hcl/spec"
)

// Alerting runs on the master (a leader loop): it evaluates the alerts of
// the committed spec against the master's view of the site, commits what
// starts and ends and the notifications to send to the replicated state,
// and delivers the outbox, one worker per notifier, so that a notifier
// that is down delays only itself and never the agent.
const (
	alertInterval = 250 * time.Millisecond
	// Delivery retries back off from retryMin to retryMax.
	retryMin = time.Second
	retryMax = time.Minute
)

// oneOffReplay is how far back a new master takes one-off events from its
// backlog.
const oneOffReplay = 5 * time.Second

// oneOffKinds are the events on the master that are alert conditions of
// their own (one-off).
var oneOffKinds = []string{spec.EventConfigApplied, spec.EventConfigInvalid}

func (a *Agent) alertLoop(ctx context.Context) {
	ev := alerting.NewEvaluator(a.cfg.Site)
	seen := alerting.Since{}
	backlog, events, cancel := a.events.subscribe()
	defer cancel()
	// The apply that made this server the master (a site's first apply)
	// raises its event before this loop starts: one-offs of the last
	// moments are taken from the backlog. (A server that was master
	// moments ago could tell one again: the price of not losing it.)
	start := time.Now()
	oneOff := func(e api.Event) {
		if spec := a.cl.State().Spec; spec != nil && slices.Contains(oneOffKinds, e.Kind) {
			ev.Happened(spec, api.AlertItem{Condition: e.Kind, Server: e.Server, Camera: e.Camera, Since: e.Time, Message: e.Message})
		}
	}
	for _, e := range backlog {
		if start.Sub(e.Time) < oneOffReplay {
			oneOff(e)
		}
	}
	workers := map[string]chan struct{}{} // notifier → wake-up
	var st *api.State
	var stGen uint64
	tick := time.NewTicker(alertInterval)
	defer tick.Stop()
	defer a.metrics.alertPending.Reset() // another server delivers now
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-events:
			oneOff(e)
			continue
		case <-tick.C:
		}
		cs := a.cl.State()
		if cs.Spec == nil {
			continue
		}
		// The state is built again only when the view changed: on a
		// large site it costs more than the evaluation.
		a.mu.Lock()
		gen := a.view.gen
		a.mu.Unlock()
		if st == nil || gen != stGen {
			s := a.State()
			st, stGen = &s, gen
		}
		now := time.Now()
		commit := ev.Step(cs.Spec, alerting.Conditions(st, now, seen), a.cl.Alerts().Incidents, now)
		if len(commit.Started)+len(commit.Ended)+len(commit.Send) > 0 {
			if err := a.cl.CommitAlerts(ctx, commit); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("cannot commit alert notifications; evaluated again shortly", "err", err)
				}
				continue
			}
			ev.Committed()
			for _, o := range commit.Send {
				a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventAlertPrefix + o.Notification.Status,
					Message: fmt.Sprintf("alert %s %s: %s (to %s, notification %s)", o.Notification.Alert, o.Notification.Status, o.Notification.Summary, strings.Join(o.Pending, ", "), o.Notification.ID)})
			}
		}
		a.metrics.alertPending.Reset()
		for _, o := range a.cl.Alerts().Outbox {
			for _, name := range o.Pending {
				a.metrics.alertPending.WithLabelValues(name).Inc()
				w, ok := workers[name]
				if !ok {
					w = make(chan struct{}, 1)
					workers[name] = w
					go a.deliver(ctx, name, w)
				}
				select {
				case w <- struct{}{}:
				default:
				}
			}
		}
	}
}

// deliver sends the outbox's notifications for one notifier, oldest
// first, until ctx ends (this server stops being the master).
func (a *Agent) deliver(ctx context.Context, notifier string, wake <-chan struct{}) {
	attempts := 0
	for {
		o, ok := nextFor(a.cl.Alerts().Outbox, notifier)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				continue
			}
		}
		n := o.Notification
		site := a.cl.State().Spec
		nf := site.Notifier(notifier)
		if nf == nil {
			a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventAlertDropped,
				Message: fmt.Sprintf("notification %s of alert %s not sent to %s: the notifier is no longer configured", n.ID, n.Alert, notifier)})
		} else {
			answer, err := alerting.Send(ctx, nf, n)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				attempts++
				a.metrics.alertDeliveries.WithLabelValues(notifier, "failed").Inc()
				wait := min(retryMin<<min(attempts-1, 10), retryMax)
				a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventAlertDeliveryFailed,
					Message: fmt.Sprintf("notification %s of alert %s to %s (%s) failed (attempt %d): %v; retrying in %s", n.ID, n.Alert, notifier, nf, attempts, err, wait)})
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				continue
			}
			attempts = 0
			a.metrics.alertDeliveries.WithLabelValues(notifier, "ok").Inc()
			a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventAlertDelivered,
				Message: fmt.Sprintf("notification %s of alert %s delivered to %s (%s): %s", n.ID, n.Alert, notifier, nf, answer)})
		}
		// Until the delivery is committed, the notification stays in the
		// outbox; should this server stop being the master first, the next
		// one sends it again, with the same ID.
		for err := a.cl.AlertDelivered(ctx, n.ID, notifier); err != nil; err = a.cl.AlertDelivered(ctx, n.ID, notifier) {
			a.log.Warn("cannot record a delivered notification; retrying", "id", n.ID, "notifier", notifier, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryMin):
			}
		}
	}
}

func nextFor(outbox []cluster.Outgoing, notifier string) (cluster.Outgoing, bool) {
	for _, o := range outbox {
		if slices.Contains(o.Pending, notifier) {
			return o, true
		}
	}
	return cluster.Outgoing{}, false
}

// handleAlertTest sends a test notification to a notifier of the committed
// spec and answers with what its server said.
func (a *Agent) handleAlertTest(w http.ResponseWriter, r *http.Request) {
	var req api.AlertTestRequest
	body, ok := readBody(w, r, 1<<20)
	if !ok {
		return
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Notifier == "" {
		writeError(w, http.StatusBadRequest, api.Error{Error: `the request must name a notifier: {"notifier": "NAME"}`})
		return
	}
	site := a.cl.State().Spec
	if site == nil {
		writeError(w, http.StatusNotFound, api.Error{Error: WaitingMessage})
		return
	}
	nf := site.Notifier(req.Notifier)
	if nf == nil {
		var names []string
		for _, n := range site.Notifiers {
			names = append(names, n.Name)
		}
		msg := fmt.Sprintf("site %s has no notifier %q", site.Name, req.Notifier)
		if len(names) == 0 {
			msg += ": it has no notifier blocks"
		} else {
			if near := hcl.Suggest(req.Notifier, names); near != "" {
				msg += fmt.Sprintf(". Did you mean %q?", near)
			}
			msg += " (notifiers: " + strings.Join(names, ", ") + ")"
		}
		writeError(w, http.StatusNotFound, api.Error{Error: msg})
		return
	}
	now := time.Now()
	n := api.Notification{ID: alerting.NewID(), Site: site.Name, Time: now, Status: api.AlertTest,
		Summary: fmt.Sprintf("test message from %s: notifier %s works", a.cfg.Server, nf.Name),
		Items:   []api.AlertItem{{Condition: "test", Server: a.cfg.Server, State: api.ItemHappened, Since: now, Message: "sent by vigil alert test"}}}
	answer, err := alerting.Send(r.Context(), nf, n)
	if err != nil {
		a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventAlertTestFailed, Message: fmt.Sprintf("test notification to %s (%s) failed: %v", nf.Name, nf, err)})
		writeError(w, http.StatusBadGateway, api.Error{Error: fmt.Sprintf("%s (%s): %v", nf.Name, nf, err)})
		return
	}
	a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventAlertTest, Message: fmt.Sprintf("test notification delivered to %s (%s): %s", nf.Name, nf, answer)})
	writeJSON(w, http.StatusOK, api.AlertTestResponse{Notifier: nf.Name, Destination: nf.String(), Answer: answer})
}
