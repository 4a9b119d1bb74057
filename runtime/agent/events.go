package agent

import (
	"sync"
	"time"

	"vigil/runtime/api"
)

// eventBacklog is how many recent events a new /v1/events subscriber gets.
const eventBacklog = 200

// hub fans events out to subscribers and keeps a short backlog. A slow
// subscriber loses events rather than holding up the agent.
type hub struct {
	mu      sync.Mutex
	recent  []api.Event // ring buffer
	next    int
	full    bool
	subs    map[chan api.Event]struct{}
	dropped func()
}

func newHub(dropped func()) *hub {
	return &hub{recent: make([]api.Event, eventBacklog), subs: map[chan api.Event]struct{}{}, dropped: dropped}
}

func (h *hub) publish(ev api.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recent[h.next] = ev
	h.next = (h.next + 1) % len(h.recent)
	if h.next == 0 {
		h.full = true
	}
	for ch := range h.subs {
		select {
		case ch <- ev:
		default:
			if h.dropped != nil {
				h.dropped()
			}
		}
	}
}

// subscribe returns the backlog, oldest first, and a channel of the events
// that follow it. cancel must be called when done.
func (h *hub) subscribe() (backlog []api.Event, ch <-chan api.Event, cancel func()) {
	c := make(chan api.Event, 256)
	h.mu.Lock()
	if h.full {
		backlog = append(backlog, h.recent[h.next:]...)
	}
	backlog = append(backlog, h.recent[:h.next]...)
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return backlog, c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}
