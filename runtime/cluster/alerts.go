package cluster

import (
	"context"
	"slices"

	"vigil/runtime/api"
)

// The alert state replicates what the site has told people: the lasting
// conditions it notified as started (so that a new master neither tells
// them again nor forgets to tell when they end), and the outbox of
// notifications not yet delivered to every notifier (so that a master
// that dies mid-delivery loses nothing; the next one sends again with the
// same idempotency key).
const (
	cmdAlertCommit    = "alert_commit"
	cmdAlertDelivered = "alert_delivered"

	cmdAlertCommitV    = 1
	cmdAlertDeliveredV = 1

	// MaxOutbox bounds the outbox: past it, the oldest notifications are
	// dropped (a notifier down for long must not grow the state forever).
	MaxOutbox = 500
)

// Incident is a lasting condition of an alert that was notified as started.
type Incident struct {
	// Key is unique per alert, condition and subject.
	Key   string        `json:"key"`
	Alert string        `json:"alert"`
	Item  api.AlertItem `json:"item"`
}

// Outgoing is a notification waiting for delivery to some notifiers.
type Outgoing struct {
	Notification api.Notification `json:"notification"`
	// Pending are the notifiers it has not been delivered to.
	Pending []string `json:"pending"`
}

// AlertState is the replicated alert state.
type AlertState struct {
	Incidents map[string]Incident `json:"incidents,omitempty"`
	Outbox    []Outgoing          `json:"outbox,omitempty"`
}

// AlertCommit is one step of alert evaluation, committed at once.
type AlertCommit struct {
	Started []Incident `json:"started,omitempty"`
	// Ended are the keys of incidents that ended.
	Ended []string   `json:"ended,omitempty"`
	Send  []Outgoing `json:"send,omitempty"`
}

type alertDeliveredBody struct {
	ID       string `json:"id"`
	Notifier string `json:"notifier"`
}

func (s *AlertState) clone() AlertState {
	out := AlertState{Incidents: make(map[string]Incident, len(s.Incidents)), Outbox: make([]Outgoing, len(s.Outbox))}
	for k, v := range s.Incidents {
		out.Incidents[k] = v
	}
	for i, o := range s.Outbox {
		o.Pending = slices.Clone(o.Pending)
		out.Outbox[i] = o
	}
	return out
}

// commit applies c; a notification already in the outbox is not added
// twice. Called with the fsm lock held.
func (s *AlertState) commit(c AlertCommit) {
	if s.Incidents == nil {
		s.Incidents = map[string]Incident{}
	}
	for _, k := range c.Ended {
		delete(s.Incidents, k)
	}
	for _, in := range c.Started {
		s.Incidents[in.Key] = in
	}
	for _, o := range c.Send {
		if !slices.ContainsFunc(s.Outbox, func(x Outgoing) bool { return x.Notification.ID == o.Notification.ID }) && len(o.Pending) > 0 {
			s.Outbox = append(s.Outbox, o)
		}
	}
	if n := len(s.Outbox) - MaxOutbox; n > 0 {
		s.Outbox = slices.Delete(s.Outbox, 0, n)
	}
}

func (s *AlertState) delivered(b alertDeliveredBody) {
	for i := range s.Outbox {
		o := &s.Outbox[i]
		if o.Notification.ID != b.ID {
			continue
		}
		o.Pending = slices.DeleteFunc(o.Pending, func(n string) bool { return n == b.Notifier })
		if len(o.Pending) == 0 {
			s.Outbox = slices.Delete(s.Outbox, i, i+1)
		}
		return
	}
}

// Alerts returns the replicated alert state (a copy).
func (c *Cluster) Alerts() AlertState {
	c.fsm.mu.RLock()
	defer c.fsm.mu.RUnlock()
	return c.fsm.alerts.clone()
}

// CommitAlerts commits a step of alert evaluation (master only).
func (c *Cluster) CommitAlerts(ctx context.Context, a AlertCommit) error {
	_, err := c.applyCmd(ctx, cmdAlertCommit, cmdAlertCommitV, a)
	return err
}

// AlertDelivered records that notification id reached notifier (master only).
func (c *Cluster) AlertDelivered(ctx context.Context, id, notifier string) error {
	_, err := c.applyCmd(ctx, cmdAlertDelivered, cmdAlertDeliveredV, alertDeliveredBody{ID: id, Notifier: notifier})
	return err
}
