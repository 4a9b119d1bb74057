package proving

import (
	"context"
	"testing"
	"time"
)

// Scenario 7: a 2-server site loses one server; the survivor takes its
// cameras without quorum.
func TestTwoServerSite(t *testing.T) {
	s := New(t, Options{Servers: 2, Cameras: 4})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.Kill("s2")
	if _, err := s.WaitRecording(ctx, "s1", s.Expected(map[string]bool{"s2": true})); err != nil {
		t.Fatalf("s1 did not take over s2's cameras: %v\n%s", err, s.Logs())
	}
}
