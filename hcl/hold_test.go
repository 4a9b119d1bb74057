package hcl

import (
	"testing"
	"time"

	"vigil/hcl/spec"
)

func TestHoldRules(t *testing.T) {
	from := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	h := &spec.Hold{Cameras: []string{"dock-*", "lobby"}, From: from, To: from.Add(150 * time.Minute), Until: time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)}
	for cam, want := range map[string]bool{"dock-1": true, "dock-": true, "lobby": true, "lobby-2": false, "gate": false} {
		if got := h.MatchesCamera(cam); got != want {
			t.Errorf("MatchesCamera(%q) = %v", cam, got)
		}
	}
	for _, c := range []struct {
		start, end time.Time
		want       bool
	}{
		{from.Add(-time.Minute), from, false},                             // ends as the hold starts
		{from.Add(-time.Minute), from.Add(time.Second), true},             // reaches into it
		{from.Add(149 * time.Minute), from.Add(151 * time.Minute), true},  // reaches out of it
		{from.Add(150 * time.Minute), from.Add(151 * time.Minute), false}, // starts as it ends
		{from.Add(-time.Hour), from.Add(3 * time.Hour), true},             // covers it
	} {
		if got := h.Overlaps(c.start, c.end); got != c.want {
			t.Errorf("Overlaps(%s, %s) = %v", c.start, c.end, got)
		}
	}
	if !h.Active(h.Until.Add(-time.Nanosecond)) || h.Active(h.Until) {
		t.Error("a hold ends at its until")
	}
	h.Until = time.Time{}
	if !h.Active(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("a hold without until ended")
	}
}
