package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/alerting"
	"vigil/runtime/api"
)

const hookSecret = "hook-s3cret"

// hook is a webhook receiver that checks signatures and keeps what it got.
type hook struct {
	t   *testing.T
	srv *httptest.Server
	ch  chan api.Notification
	// answer decides the status of each request (200 when nil); it may
	// block, as a slow receiver does.
	mu     sync.Mutex
	answer func(api.Notification) int
}

func newHook(t *testing.T) *hook {
	h := &hook{t: t, ch: make(chan api.Notification, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(api.SignatureHeader) != alerting.Sign(hookSecret, body) {
			t.Errorf("webhook: bad signature %q", r.Header.Get(api.SignatureHeader))
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n api.Notification
		if err := json.Unmarshal(body, &n); err != nil || n.ID != r.Header.Get(api.IdempotencyHeader) {
			t.Errorf("webhook: body %s, idempotency key %q", body, r.Header.Get(api.IdempotencyHeader))
		}
		h.ch <- n
		h.mu.Lock()
		answer := h.answer
		h.mu.Unlock()
		code := http.StatusOK
		if answer != nil {
			code = answer(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) setAnswer(f func(api.Notification) int) {
	h.mu.Lock()
	h.answer = f
	h.mu.Unlock()
}

// next returns the next notification of alert (others are skipped).
func (h *hook) next(ctx context.Context, alert string) api.Notification {
	h.t.Helper()
	for {
		select {
		case n := <-h.ch:
			if n.Alert == alert {
				return n
			}
		case <-ctx.Done():
			h.t.Fatalf("no notification of alert %s", alert)
		}
	}
}

// alertSpec is the site's spec with a webhook notifier and the alerts.
func alertSpec(s *devsite.Site, h *hook, cams []*spec.Camera, alerts ...*spec.Alert) spec.Site {
	site := s.Spec(cams...)
	site.Notifiers = []*spec.Notifier{{Name: "pager", Webhook: &spec.WebhookNotifier{URL: h.srv.URL + "/vigil", Secret: hookSecret}}}
	site.Alerts = alerts
	return site
}

func masterOf(t *testing.T, s *devsite.Site, ctx context.Context, on string) string {
	t.Helper()
	st, err := s.Wait(ctx, on, func(st *api.State) bool { return st.Master != "" })
	if err != nil {
		t.Fatal(err)
	}
	return st.Master
}

// TestAlertServerKilled: a server killed gives one grouped notification
// listing its cameras, and its return one resolved notification.
func TestAlertServerKilled(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2", "rec-3"}, 6)
	ctx := ctxFor(t, 90*time.Second)
	h := newHook(t)
	var cams []*spec.Camera
	want := map[string][]string{}
	for i, srv := range []string{"rec-1", "rec-1", "rec-2", "rec-2", "rec-3", "rec-3"} {
		backup := []string{"rec-1", "rec-2", "rec-3"}
		backup = slices.DeleteFunc(backup, func(b string) bool { return b == srv })
		c := s.CameraSpec(i+1, srv, backup...)
		cams = append(cams, c)
		want[c.Name] = []string{srv}
	}
	spec := alertSpec(s, h, cams, &spec.Alert{Name: "failover", When: []string{"server.dead", "takeover", "server.back"}, Notify: []string{"pager"}})
	if _, err := s.Commit(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-1", want, 30*time.Second)
	master := masterOf(t, s, ctx, "rec-1")
	victim := "rec-1"
	if master == victim {
		victim = "rec-2"
	}
	var victimCams []string
	for _, c := range cams {
		if c.Server == victim {
			victimCams = append(victimCams, c.Name)
		}
	}

	killed := time.Now()
	if err := s.Kill(victim); err != nil {
		t.Fatal(err)
	}
	n := h.next(ctx, "failover")
	t.Logf("kill -9 of %s to the webhook's notification: %v (keepalive %v)", victim, time.Since(killed).Round(time.Millisecond), s.Keepalive)
	if n.Status != api.AlertFiring || n.Site != s.Name {
		t.Fatalf("first notification %+v", n)
	}
	conds := map[string]api.AlertItem{}
	for _, it := range n.Items {
		conds[it.Condition] = it
	}
	if conds["server.dead"].Server != victim {
		t.Errorf("notification without %s dead: %+v", victim, n.Items)
	}
	moved := conds["takeover.started"].Cameras
	for _, c := range victimCams {
		if !slices.ContainsFunc(moved, func(m string) bool { return strings.HasPrefix(m, c+" → ") }) {
			t.Errorf("takeover item lists %v, want every camera of %s (%v)", moved, victim, victimCams)
		}
	}

	if err := s.Start(victim); err != nil {
		t.Fatal(err)
	}
	r := h.next(ctx, "failover")
	if r.Status != api.AlertResolved {
		t.Fatalf("after the return: %+v, want the resolved notification (one notification per failure)", r)
	}
	got := map[string]bool{}
	for _, it := range r.Items {
		got[it.Condition] = it.Server == victim && it.State == api.ItemEnded
	}
	if !got["server.back"] || !got["takeover.finished"] {
		t.Errorf("resolved notification items %+v, want server.back and takeover.finished of %s", r.Items, victim)
	}
}

// TestAlertCameraStalled: a stall shorter than `for` sends nothing; a
// longer one sends one alert, then a resolved message.
func TestAlertCameraStalled(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	ctx := ctxFor(t, 120*time.Second)
	h := newHook(t)
	cam := s.CameraSpec(1, "rec-1")
	cam.StallTimeout = time.Second
	const wait = 12 * time.Second
	spec := alertSpec(s, h, []*spec.Camera{cam}, &spec.Alert{Name: "camera-dark", When: []string{"camera.unreachable", "camera.stalled", "gap.open"},
		For: wait, Cameras: []string{"*"}, Notify: []string{"pager"}})
	if _, err := s.Commit(ctx, spec); err != nil {
		t.Fatal(err)
	}
	recording := func(st *api.State) bool { return devsite.RecordedBy(st, map[string][]string{"cam1": {"rec-1"}}) }
	if _, err := s.Wait(ctx, "rec-1", recording); err != nil {
		t.Fatal(err)
	}
	c := s.Client("rec-1")

	// A short stall: the camera fails, then records again.
	short := time.Now()
	gaps, err := c.EventHistory(ctx, api.EventFilter{Since: short, Camera: "cam1", Kind: "gap.*"}, api.EventOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Cams.Stall("cam1", 3*time.Second)
	var open time.Time
	var down time.Duration
	for ev := range gaps.Events {
		if ev.Kind == "gap.open" && open.IsZero() {
			open = ev.Time
		}
		if ev.Kind == "gap.closed" && !open.IsZero() {
			down = ev.Time.Sub(open)
			break
		}
	}
	if open.IsZero() {
		t.Fatal("no gap.open and gap.closed for the short stall")
	}
	t.Logf("short stall: cam1 unrecorded for %v (for = %v)", down.Round(time.Millisecond), wait)

	// A long stall: one alert.
	long := time.Now()
	s.Cams.Stall("cam1", wait+8*time.Second)
	n := h.next(ctx, "camera-dark")
	if n.Items[0].Since.Before(long) {
		if down < wait {
			t.Fatalf("the short stall (%v, shorter than for) sent %+v", down, n)
		}
		t.Skipf("the loaded machine took %v to recover from the short stall, longer than for (%v)", down, wait)
	}
	if n.Status != api.AlertFiring || n.Items[0].Camera != "cam1" {
		t.Fatalf("notification %+v", n)
	}
	for _, it := range n.Items {
		if it.Camera != "cam1" || it.State != api.ItemStarted {
			t.Errorf("item %+v", it)
		}
	}
	r := h.next(ctx, "camera-dark")
	if r.Status != api.AlertResolved {
		t.Fatalf("after the stall: %+v, want the resolved message (one alert per failure)", r)
	}
}

// TestAlertMasterKilledMidDelivery: the master dies while the webhook
// holds its request; the next master delivers the same notification, with
// the same idempotency key, and no other copy of it.
func TestAlertMasterKilledMidDelivery(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2", "rec-3"}, 1)
	ctx := ctxFor(t, 90*time.Second)
	h := newHook(t)
	spec := alertSpec(s, h, []*spec.Camera{s.CameraSpec(1, "rec-1", "rec-2")},
		&spec.Alert{Name: "changes", When: []string{"config.applied"}, Notify: []string{"pager"}})
	if _, err := s.Commit(ctx, spec); err != nil {
		t.Fatal(err)
	}
	first := h.next(ctx, "changes") // the apply above
	master := masterOf(t, s, ctx, "rec-1")

	// The webhook holds the next request until the master is gone.
	release := make(chan struct{})
	h.setAnswer(func(n api.Notification) int {
		if n.ID != first.ID {
			<-release
		}
		return http.StatusOK
	})
	spec.Cameras[0].Backup = []string{"rec-3"}
	if _, err := s.Commit(ctx, spec); err != nil {
		t.Fatal(err)
	}
	pending := h.next(ctx, "changes")
	if err := s.Kill(master); err != nil {
		t.Fatal(err)
	}
	h.setAnswer(nil)
	close(release)
	again := h.next(ctx, "changes")
	if again.ID != pending.ID || again.Items[0].Message != pending.Items[0].Message {
		t.Fatalf("after the master died: %+v, want %s again with the same idempotency key", again, pending.ID)
	}
	t.Logf("notification %s delivered by %s, repeated by the next master with the same key", pending.ID, master)
	// Nothing else of it follows: the next change's notification comes next.
	other := "rec-1"
	if other == master {
		other = "rec-2"
	}
	spec.Cameras[0].Backup = []string{"rec-2", "rec-3"}
	applyVia(t, ctx, s, other, spec)
	if n := h.next(ctx, "changes"); n.ID == pending.ID {
		t.Fatalf("notification %s delivered a third time", n.ID)
	}
}

func applyVia(t *testing.T, ctx context.Context, s *devsite.Site, on string, spec spec.Site) {
	t.Helper()
	if _, err := s.CommitVia(ctx, on, spec); err != nil {
		t.Fatalf("apply through %s: %v", on, err)
	}
}

// TestAlertNotifierDown: a webhook that refuses is retried with backoff,
// each failure an event, and recording goes on; it gets the notification
// once it answers.
func TestAlertNotifierDown(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	ctx := ctxFor(t, 90*time.Second)
	h := newHook(t)
	var mu sync.Mutex
	refused := 0
	h.setAnswer(func(api.Notification) int {
		mu.Lock()
		defer mu.Unlock()
		if refused < 3 {
			refused++
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	spec := alertSpec(s, h, []*spec.Camera{s.CameraSpec(1, "rec-1")},
		&spec.Alert{Name: "changes", When: []string{"config.applied"}, Notify: []string{"pager"}})
	if _, err := s.Commit(ctx, spec); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 4 {
		ids = append(ids, h.next(ctx, "changes").ID)
	}
	if ids[0] != ids[3] || ids[1] != ids[0] {
		t.Errorf("retries carry ids %v, want one", ids)
	}
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return devsite.RecordedBy(st, map[string][]string{"cam1": {"rec-1"}}) }); err != nil {
		t.Fatalf("recording while the notifier was down: %v", err)
	}
	// The history, then the events that follow, up to the delivery.
	hist, err := s.Client("rec-1").EventHistory(ctx, api.EventFilter{Kind: "alert.delivery_failed,alert.delivered"}, api.EventOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for ev := range hist.Events {
		if ev.Kind == "alert.delivered" {
			break
		}
		failed++
		if !strings.Contains(ev.Message, "503") {
			t.Errorf("failure event %q does not say what the webhook answered", ev.Message)
		}
	}
	if failed != 3 || ctx.Err() != nil {
		t.Errorf("%d alert.delivery_failed events before alert.delivered, want 3 (%v)", failed, ctx.Err())
	}
}

// TestAlertConfigEvents: an apply and an invalid configuration reload
// (the event hot reload raises on the master) are one-off alerts.
func TestAlertConfigEvents(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	ctx := ctxFor(t, 60*time.Second)
	h := newHook(t)
	spec := alertSpec(s, h, []*spec.Camera{s.CameraSpec(1, "rec-1")},
		&spec.Alert{Name: "config", When: []string{"config.invalid", "config.applied"}, Notify: []string{"pager"}})
	if _, err := s.Commit(ctx, spec); err != nil {
		t.Fatal(err)
	}
	n := h.next(ctx, "config")
	if n.Status != api.AlertFiring || len(n.Items) != 1 || n.Items[0].Condition != "config.applied" || n.Items[0].State != api.ItemHappened {
		t.Fatalf("after an apply: %+v", n)
	}
	s.Server("rec-1").Agent().Emit(api.Event{Severity: "error", Kind: "config.invalid", Message: "site.hcl:3,5: unknown server \"rec-9\""})
	n = h.next(ctx, "config")
	if len(n.Items) != 1 || n.Items[0].Condition != "config.invalid" || !strings.Contains(n.Summary, "rec-9") {
		t.Fatalf("after an invalid reload: %+v", n)
	}
}
