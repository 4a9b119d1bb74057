package hcl

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func render(t *testing.T, cfg *Config, diags hhcl.Diagnostics) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteDiagnostics(&b, diags, cfg.Files, false, cfg.Sensitive); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

const enterprisePassword = "Enterprise-Camera-Pa55"

func TestExamples(t *testing.T) {
	env := []string{"VIGIL_VAR_camera_password=" + enterprisePassword}
	for _, tc := range []struct {
		dir                     string
		sites, servers, cameras int
	}{
		{"quickstart", 1, 3, 12},
		{"enterprise", 3, 12, 81},
		{"large", 41, 241, 10000},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			cfg, diags := Load([]string{filepath.Join("..", "examples", tc.dir)}, LoadOptions{Env: env})
			if len(diags) > 0 {
				t.Fatalf("want no diagnostics, got:\n%s", render(t, cfg, diags))
			}
			servers, cameras := 0, 0
			for _, s := range cfg.Sites {
				servers += len(s.Servers)
				cameras += len(s.Cameras)
			}
			if len(cfg.Sites) != tc.sites || servers != tc.servers || cameras != tc.cameras {
				t.Errorf("got %d sites, %d servers, %d cameras; want %d, %d, %d", len(cfg.Sites), servers, cameras, tc.sites, tc.servers, tc.cameras)
			}
		})
	}
}

func TestQuickstartLayout(t *testing.T) {
	cfg, diags := Load([]string{"../examples/quickstart"}, LoadOptions{Env: []string{}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s := cfg.Site("quickstart")
	perServer := map[string]int{}
	for _, c := range s.Cameras {
		perServer[c.Server]++
		if len(c.Backup) != 2 || c.Backup[0] == c.Server || c.Backup[1] == c.Server {
			t.Errorf("camera %s on %s has backups %v; want the two other servers", c.Name, c.Server, c.Backup)
		}
		if !strings.HasPrefix(c.URL, "rtsp://127.0.0.1:8554/cam") {
			t.Errorf("camera %s url %q", c.Name, c.URL)
		}
	}
	for i, v := range s.Servers {
		if want := "127.0.0.1" + string(rune('1'+i)); v.Address != want || v.Port != spec.DefaultAPIPort || perServer[v.Name] != 4 {
			t.Errorf("server %s: address %s port %d cameras %d; want %s %d 4", v.Name, v.Address, v.Port, perServer[v.Name], want, spec.DefaultAPIPort)
		}
		if filepath.IsAbs(v.Storage[0].Path) {
			t.Errorf("server %s: storage path %q should be relative to the agent's data directory", v.Name, v.Storage[0].Path)
		}
	}
}

func TestSyntaxErrorNamesFileAndLine(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl": "site \"a\" {\n}\n",
		"b.hcl": "site \"b\" {\n  description = \"x\"\n  keepalive = = 1\n}\n",
	})
	cfg, diags := Load([]string{dir}, LoadOptions{Env: []string{}})
	if !diags.HasErrors() {
		t.Fatal("no error for a syntax error")
	}
	d := diags[0]
	if d.Subject == nil || d.Subject.Filename != filepath.Join(dir, "b.hcl") || d.Subject.Start.Line != 3 {
		t.Fatalf("error at %v; want b.hcl line 3", d.Subject)
	}
	text := render(t, cfg, diags)
	if !strings.Contains(text, "b.hcl line 3") || !strings.Contains(text, "keepalive = = 1") {
		t.Errorf("rendering lacks the place or the source line:\n%s", text)
	}
}

// TestSensitiveNeverPrinted feeds a sensitive value everywhere it could leak
// from and checks every output: text and JSON diagnostics, the redacted
// model, and the rendering of a source line that holds the value.
func TestSensitiveNeverPrinted(t *testing.T) {
	const secret = "Sup3r-Secret-Value"
	dir := writeFiles(t, map[string]string{"main.hcl": `
variable "pw" {
  type      = string
  sensitive = true
}
variable "pin" {
  type      = number
  sensitive = true
  default   = 1
}
site "hq" {
  description = "pw is ${var.pw}"
  server "s1" {
    address = "10.0.0.1"
    port    = tonumber(var.pw)
    storage "main" {
      path = "/rec"
    }
  }
  camera "c1" {
    url      = "rtsp://admin:${var.pw}@10.0.1.1/s"
    password = var.pw
    server   = "s1"
  }
  camera "c2" {
    url      = "rtsp://10.0.1.2/${var.pw}"
    password = "${var.pw}-2"
    server   = "nope-${var.pw}"
  }
  user "u" {
    role          = "viewer"
    password_hash = var.pw
  }
  token "t" {
    role = "admin"
    hash = "sha256:${var.pw}"
  }
}
`})
	cfg, diags := Load([]string{dir}, LoadOptions{Env: []string{"VIGIL_VAR_pw=" + secret}, Vars: map[string]string{"pin": secret}})
	if !diags.HasErrors() {
		t.Fatal("want errors")
	}
	// A diagnostic pointing at a line that holds the value in clear text.
	src := []byte("password = \"" + secret + "\"\n")
	cfg.Files["clear.hcl"] = src
	diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Test " + secret, Detail: "detail " + secret,
		Subject: &hhcl.Range{Filename: "clear.hcl", Start: hhcl.Pos{Line: 1, Column: 12, Byte: 11}, End: hhcl.Pos{Line: 1, Column: 32, Byte: len(src) - 1}}})

	var outputs []string
	outputs = append(outputs, render(t, cfg, diags))
	var color bytes.Buffer
	_ = WriteDiagnostics(&color, diags, cfg.Files, true, cfg.Sensitive)
	outputs = append(outputs, color.String())
	j, _ := json.Marshal(DiagnosticsJSON(diags[:len(diags)-1]))
	outputs = append(outputs, string(j))
	for _, s := range cfg.Sites {
		m, _ := json.Marshal(s.Redacted(spec.NewFingerprinter([]byte("key"))))
		outputs = append(outputs, string(m))
	}
	for i, out := range outputs {
		if strings.Contains(out, secret) {
			t.Errorf("output %d contains the secret:\n%s", i, out)
		}
	}
	if !strings.Contains(outputs[0], "(sensitive)") {
		t.Errorf("the scrubbed line should say (sensitive):\n%s", outputs[0])
	}
	// The model itself keeps the password: it is the spec sent to agents.
	if c := cfg.Site("hq").Camera("c1"); c == nil || c.Password != secret {
		t.Errorf("camera c1 lost its password: %+v", c)
	}
	if u := cfg.Site("hq").User("u"); u == nil || u.PasswordHash != secret {
		t.Errorf("user u lost its password hash: %+v", u)
	}
}

// TestInvalidSensitiveValue: a sensitive value of the wrong type is not
// shown by the error about it, neither in its text nor in the source line.
func TestInvalidSensitiveValue(t *testing.T) {
	const secret = "Not-A-Number-Secret"
	dir := writeFiles(t, map[string]string{
		"main.hcl":    "variable \"pin\" {\n  type      = number\n  sensitive = true\n}\n",
		"values.vars": "pin = \"" + secret + "\"\n",
	})
	for _, opts := range []LoadOptions{
		{Env: []string{}, VarFiles: []string{filepath.Join(dir, "values.vars")}},
		{Env: []string{}, Vars: map[string]string{"pin": secret}},
		{Env: []string{"VIGIL_VAR_pin=" + secret}},
	} {
		cfg, diags := Load([]string{filepath.Join(dir, "main.hcl")}, opts)
		if !diags.HasErrors() {
			t.Fatal("want an error")
		}
		if out := render(t, cfg, diags); strings.Contains(out, secret) {
			t.Errorf("the error shows the secret:\n%s", out)
		}
	}
}

func TestRedactedIsACopy(t *testing.T) {
	s := &spec.Site{Name: "x", Cameras: []*spec.Camera{{Name: "c", Password: "pw1", URL: "rtsp://u:pw1@h/p"}}}
	fp := spec.NewFingerprinter([]byte("site key"))
	r := s.Redacted(fp)
	if s.Cameras[0].Password != "pw1" || s.Cameras[0].URL != "rtsp://u:pw1@h/p" {
		t.Fatal("Redacted changed the original")
	}
	if !spec.IsFingerprint(r.Cameras[0].Password) || r.Cameras[0].URL != "rtsp://u:"+fp("pw1")+"@h/p" {
		t.Fatalf("redacted camera: %+v", r.Cameras[0])
	}
	if fp("pw1") == fp("pw2") || fp(r.Cameras[0].Password) != r.Cameras[0].Password {
		t.Error("fingerprints must differ for different secrets and be stable when applied twice")
	}
	if r := s.Redacted(nil); r.Cameras[0].Password != "(sensitive)" || r.Cameras[0].URL != "rtsp://u:(sensitive)@h/p" {
		t.Errorf("redacted without a key: %+v", r.Cameras[0])
	}
}

func TestVariablePrecedence(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl": `
variable "a" {
  default = "default"
}
variable "b" {
  default = "default"
}
variable "c" {
  default = "default"
}
variable "ports" {
  type    = list(number)
  default = []
}
site "s" {
  description = "${var.a} ${var.b} ${var.c} ${length(var.ports)}"
}
`,
		"values.vars": "b = \"file\"\nc = \"file\"\n",
	})
	cfg, diags := Load([]string{filepath.Join(dir, "main.hcl")}, LoadOptions{
		Env:      []string{"VIGIL_VAR_a=env", "VIGIL_VAR_b=env", "VIGIL_VAR_c=env", "OTHER=1"},
		VarFiles: []string{filepath.Join(dir, "values.vars")},
		Vars:     map[string]string{"c": "flag", "ports": "[1, 2, 3]"},
	})
	if diags.HasErrors() {
		t.Fatal(render(t, cfg, diags))
	}
	if got := cfg.Sites[0].Description; got != "env file flag 3" {
		t.Errorf("description %q; want env < file < flag", got)
	}
	_, diags = Load([]string{filepath.Join(dir, "main.hcl")}, LoadOptions{Env: []string{}, Vars: map[string]string{"d": "x"}})
	if !diags.HasErrors() || !strings.Contains(diags[0].Summary, "undeclared variable") {
		t.Errorf("an undeclared -var should be an error: %v", diags)
	}
}

// TestValidateSiteWithoutRanges is the agent's use: a spec decoded from
// JSON, with no source ranges, is held to the same rules.
func TestValidateSiteWithoutRanges(t *testing.T) {
	s := &spec.Site{Name: "api", Failback: true,
		Servers: []*spec.Server{{Name: "a", Address: "10.0.0.1", Storage: []*spec.Storage{{Name: "m", Path: "/r"}}}},
		Cameras: []*spec.Camera{{Name: "c", URL: "rtsp://h/p", Server: "b", Balance: true}},
	}
	spec.ApplyDefaults(s)
	if s.Keepalive != spec.DefaultKeepalive || s.Servers[0].Port != spec.DefaultAPIPort || s.Cameras[0].Transport != "tcp" {
		t.Fatalf("defaults not applied: %+v", s)
	}
	diags := ValidateSite(s)
	if len(diags) != 1 || diags[0].Subject != nil || !strings.Contains(diags[0].Detail, `Did you mean "a"?`) {
		t.Fatalf("want one unplaced error with a suggestion, got %v", diags)
	}
	var b bytes.Buffer
	_ = WriteDiagnostics(&b, diags, nil, false, nil)
	if !strings.HasPrefix(b.String(), "Error: Reference to undeclared server\n\nCamera") {
		t.Errorf("rendering without a range:\n%s", b.String())
	}
}

func TestDynamicBlockLimit(t *testing.T) {
	defer func(old int64) { maxDynamicBlocks = old }(maxDynamicBlocks)
	maxDynamicBlocks = 50
	dir := writeFiles(t, map[string]string{"main.hcl": `
dynamic "site" {
  for_each = range(10)
  labels   = ["s${site.value}"]
  content {
    dynamic "server" {
      for_each = range(10)
      labels   = ["v${server.value}"]
      content {
        address = "10.0.${site.value}.${server.value}"
      }
    }
  }
}
`})
	_, diags := Load([]string{dir}, LoadOptions{Env: []string{}})
	found := false
	for _, d := range diags {
		found = found || d.Summary == "Too many dynamic blocks"
	}
	if !found {
		t.Errorf("want a dynamic block limit error, got %v", diags)
	}
}

func TestUnits(t *testing.T) {
	for in, want := range map[string]time.Duration{"500ms": 500 * time.Millisecond, "30s": 30 * time.Second,
		"14d": 14 * 24 * time.Hour, "1h30m": 90 * time.Minute, "2w": 14 * 24 * time.Hour, "1.5s": 1500 * time.Millisecond} {
		if got, err := spec.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
		if got, _ := spec.ParseDuration(spec.FormatDuration(want)); got != want {
			t.Errorf("FormatDuration(%v) does not round-trip", want)
		}
	}
	for _, in := range []string{"", "10", "s", "5 parsecs", "1e400h"} {
		if _, err := spec.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", in)
		}
	}
	for in, want := range map[string]int64{"500MB": 500e6, "2TB": 2e12, "64GiB": 64 << 30, "1kib": 1024, "10 GB": 10e9} {
		if got, err := spec.ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "12", "12XB", "-"} {
		if _, err := spec.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
	for in, want := range map[float64]string{0: "0 B", 999: "999 B", 64 << 20: "67.1 MB", 2e12: "2.0 TB"} {
		if got := spec.FormatSize(in); got != want {
			t.Errorf("FormatSize(%v) = %q, want %q", in, got, want)
		}
	}
	w, err := spec.ParseHourWindow("22:00-04:00")
	if err != nil || !w.Contains(23*60) || !w.Contains(60) || w.Contains(12*60) || spec.FormatHourWindow(w) != "22:00-04:00" {
		t.Errorf("window across midnight: %+v %v", w, err)
	}
	if w, err := spec.ParseHourWindow("00:00-24:00"); err != nil || !w.Contains(0) || !w.Contains(24*60-1) {
		t.Errorf("whole-day window: %+v %v", w, err)
	}
	if d, err := spec.ParseWeekday("Saturday"); err != nil || d != time.Saturday {
		t.Errorf("ParseWeekday: %v %v", d, err)
	}
}

func TestFormat(t *testing.T) {
	in := []byte("site \"a\" {\nkeepalive=\"1s\"\n  description   =   \"x\"\n}\n")
	out := Format(in)
	want := "site \"a\" {\n  keepalive   = \"1s\"\n  description = \"x\"\n}\n"
	if string(out) != want {
		t.Fatalf("Format:\n%s\nwant:\n%s", out, want)
	}
	if !bytes.Equal(Format(out), out) {
		t.Error("Format is not idempotent")
	}
	for _, dir := range []string{"quickstart", "enterprise", "large"} {
		files, _ := filepath.Glob(filepath.Join("..", "examples", dir, "*.hcl"))
		for _, f := range files {
			src, _ := os.ReadFile(f)
			if !bytes.Equal(Format(src), src) {
				t.Errorf("%s is not formatted (run vigil fmt)", f)
			}
		}
	}
}

func TestUnifiedDiff(t *testing.T) {
	var a, b []string
	for i := range 30 {
		a = append(a, "line"+string(rune('A'+i)))
	}
	b = append(b, a...)
	b[2] = "changed"
	b[25] = "also changed"
	got := UnifiedDiff("f.hcl", strings.Join(a, "\n")+"\n", strings.Join(b, "\n")+"\n")
	want := "--- old/f.hcl\n+++ new/f.hcl\n" +
		"@@ -1,6 +1,6 @@\n lineA\n lineB\n-lineC\n+changed\n lineD\n lineE\n lineF\n" +
		"@@ -23,7 +23,7 @@\n lineW\n lineX\n lineY\n-lineZ\n+also changed\n line[\n line\\\n line]\n"
	if got != want {
		t.Errorf("UnifiedDiff:\n%s\nwant:\n%s", got, want)
	}
}

// A list or map partly unknown, because a variable has no value, leaves its
// site incomplete: only the missing variable is reported.
func TestPartlyUnknownCollection(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `
variable "missing" { type = string }
site "s" {
  server "a" { address = "10.0.0.1" }
  server "b" { address = "10.0.0.2" }
  camera "c" {
    url    = "rtsp://10.0.0.3/"
    server = "a"
    backup = ["b", var.missing]
    labels = { x = var.missing }
  }
}`})
	cfg, diags := Load([]string{dir}, LoadOptions{Env: []string{}})
	if len(diags) != 1 || diags[0].Summary != "No value for required variable" {
		t.Errorf("want only the missing variable, got:\n%s", render(t, cfg, diags))
	}
}

// TestBrokenSensitiveVarFile: a variables file whose line for a sensitive
// variable fails to parse or evaluate, or misspells its name, does not show
// the value.
func TestBrokenSensitiveVarFile(t *testing.T) {
	const secret = "Broken-Line-Secret"
	for _, line := range []string{
		`pw = "` + secret,                          // unterminated string
		`pw = "` + secret + `" + 1`,                // evaluation error
		`pw = parseint("` + secret + `", 10)`,      // the error quotes the argument
		`pw = upper("` + secret + `", 3)`,          // wrong number of arguments
		`pw = ["` + secret + `"]`,                  // wrong type
		`pw = "${upper("` + secret + `")}${nope}"`, // template with an unknown reference
		`pwd = "` + secret + `"`,                   // a misspelt name: warned about, not set
	} {
		dir := writeFiles(t, map[string]string{
			"main.hcl":    "variable \"pw\" {\n  type      = string\n  sensitive = true\n}\n",
			"values.vars": line + "\n",
		})
		cfg, diags := Load([]string{filepath.Join(dir, "main.hcl")}, LoadOptions{Env: []string{}, VarFiles: []string{filepath.Join(dir, "values.vars")}})
		if len(diags) == 0 {
			t.Fatalf("%s: want a diagnostic", line)
		}
		out := render(t, cfg, diags)
		if strings.Contains(out, secret) {
			t.Errorf("%s: the error shows the secret:\n%s", line, out)
		}
		if !strings.Contains(out, "values.vars line 1") {
			t.Errorf("%s: the error should still name the place:\n%s", line, out)
		}
	}
}
