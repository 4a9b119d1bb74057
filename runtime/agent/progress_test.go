package agent_test

import (
	"testing"
	"time"
)

// Progress counts the reconcile loop's passes (the systemd watchdog's
// heartbeat), and tells when the last one ended.
func TestProgressCountsPasses(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 0)
	a := s.Server("rec-1").Agent()
	start := time.Now()
	var first uint64
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, last := a.Progress()
		if first == 0 && n > 0 {
			first = n
		}
		if first > 0 && n > first {
			if last.Before(start) || last.After(time.Now()) {
				t.Errorf("last pass at %v, want between the test's start %v and now", last, start)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reconcile passes went from %d to %d in 20s: the loop makes no progress", first, n)
		}
		time.Sleep(10 * time.Millisecond) // polls a condition, asserts nothing on time
	}
}
