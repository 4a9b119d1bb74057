package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// The audit log is kept in the replicated state, so that it survives the
// loss of any server and a change of master. Servers send batches of
// entries to the master (the agent bounds and aggregates them first); each
// commit drops the entries older than the site's audit_retention, counted
// back from the master's clock when it proposed the batch, and keeps at
// most MaxAuditEntries, dropping the oldest failed logins and refusals
// first (a flood of them must not push out who applied or exported), then
// the oldest of the rest, down to 99% of the bound; the number dropped
// that way is kept and shown.
const (
	cmdAuditAppend  = "audit_append"
	cmdAuditAppendV = 1

	// MaxAuditEntries bounds the audit log in the replicated state.
	MaxAuditEntries = 50_000
)

// auditSeq is the last batch committed of a server's run.
type auditSeq struct {
	Boot string `json:"boot"`
	Seq  uint64 `json:"seq"`
}

// AuditState is the replicated audit log.
type AuditState struct {
	// Entries are in commit order (nearly time order: servers' batches
	// interleave).
	Entries []api.AuditEntry `json:"entries,omitempty"`
	// Seqs is the last batch committed per server, so that a batch sent
	// twice (an answer lost) is kept once.
	Seqs map[string]auditSeq `json:"seqs,omitempty"`
	// Bounded counts entries dropped for MaxAuditEntries before their
	// retention ended; BoundedUntil is the time of the newest of them.
	Bounded      int       `json:"bounded,omitempty"`
	BoundedUntil time.Time `json:"bounded_until,omitzero"`
}

type auditAppendBody struct {
	Batch api.AuditBatch `json:"batch"`
	// Time is the master's clock when it proposed the batch: retention
	// counts back from it on every replica alike.
	Time time.Time `json:"time"`
}

func (s *AuditState) clone() AuditState {
	return AuditState{Entries: slices.Clone(s.Entries), Seqs: maps.Clone(s.Seqs), Bounded: s.Bounded, BoundedUntil: s.BoundedUntil}
}

// auditRetention is the site's audit_retention in spec (nil: none yet).
func auditRetention(s *spec.Site) time.Duration {
	if s == nil || s.AuditRetention <= 0 {
		return spec.DefaultAuditRetention
	}
	return s.AuditRetention
}

// noisy entries are dropped first past MaxAuditEntries.
func noisy(e api.AuditEntry) bool {
	return e.Kind == api.AuditLoginFailed || e.Kind == api.AuditAccessDenied || e.Kind == api.AuditOverflow
}

// appendBatch commits b unless it was committed before. Called with the
// fsm lock held.
func (s *AuditState) appendBatch(b auditAppendBody, retention time.Duration, limit int) {
	if last, ok := s.Seqs[b.Batch.Server]; ok && last.Boot == b.Batch.Boot && b.Batch.Seq <= last.Seq {
		return
	}
	if s.Seqs == nil {
		s.Seqs = map[string]auditSeq{}
	}
	s.Seqs[b.Batch.Server] = auditSeq{Boot: b.Batch.Boot, Seq: b.Batch.Seq}
	s.Entries = append(s.Entries, b.Batch.Entries...)
	s.prune(b.Time, retention, limit)
}

// prune drops the entries whose last occurrence is older than retention
// before now, then the excess over limit. Deterministic: it depends only on
// the log.
func (s *AuditState) prune(now time.Time, retention time.Duration, limit int) {
	cut := now.Add(-retention)
	s.Entries = slices.DeleteFunc(s.Entries, func(e api.AuditEntry) bool { return e.LastTime().Before(cut) })
	excess := len(s.Entries) - limit
	if excess <= 0 {
		return
	}
	// Down to 99% of the bound at once, so that a log at its bound does
	// not move every entry on each commit.
	excess += limit / 100
	drop := func(e api.AuditEntry) bool {
		s.Bounded += max(e.Count, 1)
		if e.Time.After(s.BoundedUntil) {
			s.BoundedUntil = e.Time
		}
		excess--
		return true
	}
	s.Entries = slices.DeleteFunc(s.Entries, func(e api.AuditEntry) bool { return excess > 0 && noisy(e) && drop(e) })
	s.Entries = slices.DeleteFunc(s.Entries, func(e api.AuditEntry) bool { return excess > 0 && drop(e) })
}

// AppendAudit commits a server's batch of audit entries (master only).
func (c *Cluster) AppendAudit(ctx context.Context, b api.AuditBatch) error {
	if b.Server == "" || b.Boot == "" {
		return fmt.Errorf("an audit batch names its server and boot")
	}
	_, err := c.applyCmd(ctx, cmdAuditAppend, cmdAuditAppendV, auditAppendBody{Batch: b, Time: time.Now().UTC()})
	return err
}

// Audit answers a query of the replicated audit log from this server's
// copy: the matching entries, oldest first, the newest limit of them
// (limit <= 0: all).
func (c *Cluster) Audit(f api.AuditFilter, limit int) api.AuditLog {
	c.fsm.mu.RLock()
	out := api.AuditLog{Entries: []api.AuditEntry{}, Bounded: c.fsm.audit.Bounded, BoundedUntil: c.fsm.audit.BoundedUntil,
		Retention: spec.FormatDuration(auditRetention(c.fsm.state.Spec))}
	for _, e := range c.fsm.audit.Entries {
		if f.Match(e) {
			out.Entries = append(out.Entries, e)
		}
	}
	c.fsm.mu.RUnlock()
	api.SortAudit(out.Entries)
	if limit > 0 && len(out.Entries) > limit {
		out.Omitted = len(out.Entries) - limit
		out.Entries = slices.Delete(out.Entries, 0, out.Omitted)
	}
	return out
}
