package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// A peer that answers slowly, with garbage or for another server is no
// answer: an error, within the time askPeers gives it, never a hang.
func TestFetchFootageFromBadPeers(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"garbage": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>oops")) },
		"error":   func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) },
		"impostor": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`[{"server":"rec-9","camera":"cam1","pieces":[{"server":"rec-9"}]}]`))
		},
		"slow": func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
	} {
		srv := httptest.NewTLSServer(h)
		ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
		_, err := (&Agent{peerHTTP: srv.Client()}).fetchFootage(ctx, strings.TrimPrefix(srv.URL, "https://"), "rec-2", url.Values{"camera": {"cam1"}})
		cancel()
		srv.Close()
		if err == nil {
			t.Errorf("%s peer: no error", name)
		}
	}
}
