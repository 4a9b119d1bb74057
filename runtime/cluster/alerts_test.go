package cluster

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/runtime/api"
)

// The alert state: a committed notification is kept until every notifier
// has it, a repeated commit adds nothing, and a snapshot carries it all to
// a new master.
func TestAlertStateOutboxAndSnapshot(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	item := api.AlertItem{Condition: "server.dead", Server: "rec-1", State: api.ItemStarted, Since: time.Unix(100, 0).UTC(), Message: "rec-1 is dead"}
	n := api.Notification{ID: "n1", Site: "hq", Alert: "failover", Status: api.AlertFiring, Items: []api.AlertItem{item}}
	commit := AlertCommit{
		Started: []Incident{{Key: "failover/server.dead/rec-1/", Alert: "failover", Item: item}},
		Send:    []Outgoing{{Notification: n, Pending: []string{"pager", "home"}}},
	}
	applyEntry(t, f, cmdAlertCommit, cmdAlertCommitV, commit)
	applyEntry(t, f, cmdAlertCommit, cmdAlertCommitV, commit) // a retried commit
	applyEntry(t, f, cmdAlertDelivered, cmdAlertDeliveredV, alertDeliveredBody{ID: "n1", Notifier: "pager"})
	if len(f.alerts.Outbox) != 1 || !cmp.Equal(f.alerts.Outbox[0].Pending, []string{"home"}) || len(f.alerts.Incidents) != 1 {
		t.Fatalf("after a repeated commit and one delivery: %+v", f.alerts)
	}

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	g := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err := g.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(f.alerts, g.alerts); d != "" {
		t.Fatalf("restored alert state differs (-want +got):\n%s", d)
	}

	applyEntry(t, g, cmdAlertDelivered, cmdAlertDeliveredV, alertDeliveredBody{ID: "n1", Notifier: "home"})
	applyEntry(t, g, cmdAlertCommit, cmdAlertCommitV, AlertCommit{Ended: []string{"failover/server.dead/rec-1/"}})
	if len(g.alerts.Outbox) != 0 || len(g.alerts.Incidents) != 0 {
		t.Fatalf("delivered everywhere and ended: %+v", g.alerts)
	}

	// The outbox is bounded: the oldest go.
	for i := range MaxOutbox + 5 {
		applyEntry(t, g, cmdAlertCommit, cmdAlertCommitV, AlertCommit{Send: []Outgoing{{Notification: api.Notification{ID: string(rune('a'+i%26)) + time.Duration(i).String()}, Pending: []string{"pager"}}}})
	}
	if len(g.alerts.Outbox) != MaxOutbox || g.alerts.Outbox[0].Notification.ID != string(rune('a'+5))+time.Duration(5).String() {
		t.Fatalf("outbox of %d, first %q", len(g.alerts.Outbox), g.alerts.Outbox[0].Notification.ID)
	}
}
