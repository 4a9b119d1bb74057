package agent

import (
	"fmt"
	"testing"
	"time"

	"vigil/runtime/api"
)

func TestHubBacklogAndSlowSubscriber(t *testing.T) {
	dropped := 0
	h := newHub(func() { dropped++ })
	for i := range eventBacklog + 50 {
		h.publish(api.Event{Kind: fmt.Sprint(i)})
	}
	backlog, ch, cancel := h.subscribe()
	defer cancel()
	if len(backlog) != eventBacklog || backlog[0].Kind != "50" || backlog[len(backlog)-1].Kind != fmt.Sprint(eventBacklog+49) {
		t.Fatalf("backlog of %d from %s to %s", len(backlog), backlog[0].Kind, backlog[len(backlog)-1].Kind)
	}
	if backlog[0].Time.IsZero() {
		t.Error("event without time")
	}
	// A subscriber that never reads loses events instead of blocking.
	done := make(chan struct{})
	go func() {
		for range 1000 {
			h.publish(api.Event{Kind: "x"})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publish blocked on a slow subscriber")
	}
	if len(ch) != cap(ch) || dropped != 1000-cap(ch) {
		t.Errorf("queued %d, dropped %d", len(ch), dropped)
	}
}
