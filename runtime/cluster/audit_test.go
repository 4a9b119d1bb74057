package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

func auditBatch(t *testing.T, f *fsm, now time.Time, seq uint64, es ...api.AuditEntry) {
	t.Helper()
	b := auditAppendBody{Batch: api.AuditBatch{Server: "rec-1", Boot: "b1", Seq: seq, Entries: es}, Time: now}
	if err := applyEntry(t, f, cmdAuditAppend, cmdAuditAppendV, b); err != nil {
		t.Fatal(err)
	}
}

func auditKinds(s AuditState) []string {
	var out []string
	for _, e := range s.Entries {
		out = append(out, e.Kind+"@"+e.Time.Format("2006-01-02"))
	}
	return out
}

// TestAuditRetention: a commit drops the entries older than the site's
// audit_retention (default 365 days) from the master's clock; an apply
// that shortens it prunes at once; an aggregated entry counts by its last
// occurrence.
func TestAuditRetention(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	day := func(d int) time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	auditBatch(t, f, day(0), 1,
		api.AuditEntry{Time: day(-400), Kind: api.AuditExport, User: "old"},
		api.AuditEntry{Time: day(-400), Last: day(-300), Count: 5, Kind: api.AuditLoginFailed, User: "x"},
		api.AuditEntry{Time: day(-10), Kind: api.AuditApply, User: "alice"})
	if got, want := auditKinds(f.audit), []string{"login.failed@2024-11-27", "apply@2025-12-22"}; !cmp.Equal(got, want) {
		t.Fatalf("after the default retention: %v, want %v", got, want)
	}
	spec := spec.Site{Name: "hq", AuditRetention: 30 * 24 * time.Hour}
	if got := applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec, Time: day(1)}); got != uint64(1) {
		t.Fatalf("apply: %v", got)
	}
	if got, want := auditKinds(f.audit), []string{"apply@2025-12-22"}; !cmp.Equal(got, want) {
		t.Fatalf("after audit_retention = 30d: %v, want %v", got, want)
	}
	// The same batch again (its answer was lost and it was sent twice) is
	// kept once; a new run of the server starts its own sequence.
	auditBatch(t, f, day(2), 2, api.AuditEntry{Time: day(2), Kind: api.AuditLive, User: "bob"})
	auditBatch(t, f, day(2), 2, api.AuditEntry{Time: day(2), Kind: api.AuditLive, User: "bob"})
	b := auditAppendBody{Batch: api.AuditBatch{Server: "rec-1", Boot: "b2", Seq: 1, Entries: []api.AuditEntry{{Time: day(3), Kind: api.AuditPlayback}}}, Time: day(3)}
	applyEntry(t, f, cmdAuditAppend, cmdAuditAppendV, b)
	if got, want := auditKinds(f.audit), []string{"apply@2025-12-22", "live@2026-01-03", "playback@2026-01-04"}; !cmp.Equal(got, want) {
		t.Fatalf("after a repeated batch: %v, want %v", got, want)
	}
	if g := restored(t, f); !cmp.Equal(g.audit, f.audit) {
		t.Errorf("snapshot round trip: %v", cmp.Diff(f.audit, g.audit))
	}
}

// TestAuditBound: past the bound, the oldest failed logins and refusals go
// first, then the oldest of the rest; the number dropped is kept.
func TestAuditBound(t *testing.T) {
	var s AuditState
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	s.Entries = []api.AuditEntry{
		{Time: at(0), Kind: api.AuditExport},
		{Time: at(1), Kind: api.AuditLoginFailed, Count: 500, Last: at(2)},
		{Time: at(3), Kind: api.AuditApply},
		{Time: at(4), Kind: api.AuditAccessDenied},
		{Time: at(5), Kind: api.AuditLoginFailed},
	}
	s.prune(at(10), time.Hour, 3)
	if got, want := auditKinds(s), []string{"export@2026-01-01", "apply@2026-01-01", "login.failed@2026-01-01"}; !cmp.Equal(got, want) {
		t.Fatalf("bounded to 3: %v, want %v", got, want)
	}
	if s.Bounded != 501 || !s.BoundedUntil.Equal(at(4)) {
		t.Errorf("bounded %d until %v, want 501 until %v", s.Bounded, s.BoundedUntil, at(4))
	}
	s.prune(at(10), time.Hour, 1)
	if got, want := auditKinds(s), []string{"apply@2026-01-01"}; !cmp.Equal(got, want) {
		t.Fatalf("bounded to 1: %v, want %v", got, want)
	}
}

// BenchmarkAuditFull: the audit log at its bound (MaxAuditEntries of
// about the usual size): one more batch committed (retention and bound
// checked), a query of one user's entries, and the snapshot's size.
func BenchmarkAuditFull(b *testing.B) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range MaxAuditEntries {
		f.audit.Entries = append(f.audit.Entries, api.AuditEntry{Time: t0.Add(time.Duration(i) * time.Minute), Kind: api.AuditPlayback,
			User: fmt.Sprintf("user-%d", i%50), UserKind: "user", Address: "10.0.0.7", Server: "rec-1", Camera: fmt.Sprintf("cam-%d", i%300),
			Start: t0, End: t0.Add(time.Hour)})
	}
	now := t0.Add(MaxAuditEntries * time.Minute)
	b.Run("commit", func(b *testing.B) {
		for i := range b.N {
			body := auditAppendBody{Batch: api.AuditBatch{Server: "rec-1", Boot: "b", Seq: uint64(i + 1), Entries: []api.AuditEntry{{Time: now, Kind: api.AuditExport}}}, Time: now}
			cmd, _ := encodeCmd(cmdAuditAppend, cmdAuditAppendV, body)
			f.Apply(&raft.Log{Type: raft.LogCommand, Data: cmd})
		}
	})
	c := &Cluster{fsm: f}
	b.Run("query", func(b *testing.B) {
		for range b.N {
			c.Audit(api.AuditFilter{User: "user-7"}, 10_000)
		}
	})
	b.Run("snapshot", func(b *testing.B) {
		var size int
		for range b.N {
			snap, err := f.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			size = len(snap.(fsmSnapshot))
		}
		b.ReportMetric(float64(size)/1e6, "MB")
	})
}
