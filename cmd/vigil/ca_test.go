package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vigil/dev/devsite"
	"vigil/runtime/api"
)

// trustSites makes the commands of the test trust the sites' CAs, as an
// operator does with VIGIL_CACERT (one file may hold a domain's CAs).
func trustSites(t testing.TB, sites ...*devsite.Site) {
	t.Helper()
	var pems []byte
	for _, s := range sites {
		pems = append(pems, s.CA.PEM()...)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pems, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(api.EnvCACert, file)
}

// vigil ca fetches the CA an agent presents only pinned by its fingerprint
// (or already trusted), computes the same from the agent configuration,
// and the file it writes is what VIGIL_CACERT needs.
func TestCA(t *testing.T) {
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(api.EnvCACert, "")
	addr, fp := s.Server("rec-1").Addr(), s.CA.Fingerprint()
	ca := func(want int, args ...string) (string, string) {
		t.Helper()
		code, out, errs := runArgs(append([]string{"ca"}, args...)...)
		if code != want {
			t.Fatalf("vigil ca %s: exit %d, want %d\n%s%s", strings.Join(args, " "), code, want, out, errs)
		}
		return out, errs
	}
	// Without the CA, status says how to get it.
	if code, _, errs := runArgs("status", "-address", addr); code != exitError || !strings.Contains(errs, "VIGIL_CACERT") {
		t.Errorf("status without the CA: exit %d, %s", code, errs)
	}
	// Unpinned: the fingerprint to compare, nothing written.
	out, errs := ca(exitError, "-address", addr)
	if out != "" || !strings.Contains(errs, fp) || !strings.Contains(errs, "-fingerprint "+fp) {
		t.Errorf("unpinned: stdout %q, stderr %q", out, errs)
	}
	// A wrong pin is refused.
	wrong := strings.Replace(fp, fp[:2], "00", 1)
	if fp[:2] == "00" {
		wrong = strings.Replace(fp, "00", "11", 1)
	}
	if _, errs := ca(exitError, "-address", addr, "-fingerprint", wrong); !strings.Contains(errs, "do not trust it") {
		t.Errorf("wrong pin: %s", errs)
	}
	// Pinned: written, and the commands trust it.
	file := filepath.Join(t.TempDir(), "vigil-ca.pem")
	if _, errs := ca(exitOK, "-address", addr, "-fingerprint", strings.ToLower(strings.ReplaceAll(fp, ":", "")), "-o", file); !strings.Contains(errs, "export VIGIL_CACERT="+file) {
		t.Errorf("pinned: %s", errs)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, s.CA.PEM()) {
		t.Errorf("wrote %q", got)
	}
	t.Setenv(api.EnvToken, s.Token)
	code, status, errs := runArgs("-ca-cert", file, "status", "-address", addr)
	if code != exitOK || !strings.Contains(status, "site CA SHA-256 "+fp) {
		t.Errorf("status with -ca-cert: exit %d\n%s%s", code, status, errs)
	}
	// Already trusted: written without a pin.
	t.Setenv(api.EnvCACert, file)
	if out, _ := ca(exitOK, "-address", addr); out != string(s.CA.PEM()) {
		t.Errorf("trusted: %q", out)
	}
	// Offline, from the agent configuration.
	cfgFile := filepath.Join(t.TempDir(), "agent.hcl")
	os.WriteFile(cfgFile, []byte(`server = "rec-1"
site = "`+s.Name+`"
data_dir = "data"
bind = "127.0.0.1"
token = "`+s.Token+`"
site_key = "`+base64.StdEncoding.EncodeToString(s.Key)+`"
`), 0o600)
	if out, errs := ca(exitOK, "-config", cfgFile); out != string(s.CA.PEM()) || !strings.Contains(errs, fp) {
		t.Errorf("-config: %q, %s", out, errs)
	}
}
