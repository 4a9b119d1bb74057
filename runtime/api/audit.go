package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Kinds of audit entries.
const (
	// AuditApply: a spec was committed (BaseRevision, Revision, Checksum).
	AuditApply = "apply"
	// AuditMasterTransfer: the master role was moved on purpose (Target).
	AuditMasterTransfer = "master.transfer"
	// AuditExport: footage was exported (Camera, Start, End).
	AuditExport = "export"
	// AuditPlayback: a playback session started (Camera, Start, End of
	// its first request).
	AuditPlayback = "playback"
	// AuditLive: a live view started (Camera).
	AuditLive = "live"
	// AuditLoginFailed: a login or token was refused (wrong password,
	// wrong token).
	AuditLoginFailed = "login.failed"
	// AuditAccessDenied: a request was refused for its caller's rights
	// (no credentials, a role too low, a camera outside its list).
	AuditAccessDenied = "access.denied"
	// AuditOverflow: entries past a server's audit bound, counted but not
	// itemised (Detail says how many and of which kinds), or lost while no
	// master could take them.
	AuditOverflow = "audit.overflow"
)

// AuditKinds lists every kind of audit entry.
var AuditKinds = []string{AuditApply, AuditMasterTransfer, AuditExport, AuditPlayback, AuditLive, AuditLoginFailed, AuditAccessDenied, AuditOverflow}

// AuditEntry is one entry of the site's audit log: who did what, when,
// from where. It never holds a secret (password, token, session).
type AuditEntry struct {
	// Time is when it happened (the first time, when Count > 1), on the
	// clock of the server that saw it.
	Time time.Time `json:"time"`
	// Kind is one of AuditKinds.
	Kind string `json:"kind"`
	// User is the caller's name (access.Identity.Name): a user, a token,
	// "agent-token" (the agent configuration's token) or "anonymous".
	User string `json:"user"`
	// UserKind is "user", "token" or "peer" ("" for anonymous).
	UserKind string `json:"user_kind,omitempty"`
	// Address is the address the request came from.
	Address string `json:"address,omitempty"`
	// Server is the server that saw the request.
	Server string `json:"server"`
	Camera string `json:"camera,omitempty"`
	// Start and End are the footage's period (export, playback).
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// BaseRevision, Revision and Checksum describe an apply: the revision
	// it was planned against, the one it committed, and the SHA-256 of the
	// committed spec as GET /v1/state shows it (secrets redacted).
	BaseRevision uint64 `json:"base_revision,omitempty"`
	Revision     uint64 `json:"revision,omitempty"`
	Checksum     string `json:"checksum,omitempty"`
	// Target is the new master of a master transfer.
	Target string `json:"target,omitempty"`
	// Detail says more: the request refused, an export's outcome.
	Detail string `json:"detail,omitempty"`
	// Count, when set, says that this entry stands for Count identical
	// events from Time to Last, aggregated so that a flood cannot grow
	// the log (Detail says so too).
	Count int       `json:"count,omitempty"`
	Last  time.Time `json:"last,omitzero"`
}

// LastTime is when the entry's last occurrence was: Last when
// aggregated, else Time.
func (e AuditEntry) LastTime() time.Time {
	if e.Last.After(e.Time) {
		return e.Last
	}
	return e.Time
}

// AuditFilter selects entries of GET /v1/audit: the query parameters
// since, until, user, kind and limit.
type AuditFilter struct {
	Since, Until time.Time // zero: unbounded
	// User is a user name; "" for all.
	User string
	// Kind holds glob patterns (path.Match), comma-separated, as
	// EventFilter.Kind: "login" matches "login.failed".
	Kind string
	// Limit keeps the newest Limit entries (0: the server's default).
	Limit int
}

// Match tells whether e passes the filter (Limit aside). An aggregated
// entry matches when its span [Time, Last] meets [Since, Until].
func (f AuditFilter) Match(e AuditEntry) bool {
	if !f.Since.IsZero() && e.LastTime().Before(f.Since) || !f.Until.IsZero() && e.Time.After(f.Until) {
		return false
	}
	if f.User != "" && e.User != f.User {
		return false
	}
	return f.Kind == "" || MatchKind(f.Kind, e.Kind)
}

// Query encodes the filter as URL query parameters.
func (f AuditFilter) Query() url.Values {
	q := url.Values{}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Kind != "" {
		q.Set("kind", f.Kind)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// SortAudit sorts entries by time, keeping the order of equal times.
func SortAudit(es []AuditEntry) {
	slices.SortStableFunc(es, func(a, b AuditEntry) int { return a.Time.Compare(b.Time) })
}

// AuditLog is the answer of GET /v1/audit.
type AuditLog struct {
	// Entries match the filter, oldest first.
	Entries []AuditEntry `json:"entries"`
	// Omitted counts the older matching entries left out by the limit.
	Omitted int `json:"omitted,omitempty"`
	// Bounded counts the entries the site dropped, oldest first, to keep
	// the log within its size bound before their retention ended; the
	// newest of them was from BoundedUntil.
	Bounded      int       `json:"bounded,omitempty"`
	BoundedUntil time.Time `json:"bounded_until,omitzero"`
	// Retention is how long the site keeps entries (audit_retention).
	Retention string `json:"retention"`
}

// AuditBatch is the body of POST /v1/audit/entries: the entries one
// server recorded, sent to the master to be committed. Boot and Seq
// number a server's batches so that a batch sent twice is kept once.
type AuditBatch struct {
	Server  string       `json:"server"`
	Boot    string       `json:"boot"`
	Seq     uint64       `json:"seq"`
	Entries []AuditEntry `json:"entries"`
}

// Audit returns the site's audit log entries that match f (admin).
func (c *Client) Audit(ctx context.Context, f AuditFilter) (*AuditLog, error) {
	var out AuditLog
	if err := c.do(ctx, http.MethodGet, "/v1/audit?"+f.Query().Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AppendAudit sends a server's batch of audit entries to the master,
// which commits them (agents use it; any agent forwards it to the master).
func (c *Client) AppendAudit(ctx context.Context, b AuditBatch) error {
	var out struct{}
	return c.do(ctx, http.MethodPost, "/v1/audit/entries", b, &out)
}
