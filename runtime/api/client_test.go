package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                        DefaultAddress,
		"10.0.0.1":                "http://10.0.0.1:53540",
		"10.0.0.1:6000":           "http://10.0.0.1:6000",
		"http://host:1/":          "http://host:1",
		"https://vigil.example":   "https://vigil.example:53540",
		"[::1]":                   "http://[::1]:53540",
		"http://10.0.0.1:7/proxy": "http://10.0.0.1:7/proxy",
	} {
		if got := NormalizeAddress(in); got != want {
			t.Errorf("NormalizeAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientErrors(t *testing.T) {
	answers := map[string]struct {
		code int
		body string
	}{
		"/v1/apply":           {409, `{"error":"stale","revision":5,"base_revision":3}`},
		"/v1/master/transfer": {401, `{"error":"missing API token"}`},
		"/v1/state":           {503, `not json`},
		"/v1/drain":           {503, `{"error":"the commit was not confirmed","outcome_unknown":true}`},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/health" {
			if r.Header.Get("Authorization") != "Bearer tok" {
				t.Errorf("token not sent: %q", r.Header.Get("Authorization"))
			}
			w.Write([]byte(`{"status":"ok","server":"rec-1"}`))
			return
		}
		a := answers[r.URL.Path]
		w.WriteHeader(a.code)
		w.Write([]byte(a.body))
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "tok")
	ctx := context.Background()

	if h, err := c.Health(ctx); err != nil || h.Server != "rec-1" {
		t.Errorf("health: %+v, %v", h, err)
	}
	_, err := c.Apply(ctx, ApplyRequest{})
	var stale *StaleError
	if !errors.As(err, &stale) || stale.Revision != 5 || stale.BaseRevision != 3 {
		t.Errorf("apply: %v", err)
	}
	if _, err := c.TransferMaster(ctx, "rec-2"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("transfer: %v", err)
	}
	_, err = c.State(ctx)
	var se *StatusError
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) || !errors.As(err, &se) || se.Message != "not json" {
		t.Errorf("state: %v", err)
	}
	// A commit the master could not confirm is told apart from a refusal.
	if _, err := c.Drain(ctx, "rec-2", false); !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("drain: %v", err)
	}
}
