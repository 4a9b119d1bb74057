package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/runtime/api"
)

// auditRig is an auditor on a clock the test moves, sending to a slice.
type auditRig struct {
	au   *auditor
	now  time.Time
	sent []api.AuditBatch
	fail error
}

func newAuditRig() *auditRig {
	r := &auditRig{now: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	r.au = newAuditor("rec-1", prometheus.NewRegistry(), func(_ context.Context, b api.AuditBatch) error {
		if r.fail != nil {
			return r.fail
		}
		r.sent = append(r.sent, b)
		return nil
	})
	r.au.now = func() time.Time { return r.now }
	return r
}

func (r *auditRig) entries() []api.AuditEntry {
	var out []api.AuditEntry
	for _, b := range r.sent {
		out = append(out, b.Entries...)
	}
	return out
}

// TestAuditFloodAggregated: 1,000 failed logins from one address in a
// minute are one entry and one aggregate saying how many; from 1,000
// addresses, the budget's worth itemised and one overflow entry counting
// the rest. The state gets a handful of batches either way.
func TestAuditFloodAggregated(t *testing.T) {
	r := newAuditRig()
	for i := range 1000 {
		r.now = r.now.Add(time.Millisecond)
		r.au.record(api.AuditEntry{Kind: api.AuditLoginFailed, User: "anonymous", Address: "10.9.9.9", Detail: "POST /v1/apply: wrong API token"})
		if i%100 == 0 {
			r.au.flush(context.Background())
		}
	}
	r.now = r.now.Add(time.Minute)
	r.au.flush(context.Background())
	es := r.entries()
	if len(es) != 2 || es[0].Count != 0 || es[1].Count != 999 || !strings.Contains(es[1].Detail, "aggregated: the same 999 more times") {
		t.Fatalf("one address: %d entries %+v, want one and an aggregate of 999", len(es), es)
	}
	if !es[1].Last.After(es[1].Time) || es[1].Server != "rec-1" || es[1].Address != "10.9.9.9" {
		t.Errorf("aggregate %+v: want its span, server and address", es[1])
	}

	r = newAuditRig()
	for i := range 1000 {
		r.au.record(api.AuditEntry{Kind: api.AuditLoginFailed, User: "anonymous", Address: fmt.Sprintf("10.0.%d.%d", i/250, i%250)})
	}
	r.au.record(api.AuditEntry{Kind: api.AuditExport, User: "alice", Camera: "gate"})
	r.now = r.now.Add(time.Minute)
	r.au.flush(context.Background())
	r.au.flush(context.Background())
	es = r.entries()
	if len(r.sent) > 2 || len(es) != auditNoisyBudget+2 {
		t.Fatalf("1,000 addresses: %d batches of %d entries, want %d itemised, the export, one overflow", len(r.sent), len(es), auditNoisyBudget)
	}
	if es[auditNoisyBudget].Kind != api.AuditExport {
		t.Errorf("the export after the flood was not itemised: %+v", es[auditNoisyBudget])
	}
	o := es[len(es)-1]
	want := "940 login.failed entries not itemised: over rec-1's bound of 300 entries a minute (60 failed logins and refusals); from 940 addresses (10.0.0.100, 10.0.0.101, 10.0.0.102, 10.0.0.103, 10.0.0.104, …), as 1 user (anonymous)"
	if o.Kind != api.AuditOverflow || o.Count != 940 || o.Detail != want {
		t.Errorf("overflow entry %+v\nwant detail %q", o, want)
	}
}

// TestAuditSessions: an HLS player's polls are one playback session; the
// same caller again after auditSessionGap, another camera or another
// address start new ones.
func TestAuditSessions(t *testing.T) {
	r := newAuditRig()
	var started []string
	poll := func(user, addr, cam string) {
		if r.au.session(api.AuditPlayback, user, addr, cam) {
			started = append(started, user+"@"+addr+"/"+cam)
		}
	}
	for range 100 {
		r.now = r.now.Add(4 * time.Second)
		poll("alice", "10.0.0.1", "gate")
	}
	poll("alice", "10.0.0.2", "gate")
	poll("alice", "10.0.0.1", "dock")
	poll("bob", "10.0.0.1", "gate")
	r.now = r.now.Add(auditSessionGap)
	poll("alice", "10.0.0.1", "gate")
	want := "alice@10.0.0.1/gate alice@10.0.0.2/gate alice@10.0.0.1/dock bob@10.0.0.1/gate alice@10.0.0.1/gate"
	if got := strings.Join(started, " "); got != want {
		t.Errorf("sessions started: %s\nwant %s", got, want)
	}
}

// TestAuditRetriedBatch: a batch the master did not confirm is sent again
// with the same sequence number (the state keeps it once); entries that
// wait past the queue's bound are lost, and an overflow entry says so.
func TestAuditRetriedBatch(t *testing.T) {
	r := newAuditRig()
	r.fail = errors.New("no master")
	r.au.record(api.AuditEntry{Kind: api.AuditApply, User: "agent-token", Revision: 2})
	if err := r.au.flush(context.Background()); err == nil {
		t.Fatal("flush without a master did not fail")
	}
	for i := range auditMaxQueued + 5 {
		r.au.queue(api.AuditEntry{Kind: api.AuditPlayback, Camera: fmt.Sprint("cam", i), Time: r.now})
	}
	r.fail = nil
	for r.au.pending() > 0 {
		if err := r.au.flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.sent) < 2 || r.sent[0].Seq != 1 || r.sent[0].Entries[0].Revision != 2 || r.sent[1].Seq != 2 {
		t.Fatalf("batches after the master came back: %d, want the failed one again (seq 1) first", len(r.sent))
	}
	es := r.entries()
	var lost *api.AuditEntry
	for i := range es {
		if es[i].Kind == api.AuditOverflow {
			lost = &es[i]
		}
	}
	if lost == nil || lost.Count != 5 || !strings.Contains(lost.Detail, "5 audit entries lost: no master took them") {
		t.Errorf("lost entries: %+v, want an overflow entry for 5", lost)
	}
	if n := len(es); n != auditMaxQueued+2 {
		t.Errorf("%d entries sent, want %d (the apply, the queue's bound and the overflow entry)", n, auditMaxQueued+2)
	}
}
