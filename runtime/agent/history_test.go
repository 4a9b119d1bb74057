package agent_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"vigil/runtime/api"
)

// collect drains an event stream.
func collect(t *testing.T, s *api.EventStream) []api.Event {
	t.Helper()
	var out []api.Event
	for ev := range s.Events {
		out = append(out, ev)
	}
	return out
}

func servers(evs []api.Event, kind string) []string {
	var out []string
	for _, ev := range evs {
		if ev.Kind == kind && !slices.Contains(out, ev.Server) {
			out = append(out, ev.Server)
		}
	}
	slices.Sort(out)
	return out
}

// TestEventHistory: any agent answers for the whole site, merged by time,
// filtered; the history survives a restart; a server that does not answer
// is named; follow streams the new events of every server.
func TestEventHistory(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2", "rec-3"}, 1)
	ctx := ctxFor(t, 60*time.Second)
	if _, err := s.Commit(ctx, s.Spec(s.CameraSpec(1, "rec-1", "rec-2"))); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-3", map[string][]string{"cam1": {"rec-1"}}, 20*time.Second)

	// Every server's agent.started, asked of one.
	hist, err := s.Client("rec-3").EventHistory(ctx, api.EventFilter{Kind: "agent.*"}, api.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs := collect(t, hist)
	if got := servers(evs, "agent.started"); !slices.Equal(got, []string{"rec-1", "rec-2", "rec-3"}) || len(hist.Unanswered) > 0 {
		t.Errorf("agent.started from %v (unanswered %v), want every server", got, hist.Unanswered)
	}
	if !slices.IsSortedFunc(evs, func(a, b api.Event) int { return a.Time.Compare(b.Time) }) {
		t.Error("events are not merged by time")
	}
	for _, ev := range evs {
		if ev.Kind != "agent.started" {
			t.Errorf("kind filter agent.* let %s through", ev.Kind)
		}
	}
	// Camera filter: only cam1's events.
	hist, err = s.Client("rec-2").EventHistory(ctx, api.EventFilter{Camera: "cam1"}, api.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs = collect(t, hist)
	if len(evs) == 0 || !slices.ContainsFunc(evs, func(ev api.Event) bool { return ev.Kind == "camera.assigned" && ev.Server == "rec-1" }) {
		t.Errorf("cam1's events %v, want rec-1's camera.assigned", evs)
	}
	for _, ev := range evs {
		if ev.Camera != "cam1" {
			t.Errorf("camera filter let %+v through", ev)
		}
	}

	// rec-3 restarts: its history is kept; while it is down, rec-1 names it.
	before := time.Now()
	if err := s.Kill("rec-3"); err != nil {
		t.Fatal(err)
	}
	hist, err = s.Client("rec-1").EventHistory(ctx, api.EventFilter{Kind: "agent.started"}, api.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs = collect(t, hist)
	if !slices.Equal(hist.Unanswered, []string{"rec-3"}) || !slices.Equal(servers(evs, "agent.started"), []string{"rec-1", "rec-2"}) {
		t.Errorf("with rec-3 down: unanswered %v, agent.started from %v", hist.Unanswered, servers(evs, "agent.started"))
	}
	if err := s.Start("rec-3"); err != nil {
		t.Fatal(err)
	}
	hist, err = s.Client("rec-3").EventHistory(ctx, api.EventFilter{Kind: "agent.started", Server: "rec-3"}, api.EventOptions{Local: true})
	if err != nil {
		t.Fatal(err)
	}
	evs = collect(t, hist)
	if len(evs) != 2 || !evs[0].Time.Before(before) || evs[1].Time.Before(before) {
		t.Errorf("rec-3's agent.started after a restart: %v, want the one before and the one after", evs)
	}

	// Follow: a new event raised on rec-2 reaches a follower of rec-1.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	follow, err := s.Client("rec-1").EventHistory(fctx, api.EventFilter{Kind: "test.*", Since: time.Now()}, api.EventOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	// The follower of rec-1 asks rec-2 to follow too; raise events until
	// one arrives (the peer stream opens asynchronously).
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev := <-follow.Events:
			if ev.Kind != "test.ping" || ev.Server != "rec-2" {
				t.Fatalf("followed event %+v, want rec-2's test.ping", ev)
			}
			return
		case <-tick.C:
			s.Server("rec-2").Agent().Emit(api.Event{Severity: "info", Kind: "test.ping", Message: "ping"})
		case <-ctx.Done():
			t.Fatal("no followed event from rec-2")
		}
	}
}
