package agent_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// TestUnauthorizedFlood: a burst of requests with a wrong or missing token
// gives one api.unauthorized event (and log line), not one each, so the
// real events stay in the backlog; the Bearer scheme is case-insensitive.
func TestUnauthorizedFlood(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 0)
	ctx := ctxFor(t, 30*time.Second)
	addr := s.Server("rec-1").Addr()
	for i := 0; i < 300; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/v1/master/transfer", strings.NewReader(`{"server":"rec-1"}`))
		if i%2 == 0 {
			req.Header.Set("Authorization", "Bearer wrong")
		}
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("request %d: %s, want 401", i, resp.Status)
		}
	}
	// The right token with a lower-case scheme is accepted.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/v1/master/transfer", strings.NewReader(`{"server":"rec-1"}`))
	req.Header.Set("Authorization", "bearer "+s.Token)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		t.Error(`"bearer TOKEN" refused`)
	}

	s.Server("rec-1").Agent().Emit(api.Event{Severity: "info", Kind: "test.marker", Message: "end of flood"})
	evctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := s.Client("rec-1").Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for ev := range events {
		count[ev.Kind]++
		if ev.Kind == "test.marker" {
			break
		}
	}
	if count["api.unauthorized"] != 1 || count["agent.started"] != 1 {
		t.Errorf("events after 300 refused requests: %v, want one api.unauthorized and agent.started kept", count)
	}
}
