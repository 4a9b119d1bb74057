package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

func applyEntry(t *testing.T, f *fsm, typ string, v int, body any) any {
	t.Helper()
	b, err := encodeCmd(typ, v, body)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Type: raft.LogCommand, Data: b})
}

type memSink struct {
	bytes.Buffer
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { return nil }
func (s *memSink) Close() error  { return nil }

// restored is a new state machine restored from a snapshot of f.
func restored(t *testing.T, f *fsm) *fsm {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	g := newFSM(f.log, nil)
	if err := g.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestFSMSnapshotRoundTrip(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := newFSM(log, nil)
	spec := spec.Site{Name: "hq", Keepalive: time.Second, Servers: []*spec.Server{{Name: "rec-1", Address: "10.0.0.1", Port: 53540}},
		Cameras: []*spec.Camera{{Name: "gate", Server: "rec-1", SegmentDuration: time.Minute, Labels: map[string]string{"zone": "north"}}}}
	if got := applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec, Base: 0, Time: time.Unix(100, 0).UTC()}); got != uint64(1) {
		t.Fatalf("apply gave %v", got)
	}
	applyEntry(t, f, cmdSetOverrides, 1, setOverridesBody{Overrides: []api.Override{{Camera: "gate", From: "rec-1", Server: "rec-2", Since: time.Unix(200, 0).UTC()}}})
	applyEntry(t, f, cmdRecordStats, 1, recordStatsBody{Stats: []DailyStat{{Server: "rec-1", Camera: "gate", Date: "2026-02-01", Bytes: 42}}})
	applyEntry(t, f, cmdSetDrain, 1, setDrainBody{Server: "rec-1", Drain: true})
	if d := f.current().Drains; len(d) != 1 || d[0] != "rec-1" {
		t.Fatalf("drains after a drain: %v", d)
	}

	g := restored(t, f)
	if d := cmp.Diff(f.current(), g.current()); d != "" {
		t.Fatalf("restored state differs (-want +got):\n%s", d)
	}
	if d := cmp.Diff(f.statsSince(""), g.statsSince("")); d != "" {
		t.Fatalf("restored stats differ (-want +got):\n%s", d)
	}

	// A snapshot from a newer binary is refused.
	newer, _ := json.Marshal(snapshotData{V: snapshotV + 1})
	if err := g.Restore(io.NopCloser(bytes.NewReader(newer))); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("restoring a newer snapshot: %v", err)
	}
}

func TestFSMRefusesUnknownEntries(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	got := applyEntry(t, f, cmdApplySpec, cmdApplySpecV+1, applySpecBody{Spec: spec.Site{Name: "hq"}})
	if err, ok := got.(error); !ok || !strings.Contains(err.Error(), "same vigil version") {
		t.Fatalf("newer entry version: %v", got)
	}
	got = applyEntry(t, f, "teleport", 1, struct{}{})
	if err, ok := got.(error); !ok || !strings.Contains(err.Error(), "unknown raft entry type") {
		t.Fatalf("unknown entry type: %v", got)
	}
	if f.current().Revision != 0 {
		t.Fatal("a refused entry changed the state")
	}
	// A stale base is answered, not applied.
	got = applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec.Site{Name: "hq"}, Base: 3})
	var stale *StaleError
	if err, _ := got.(error); !errors.As(err, &stale) || stale.Base != 3 || stale.Current != 0 {
		t.Fatalf("stale entry: %v", got)
	}
}

func TestLogAdapters(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	hclogFor(l, "raft").Warn("heartbeat timeout reached", "last-leader", "rec-1")
	ml := stdlogFor(l)
	ml.Printf("[ERR] memberlist: Failed to send ping: boom")
	// A repeat within the window drops to debug.
	ml.Printf("[ERR] memberlist: Failed to send ping: boom")
	out := buf.String()
	if n := strings.Count(out, `level=ERROR msg="Failed to send ping`); n != 1 {
		t.Errorf("a repeated line was logged %d times at the same level", n)
	}
	for _, want := range []string{
		`level=WARN msg="heartbeat timeout reached" component=raft last-leader=rec-1`,
		`level=ERROR msg="Failed to send ping: boom" component=memberlist`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
}

// Drains are set and undone by name, and a server removed from the spec is
// no longer drained.
func TestFSMDrains(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	spec := spec.Site{Name: "hq", Servers: []*spec.Server{{Name: "rec-1"}, {Name: "rec-2"}}}
	applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec})
	for _, b := range []setDrainBody{{"rec-2", true}, {"rec-1", true}, {"rec-2", true}} {
		applyEntry(t, f, cmdSetDrain, 1, b)
	}
	if d := f.current().Drains; strings.Join(d, ",") != "rec-1,rec-2" {
		t.Fatalf("drains %v, want rec-1,rec-2", d)
	}
	applyEntry(t, f, cmdSetDrain, 1, setDrainBody{"rec-1", false})
	spec.Servers = spec.Servers[:1]
	applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec, Base: 1})
	if d := f.current().Drains; len(d) != 0 {
		t.Fatalf("drains %v after undoing rec-1 and removing rec-2, want none", d)
	}
}
