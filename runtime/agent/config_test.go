package agent

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
)

var testKey = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

func TestParseConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("tok-123-456-7890\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "site.key"), []byte(testKey+"\n"), 0o600)
	src := `
server        = "rec-1"
site          = "hq"
data_dir      = "data"
bind          = "10.0.0.11"
port          = 6000
join          = ["10.0.0.12", "10.0.0.13:7000"]
token_file    = "token"
site_key_file = "site.key"
log_level     = "debug"
`
	cfg, diags := ParseConfig(filepath.Join(dir, "agent.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.Server != "rec-1" || cfg.Site != "hq" || cfg.Port != 6000 || cfg.Bind != "10.0.0.11" {
		t.Errorf("config %+v", cfg)
	}
	if cfg.DataDir != filepath.Join(dir, "data") {
		t.Errorf("data_dir %q is not relative to the file's directory", cfg.DataDir)
	}
	if cfg.Token != "tok-123-456-7890" || len(cfg.SiteKey) != 32 {
		t.Errorf("token %q, key of %d bytes", cfg.Token, len(cfg.SiteKey))
	}
	if cfg.LogLevel.String() != "DEBUG" {
		t.Errorf("log level %v", cfg.LogLevel)
	}
	for i, want := range []string{"10.0.0.12:53541", "10.0.0.13:7001"} {
		if got, err := JoinAddress(cfg.Join[i]); err != nil || got != want {
			t.Errorf("join %q → %q, %v; want %q", cfg.Join[i], got, err, want)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	base := `server = "rec-1"
site = "hq"
bind = "10.0.0.1"
data_dir = "/d"
token = "0123456789abcdef"
site_key = "` + testKey + `"
`
	for _, tc := range []struct{ name, src, want string }{
		{"missing token", strings.Replace(base, `token = "0123456789abcdef"`, "", 1), "Missing API token"},
		{"short key", strings.Replace(base, testKey, base64.StdEncoding.EncodeToString([]byte("short")), 1), "must be 32 bytes, this one is 5"},
		{"unknown attribute", base + "colour = 1\n", `An argument named "colour" is not expected here`},
		{"bad port", base + "port = 70000\n", "port 70000 is out of range"},
		{"all addresses need advertise", strings.Replace(base, `bind = "10.0.0.1"`, "", 1), "set advertise"},
		{"bad name", strings.Replace(base, `"rec-1"`, `"rec 1"`, 1), "Invalid server name"},
		{"both tokens", base + `token_file = "x"` + "\n", "either token or token_file"},
		{"one-character token", strings.Replace(base, `"0123456789abcdef"`, `"t"`, 1), "API token too short"},
		{"short metrics token", base + `metrics_token = "prom"` + "\n", "Metrics token too short"},
		{"metrics token is the API token", base + `metrics_token = "0123456789abcdef"` + "\n", "must differ from token"},
		{"certificate without key", base + `tls_cert_file = "api.crt"` + "\n", "Set both tls_cert_file and tls_key_file"},
		{"key without certificate", base + `tls_key_file = "api.key"` + "\n", "Set both tls_cert_file and tls_key_file"},
		{"missing certificate", base + "tls_cert_file = \"no-such.crt\"\ntls_key_file = \"no-such.key\"\n", "cannot be used"},
		{"bad plain_http", base + `plain_http = "allow"` + "\n", `"allow" is neither "redirect"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := ParseConfig("agent.hcl", []byte(tc.src))
			if !diags.HasErrors() {
				t.Fatalf("no error")
			}
			if !strings.Contains(diags.Error(), tc.want) {
				t.Errorf("diagnostics %q lack %q", diags.Error(), tc.want)
			}
			for _, d := range diags {
				if d.Subject == nil && tc.name != "missing token" {
					t.Errorf("diagnostic %q has no source range", d.Summary)
				}
			}
		})
	}
}

// The defaults: plain HTTP is redirected, the site CA's certificate served.
func TestParseConfigTLSDefaults(t *testing.T) {
	cfg, diags := ParseConfig("agent.hcl", []byte("server = \"rec-1\"\nsite = \"hq\"\nbind = \"10.0.0.1\"\ndata_dir = \"/d\"\ntoken = \"0123456789abcdef\"\nsite_key = \""+testKey+"\"\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.PlainHTTP != PlainHTTPRedirect || cfg.TLSCertFile != "" || cfg.APIAddr() != "https://10.0.0.1:53540" {
		t.Errorf("plain_http %q, tls_cert_file %q, API %s", cfg.PlainHTTP, cfg.TLSCertFile, cfg.APIAddr())
	}
}

// A warm session holds from the late verdict to the dead one and a GOP,
// within 10 to 20 s.
func TestWarmHold(t *testing.T) {
	for k, want := range map[time.Duration]time.Duration{
		time.Second: 10 * time.Second, 5 * time.Second: 15 * time.Second, time.Minute: 20 * time.Second,
	} {
		if got := warmHold(k); got != want {
			t.Errorf("keepalive %v: hold %v, want %v", k, got, want)
		}
	}
}

// Token and key files that others may read are accepted with a warning.
func TestLooseSecretFileModesWarned(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "token"), []byte("0123456789abcdef\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "site.key"), []byte(testKey+"\n"), 0o600)
	src := "server = \"rec-1\"\nsite = \"hq\"\nbind = \"10.0.0.1\"\ndata_dir = \"d\"\ntoken_file = \"token\"\nsite_key_file = \"site.key\"\n"
	_, diags := ParseConfig(filepath.Join(dir, "agent.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, "chmod 600") || !strings.Contains(diags[0].Detail, "token") {
		t.Errorf("diagnostics %v, want one warning about the token file", diags)
	}
}

// TestServerNamesFollowTheModelRule: the agent accepts exactly the server
// and site names that a site's configuration may declare (issue #18: a
// server named rec.1 could be planned but never run).
func TestServerNamesFollowTheModelRule(t *testing.T) {
	base := "bind = \"10.0.0.1\"\ndata_dir = \"/d\"\ntoken = \"0123456789abcdef\"\nsite_key = \"" + testKey + "\"\n"
	for _, name := range []string{"rec.1", "1rec", "rec-1", "Rec_1", "rec 1", "", strings.Repeat("a", 63), strings.Repeat("a", 64), "-rec", ".rec", "ré"} {
		for _, attr := range []string{"server", "site"} {
			other := map[string]string{"server": "site", "site": "server"}[attr]
			src := fmt.Sprintf("%s = %q\n%s = \"ok\"\n", attr, name, other) + base
			_, diags := ParseConfig("agent.hcl", []byte(src))
			if got, want := !diags.HasErrors(), spec.ValidName(name); got != want {
				t.Errorf("%s %q: agent accepts %v, model rule %v (%v)", attr, name, got, want, diags)
			}
		}
	}
}

// TestStorageRoots: the spec's absolute storage paths must lie under the
// agent's data directory or its storage roots.
func TestStorageRoots(t *testing.T) {
	c := &Config{DataDir: "/var/lib/vigil/data"}
	for p, ok := range map[string]bool{
		"/var/lib/vigil/data/recordings": true, "/srv/rec": true, "/mnt/disk1": true, "/data": true,
		"/opt/rec": false, "/home/user": false, "/srvx": false, "/var/lib/vigil/../../tmp": false,
	} {
		if err := c.checkVolume(p); (err == nil) != ok {
			t.Errorf("%s: %v, want allowed %v", p, err, ok)
		}
	}
	src := "server = \"rec-1\"\nsite = \"hq\"\nbind = \"10.0.0.1\"\ndata_dir = \"/d\"\ntoken = \"0123456789abcdef\"\nsite_key = \"" + testKey + "\"\n"
	cfg, diags := ParseConfig("agent.hcl", []byte(src+"storage_roots = [\"/opt/rec\"]\n"))
	if diags.HasErrors() || cfg.checkVolume("/opt/rec/main") != nil || cfg.checkVolume("/srv/rec") == nil {
		t.Errorf("storage_roots = [\"/opt/rec\"]: %v", diags)
	}
	if _, diags := ParseConfig("agent.hcl", []byte(src+"storage_roots = [\"/etc\"]\n")); !strings.Contains(diags.Error(), "Invalid storage root") {
		t.Errorf("storage_roots = [\"/etc\"]: %v", diags)
	}
}
