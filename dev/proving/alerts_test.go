package proving

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/alerting"
	"vigil/runtime/api"
)

// TestAlertOnKill: a real agent process killed with kill -9 gives one
// grouped webhook notification listing its cameras, and one resolved
// notification when it returns. The time from the kill to the webhook's
// arrival is logged (a figure, not an assertion).
func TestAlertOnKill(t *testing.T) {
	s := New(t, Options{Servers: 3, Cameras: 6})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The webhook listens in the ctl namespace, on the site network.
	ip := s.Servers[0].IP[:strings.LastIndexByte(s.Servers[0].IP, '.')] + ".250"
	ln, err := s.Ctl.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan api.Notification, 10)
	arrived := make(chan time.Time, 10)
	const secret = "proving-secret"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(api.SignatureHeader) != alerting.Sign(secret, body) {
			t.Errorf("bad signature")
		}
		var n api.Notification
		json.Unmarshal(body, &n)
		arrived <- time.Now()
		got <- n
	})}
	go srv.Serve(ln)
	defer srv.Close()

	site := s.Spec()
	site.Notifiers = []*spec.Notifier{{Name: "pager", Webhook: &spec.WebhookNotifier{URL: "http://" + ln.Addr().String() + "/vigil", Secret: secret}}}
	site.Alerts = []*spec.Alert{{Name: "failover", When: []string{"server.dead", "takeover", "server.back"}, Notify: []string{"pager"}}}
	if err := s.Apply(ctx, site); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitRecording(ctx, "s1", s.Expected(nil)); err != nil {
		t.Fatal(err)
	}
	st, err := s.Wait(ctx, "s1", func(st *api.State) bool { return st.Master != "" })
	if err != nil {
		t.Fatal(err)
	}
	victim := "s3"
	if st.Master == victim {
		victim = "s2"
	}
	killed := time.Now()
	s.Kill(victim)
	var n api.Notification
	select {
	case n = <-got:
	case <-ctx.Done():
		t.Fatal("no notification after kill -9")
	}
	t.Logf("kill -9 of %s to the webhook's arrival: %v (keepalive %v, 3 servers, 6 cameras)", victim, (<-arrived).Sub(killed).Round(time.Millisecond), site.Keepalive)
	var moved []string
	dead := false
	for _, it := range n.Items {
		dead = dead || it.Condition == "server.dead" && it.Server == victim
		if it.Condition == "takeover.started" {
			moved = it.Cameras
		}
	}
	if n.Status != api.AlertFiring || !dead || len(moved) != 2 {
		t.Fatalf("notification %+v, want %s dead and its 2 cameras taken over, in one message", n, victim)
	}
	if err := s.Start(victim); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		<-arrived
		if r.Status != api.AlertResolved {
			t.Fatalf("after the return: %+v, want the resolved notification", r)
		}
	case <-ctx.Done():
		t.Fatal("no resolved notification")
	}
}
