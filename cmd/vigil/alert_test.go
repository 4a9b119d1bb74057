package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/alerting"
	"vigil/runtime/api"
)

// TestAlertTestAndEvents: vigil alert test sends through the agent and
// prints what the webhook answered; vigil events shows it in the site's
// history, filtered by kind.
func TestAlertTestAndEvents(t *testing.T) {
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	trustSites(t, s)
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var sig string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig = r.Header.Get(api.SignatureHeader)
		if sig != alerting.Sign("s3cret", body) || !strings.Contains(string(body), `"status":"test"`) {
			http.Error(w, "bad test message", http.StatusBadRequest)
			return
		}
		w.Write([]byte("thanks"))
	}))
	defer hook.Close()
	site := s.Spec()
	site.Notifiers = []*spec.Notifier{{Name: "pager", Webhook: &spec.WebhookNotifier{URL: hook.URL, Secret: "s3cret"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Commit(ctx, site); err != nil {
		t.Fatal(err)
	}
	addr := s.Server("rec-1").Addr()
	t.Setenv(api.EnvToken, s.Token)

	code, out, errs := vigil(t, "alert", "test", "-address", addr, "pager")
	if code != 0 || !strings.Contains(out, "The server answered: 200 OK: thanks") || !strings.Contains(out, "webhook "+hook.URL) {
		t.Fatalf("alert test: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = vigil(t, "alert", "test", "-address", addr, "-json", "pager")
	if code != 0 || !strings.Contains(out, `"answer": "200 OK: thanks"`) {
		t.Errorf("alert test -json: exit %d\n%s", code, out)
	}
	code, _, errs = vigil(t, "alert", "test", "-address", addr, "pagr")
	if code != 1 || !strings.Contains(errs, `no notifier "pagr". Did you mean "pager"? (notifiers: pager)`) {
		t.Errorf("unknown notifier: exit %d: %s", code, errs)
	}
	code, out, errs = vigil(t, "events", "-address", addr, "-follow=false", "-since", "10m", "-kind", "alert.*")
	if code != 0 || !strings.Contains(out, "alert.test") || strings.Contains(out, "agent.started") {
		t.Errorf("events -kind alert.*: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = vigil(t, "events", "-address", addr, "-since", "yesterday")
	if code != 2 || !strings.Contains(errs, "neither a duration") {
		t.Errorf("events -since yesterday: exit %d: %s", code, errs)
	}
}
