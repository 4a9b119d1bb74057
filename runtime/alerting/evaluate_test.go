package alerting

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/cluster"
)

// site is a replicated alert state driven by an Evaluator, as the master
// runs it.
type site struct {
	spec *spec.Site
	ev   *Evaluator
	told map[string]cluster.Incident
	sent []api.Notification
}

func newTestSite(alerts ...*spec.Alert) *site {
	spec := &spec.Site{Name: "hq", Alerts: alerts, Notifiers: []*spec.Notifier{{Name: "pager", Webhook: &spec.WebhookNotifier{URL: "http://x"}}}}
	return &site{spec: spec, ev: NewEvaluator("hq"), told: map[string]cluster.Incident{}}
}

func (s *site) step(conds []api.AlertItem, now time.Time) {
	c := s.ev.Step(s.spec, conds, s.told, now)
	s.ev.Committed()
	for _, k := range c.Ended {
		delete(s.told, k)
	}
	for _, in := range c.Started {
		s.told[in.Key] = in
	}
	for _, o := range c.Send {
		s.sent = append(s.sent, o.Notification)
	}
}

// A dead server with 50 cameras is one message listing them, and its
// return one resolved message.
func TestGroupedFailover(t *testing.T) {
	s := newTestSite(&spec.Alert{Name: "failover", When: []string{"server.dead", "takeover", "server.back"}, Notify: []string{"pager"}})
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	dead := api.AlertItem{Condition: "server.dead", Server: "rec-1", Since: t0, Message: "server rec-1 is dead"}
	var moved []string
	for i := range 50 {
		moved = append(moved, fmt.Sprintf("cam%d → rec-2", i+1))
	}
	takeover := api.AlertItem{Condition: "takeover.started", Server: "rec-1", Since: t0, Cameras: moved, Message: "50 cameras of rec-1 are recorded by other servers"}
	// The server is seen dead first, the takeover a moment later: grouped.
	s.step([]api.AlertItem{dead}, t0.Add(100*time.Millisecond))
	s.step([]api.AlertItem{dead, takeover}, t0.Add(400*time.Millisecond))
	if len(s.sent) != 0 {
		t.Fatalf("sent before the group wait: %+v", s.sent)
	}
	for i := range 10 {
		s.step([]api.AlertItem{dead, takeover}, t0.Add(time.Second+time.Duration(i)*250*time.Millisecond))
	}
	if len(s.sent) != 1 {
		t.Fatalf("%d notifications, want 1", len(s.sent))
	}
	n := s.sent[0]
	if n.Status != api.AlertFiring || len(n.Items) != 2 || len(n.Items[1].Cameras) != 50 || n.Items[0].Condition != "server.dead" {
		t.Fatalf("notification %+v", n)
	}
	// It comes back: one resolved message telling both ends.
	for i := range 10 {
		s.step(nil, t0.Add(time.Minute+time.Duration(i)*250*time.Millisecond))
	}
	if len(s.sent) != 2 {
		t.Fatalf("%d notifications after the return, want 2", len(s.sent))
	}
	r := s.sent[1]
	if r.Status != api.AlertResolved || len(r.Items) != 2 || r.Items[0].Condition != "server.back" || r.Items[1].Condition != "takeover.finished" {
		t.Fatalf("resolved notification %+v", r)
	}
	if !strings.Contains(r.Summary, "rec-1 is back") || len(s.told) != 0 {
		t.Errorf("summary %q, incidents left %v", r.Summary, s.told)
	}
}

// A condition shorter than `for` sends nothing; a longer one one alert,
// grouping the cameras that went dark together.
func TestForAndCameraGrouping(t *testing.T) {
	s := newTestSite(&spec.Alert{Name: "camera-dark", When: []string{"camera.stalled", "gap.open"}, For: time.Minute, Cameras: []string{"door-*"}, Notify: []string{"pager"}})
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	stalled := func(cam string) api.AlertItem {
		return api.AlertItem{Condition: "camera.stalled", Camera: cam, Since: t0, Message: cam + " stalled"}
	}
	// A 30 s glitch.
	for i := range 120 {
		s.step([]api.AlertItem{stalled("door-1")}, t0.Add(time.Duration(i)*250*time.Millisecond))
	}
	s.step(nil, t0.Add(31*time.Second))
	s.step(nil, t0.Add(33*time.Second))
	if len(s.sent) != 0 {
		t.Fatalf("a glitch shorter than for sent %+v", s.sent)
	}
	// Two doors and a yard camera (not selected) stall for 2 minutes.
	t1 := t0.Add(time.Hour)
	for i := range 480 {
		now := t1.Add(time.Duration(i) * 250 * time.Millisecond)
		a, b, y := stalled("door-1"), stalled("door-2"), stalled("yard")
		a.Since, b.Since, y.Since = t1, t1.Add(time.Second), t1
		s.step([]api.AlertItem{a, b, y}, now)
	}
	if len(s.sent) != 1 || len(s.sent[0].Items) != 2 || s.sent[0].Summary != "camera.stalled started: door-1, door-2" {
		t.Fatalf("want one notification for both doors, got %+v", s.sent)
	}
	s.step(nil, t1.Add(3*time.Minute))
	s.step(nil, t1.Add(3*time.Minute+2*time.Second))
	if len(s.sent) != 2 || s.sent[1].Status != api.AlertResolved || len(s.sent[1].Items) != 2 {
		t.Fatalf("want one resolved notification, got %+v", s.sent)
	}
}

// A one-off whose commit failed is carried by the next Step, and by none
// once a commit carrying it landed; one that happens in between waits for
// the next.
func TestOneOffSurvivesFailedCommit(t *testing.T) {
	s := newTestSite(&spec.Alert{Name: "changes", When: []string{"config.applied"}, Notify: []string{"pager"}})
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s.ev.Happened(s.spec, api.AlertItem{Condition: "config.applied", Since: t0, Message: "committed revision 3"})
	if c := s.ev.Step(s.spec, nil, s.told, t0.Add(2*time.Second)); len(c.Send) != 1 {
		t.Fatalf("first step sends %+v, want the one-off", c.Send)
	}
	// That commit failed: no Committed. The next step carries it again,
	// with what happened since.
	s.ev.Happened(s.spec, api.AlertItem{Condition: "config.applied", Since: t0.Add(3 * time.Second), Message: "committed revision 4"})
	c := s.ev.Step(s.spec, nil, s.told, t0.Add(5*time.Second))
	if len(c.Send) != 1 || len(c.Send[0].Notification.Items) != 2 {
		t.Fatalf("after a failed commit: %+v, want both one-offs", c.Send)
	}
	s.ev.Happened(s.spec, api.AlertItem{Condition: "config.applied", Since: t0.Add(6 * time.Second), Message: "committed revision 5"})
	s.ev.Committed()
	c = s.ev.Step(s.spec, nil, s.told, t0.Add(8*time.Second))
	if len(c.Send) != 1 || len(c.Send[0].Notification.Items) != 1 || c.Send[0].Notification.Items[0].Message != "committed revision 5" {
		t.Fatalf("after the commit landed: %+v, want only the later one-off", c.Send)
	}
	s.ev.Committed()
	if c := s.ev.Step(s.spec, nil, s.told, t0.Add(10*time.Second)); len(c.Send) != 0 {
		t.Fatalf("everything told, yet %+v", c.Send)
	}
}

// One-off conditions, and an alert removed while its incident is open.
func TestOneOffsAndRemovedAlert(t *testing.T) {
	s := newTestSite(&spec.Alert{Name: "changes", When: []string{"config.applied"}, Notify: []string{"pager"}},
		&spec.Alert{Name: "failover", When: []string{"server.dead"}, Notify: []string{"pager"}})
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s.ev.Happened(s.spec, api.AlertItem{Condition: "config.applied", Since: t0, Message: "committed revision 3"})
	s.ev.Happened(s.spec, api.AlertItem{Condition: "config.invalid", Since: t0, Message: "not wanted"})
	dead := api.AlertItem{Condition: "server.dead", Server: "rec-1", Since: t0}
	s.step([]api.AlertItem{dead}, t0.Add(2*time.Second))
	if len(s.sent) != 2 || s.sent[0].Alert != "changes" || len(s.sent[0].Items) != 1 || s.sent[0].Items[0].State != api.ItemHappened {
		t.Fatalf("sent %+v", s.sent)
	}
	s.spec.Alerts = s.spec.Alerts[:1]
	s.step([]api.AlertItem{dead}, t0.Add(3*time.Second))
	if len(s.sent) != 2 || len(s.told) != 0 {
		t.Fatalf("a removed alert ends silently: sent %d, told %v", len(s.sent), s.told)
	}
}
