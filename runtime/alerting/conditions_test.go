package alerting

import (
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// Conditions reads every lasting condition off a state, with the times
// they started; those without a time of their own keep their first-seen
// time while they last.
func TestConditions(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	srv := &spec.Site{Name: "hq", Servers: []*spec.Server{
		{Name: "rec-1"}, {Name: "rec-2", Storage: []*spec.Storage{{Path: "/rec", MinFree: 10 << 30}}}, {Name: "rec-3"}}}
	st := &api.State{Spec: srv,
		Servers: []api.ServerState{
			{Name: "rec-1", Kind: spec.KindRecording, Health: api.HealthDead, Since: t0},
			{Name: "rec-2", Kind: spec.KindRecording, Health: api.HealthAlive,
				Storage: []api.StorageState{{Path: "/rec", FreeBytes: 1 << 30, TotalBytes: 1 << 40, Full: true, RetentionShort: true}}},
			{Name: "rec-3", Kind: spec.KindRecording, Health: api.HealthAlive, ClockOffsetMS: -1500, ClockOffsetKnown: true},
		},
		Cameras: []api.CameraState{
			{Name: "cam1", Server: "rec-1", State: api.CameraCovered, Recorders: []api.Recorder{{Server: "rec-2", State: "recording"}}},
			{Name: "cam2", Server: "rec-1", State: api.CameraCovered, Recorders: []api.Recorder{{Server: "rec-3", State: "recording"}}},
			{Name: "cam3", Server: "rec-2", State: api.CameraFailing,
				Recorders: []api.Recorder{{Server: "rec-2", State: "failing", Since: t0.Add(time.Minute), Error: "no frame for 5s", Cause: api.CauseStall}},
				LastGap:   &api.Gap{Camera: "cam3", Start: t0.Add(55 * time.Second), Cause: api.CauseStall}},
			{Name: "cam4", Server: "rec-3", State: api.CameraFailing,
				Recorders: []api.Recorder{{Server: "rec-3", State: "failing", Since: t0, Error: "cannot connect", Cause: api.CauseUnreachable}}},
		}}
	seen := Since{}
	now := t0.Add(2 * time.Minute)
	got := Conditions(st, now, seen)
	var keys []string
	for _, c := range got {
		keys = append(keys, c.Condition+"/"+c.Server+"/"+c.Camera)
	}
	want := []string{"server.dead/rec-1/", "takeover.started/rec-1/", "storage.full/rec-2/", "storage.retention/rec-2/",
		"storage.floor/rec-2/", "clock.skew/rec-3/", "gap.open/rec-2/cam3", "camera.stalled/rec-2/cam3", "camera.unreachable/rec-3/cam4"}
	if !slices.Equal(keys, want) {
		t.Fatalf("conditions\n%v\nwant\n%v", keys, want)
	}
	if moved := got[1].Cameras; !slices.Equal(moved, []string{"cam1 → rec-2", "cam2 → rec-3"}) {
		t.Errorf("takeover lists %v", moved)
	}
	if !got[7].Since.Equal(t0.Add(time.Minute)) || !strings.Contains(got[7].Message, "no frame") {
		t.Errorf("stalled camera %+v", got[7])
	}
	if !got[2].Since.Equal(now) {
		t.Errorf("storage.full first seen at %v, want %v", got[2].Since, now)
	}
	// Later: the same first-seen time; once it ends, forgotten.
	if again := Conditions(st, now.Add(time.Minute), seen); !again[2].Since.Equal(now) {
		t.Errorf("storage.full since %v after a minute, want %v", again[2].Since, now)
	}
	st.Servers[1].Storage[0].Full = false
	Conditions(st, now.Add(2*time.Minute), seen)
	if _, ok := seen["storage.full/rec-2//rec"]; ok {
		t.Error("an ended condition is still remembered")
	}
}

// A camera's conditions that are not due yet join a message about it: one
// failure, one message.
func TestSameSubjectJoins(t *testing.T) {
	s := newTestSite(&spec.Alert{Name: "camera-dark", When: []string{"camera.stalled", "gap.open"}, For: 10 * time.Second, Notify: []string{"pager"}})
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	gap := api.AlertItem{Condition: "gap.open", Camera: "cam1", Since: t0}
	stalled := api.AlertItem{Condition: "camera.stalled", Camera: "cam1", Since: t0.Add(5 * time.Second)}
	for i := range 60 {
		s.step([]api.AlertItem{gap, stalled}, t0.Add(time.Duration(i)*250*time.Millisecond))
	}
	if len(s.sent) != 1 || len(s.sent[0].Items) != 2 {
		t.Fatalf("want one message with both conditions, got %+v", s.sent)
	}
	for i := range 40 {
		s.step([]api.AlertItem{gap, stalled}, t0.Add(15*time.Second+time.Duration(i)*250*time.Millisecond))
	}
	if len(s.sent) != 1 {
		t.Fatalf("the stalled item became due later and was sent again: %+v", s.sent)
	}
}
