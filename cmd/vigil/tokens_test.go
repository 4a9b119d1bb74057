package main

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"vigil/hcl"
	"vigil/runtime/api"
)

func TestSiteTokenEnv(t *testing.T) {
	for site, want := range map[string]string{"north": "VIGIL_TOKEN_NORTH", "north-1": "VIGIL_TOKEN_NORTH_1", "hq.eu": "VIGIL_TOKEN_HQ_EU"} {
		if got := siteTokenEnv(site); got != want {
			t.Errorf("site %s: %s, want %s", site, got, want)
		}
	}
}

// In a domain, each site's token goes only to that site's servers:
// VIGIL_TOKEN_<SITE> first, then the site's file in VIGIL_TOKEN_DIR, then
// VIGIL_TOKEN.
func TestDomainSendsEachSiteItsOwnToken(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]string{} // site -> Authorization headers
	var ports []int
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	fake := func(site string) (host, port string) {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen[site] = append(seen[site], r.Header.Get("Authorization"))
			mu.Unlock()
			json.NewEncoder(w).Encode(api.State{Site: site, Answering: site + "-1", Version: version})
		}))
		srv.Listener.Close()
		srv.Listener = listenApart(t, ports)
		ports = append(ports, srv.Listener.Addr().(*net.TCPAddr).Port)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		// The servers' certificate is trusted as a site's CA would be.
		os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
		host, port, _ = net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
		return host, port
	}
	dir, tokens := t.TempDir(), t.TempDir()
	var cfg strings.Builder
	cfg.WriteString("domain \"acme\" {}\n")
	for _, site := range []string{"north", "south-1", "west"} {
		host, port := fake(site)
		fmt.Fprintf(&cfg, "site %q {\n  server \"%s-1\" {\n    address = %q\n    port    = %s\n    storage \"main\" {\n      path = \"/rec\"\n    }\n  }\n}\n", site, site, host, port)
	}
	if err := os.WriteFile(filepath.Join(dir, "domain.hcl"), []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tokens, "south-1"), []byte("south-token-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(api.EnvCACert, caFile)
	t.Setenv("VIGIL_TOKEN_NORTH", "north-token-0123456789")
	t.Setenv("VIGIL_TOKEN_DIR", tokens)
	t.Setenv(api.EnvToken, "domain-token-0123456789")
	if code, out, errs := vigil(t, "plan", dir); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	want := map[string]string{"north": "Bearer north-token-0123456789", "south-1": "Bearer south-token-from-file", "west": "Bearer domain-token-0123456789"}
	mu.Lock()
	defer mu.Unlock()
	for site, auth := range want {
		if len(seen[site]) == 0 {
			t.Errorf("site %s was not asked", site)
		}
		for _, got := range seen[site] {
			if got != auth {
				t.Errorf("site %s got %q, want %q", site, got, auth)
			}
		}
	}
}

// listenApart listens on a port of 127.0.0.1 at least hcl.PortsPerServer
// away from each of taken: the spec refuses servers on one address whose
// ports are closer (a random port may fall next to another). The listeners
// refused stay open until one fits, so that the kernel does not hand their
// ports back.
func listenApart(t *testing.T, taken []int) net.Listener {
	t.Helper()
	var refused []net.Listener
	defer func() {
		for _, l := range refused {
			l.Close()
		}
	}()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !slices.ContainsFunc(taken, func(p int) bool { return max(p-port, port-p) < hcl.PortsPerServer }) {
			return l
		}
		refused = append(refused, l)
	}
}
