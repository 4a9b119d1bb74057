package api

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vigil/runtime/siteca"
)

func TestNormalizeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                        DefaultAddress,
		"10.0.0.1":                "https://10.0.0.1:53540",
		"10.0.0.1:6000":           "https://10.0.0.1:6000",
		"http://host:1/":          "http://host:1",
		"https://vigil.example":   "https://vigil.example:53540",
		"[::1]":                   "https://[::1]:53540",
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
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	c := NewClient(srv.URL, "tok", WithCA(poolOf(srv.Certificate())))
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

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// The outside probe: a client pointed at a listener whose certificate is
// not of the CA it trusts (an external_address that leads elsewhere), or
// at a plain http:// address, sends it nothing: no token, no request.
func TestClientSendsNoTokenToAnUntrustedListener(t *testing.T) {
	var got []string
	probe := func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
	}
	impostor := httptest.NewTLSServer(http.HandlerFunc(probe))
	defer impostor.Close()
	plain := httptest.NewServer(http.HandlerFunc(probe))
	defer plain.Close()
	site, err := siteca.New("lobby", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	c := NewClient(impostor.URL, "secret-token", WithCA(site.Pool()))
	_, err = c.Apply(ctx, ApplyRequest{})
	var ce *CertificateError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "VIGIL_CACERT") {
		t.Errorf("apply to an impostor: %v, want a certificate error naming VIGIL_CACERT", err)
	}
	if _, err := c.State(ctx); !errors.As(err, &ce) {
		t.Errorf("state of an impostor: %v, want a certificate error", err)
	}
	// Without a CA given, the system's roots do not know the impostor either.
	if _, err := NewClient(impostor.URL, "secret-token").State(ctx); !errors.As(err, &ce) {
		t.Errorf("state of an impostor with the system's roots: %v, want a certificate error", err)
	}
	_, err = NewClient(plain.URL, "secret-token").Apply(ctx, ApplyRequest{})
	if err == nil || !strings.Contains(err.Error(), "refusing to send the API token in clear text") {
		t.Errorf("apply over plain http: %v, want a refusal", err)
	}
	if len(got) > 0 {
		t.Errorf("the listeners received %q", got)
	}
}
