package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateExamples(t *testing.T) {
	t.Setenv("VIGIL_VAR_camera_password", "Validate-Test-Secret")
	code, out, errOut := runCmd("validate", "../../examples/quickstart")
	if code != 0 || out != "Success! The configuration is valid: 1 site, 3 servers, 12 cameras.\n" || errOut != "" {
		t.Errorf("quickstart: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCmd("validate", "../../examples/enterprise")
	if code != 0 || !strings.HasPrefix(out, "Success!") {
		t.Errorf("enterprise: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestValidateInvalid(t *testing.T) {
	code, out, errOut := runCmd("validate", "../../testdata/hcl/invalid/undeclared-references")
	if code != 1 || out != "" {
		t.Errorf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{"Error: Reference to undeclared server", "main.hcl line 28, column 14:", `Did you mean "srv-1"?`, "The configuration is invalid:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "\x1b[") {
		t.Error("colour codes on a non-terminal")
	}
}

func TestValidateJSON(t *testing.T) {
	code, out, _ := runCmd("validate", "-json", "../../testdata/hcl/invalid/max-cameras")
	var res validateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if code != 1 || res.Valid || res.ErrorCount != 1 || res.WarningCount != 0 || len(res.Diagnostics) != 1 {
		t.Fatalf("exit %d, result %+v", code, res)
	}
	d := res.Diagnostics[0]
	if d.Severity != "error" || d.Range == nil || d.Range.Start.Line != 4 || !strings.HasSuffix(d.Range.Filename, "main.hcl") {
		t.Errorf("diagnostic %+v", d)
	}
	code, out, _ = runCmd("validate", "-json", "../../testdata/hcl/warning/two-servers-no-witness")
	if code != 0 || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"warning_count": 1`) {
		t.Errorf("warnings only: exit %d, %s", code, out)
	}
}

// TestValidateSensitive: a password given with -var appears in no output,
// valid or not.
func TestValidateSensitive(t *testing.T) {
	const secret = "Flag-Given-Secret-42"
	dir := t.TempDir()
	src, _ := os.ReadFile("../../testdata/hcl/invalid/sensitive-misuse/main.hcl")
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"validate", "-var", "camera_password=" + secret, "../../examples/enterprise"},
		{"validate", "-json", "-var", "camera_password=" + secret, "../../examples/enterprise"},
		{"validate", "-var", "secret=" + secret, dir},
		{"validate", "-json", "-var", "secret=" + secret, dir},
	} {
		_, out, errOut := runCmd(args...)
		if strings.Contains(out+errOut, secret) {
			t.Errorf("%v printed the secret:\n%s%s", args[:2], out, errOut)
		}
	}
}

func TestFmt(t *testing.T) {
	dir := t.TempDir()
	bad := "site \"a\" {\nkeepalive=\"1s\"\n}\n"
	good := "site \"a\" {\n  keepalive = \"1s\"\n}\n"
	name := filepath.Join(dir, "a.hcl")
	if err := os.WriteFile(name, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	subName := filepath.Join(dir, "sub", "b.hcl")
	if err := os.WriteFile(subName, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}

	code, out, _ := runCmd("fmt", "-check", "-diff", dir)
	if code != fmtWouldChange || !strings.HasPrefix(out, name+"\n") || !strings.Contains(out, "-keepalive=\"1s\"\n+  keepalive = \"1s\"\n") {
		t.Errorf("-check -diff: exit %d, stdout:\n%s", code, out)
	}
	if strings.Contains(out, subName) {
		t.Error("-check without -recursive looked into a subdirectory")
	}
	if src, _ := os.ReadFile(name); string(src) != bad {
		t.Error("-check changed the file")
	}
	if code, out, _ = runCmd("fmt", "-recursive", dir); code != 0 || out != name+"\n"+subName+"\n" {
		t.Errorf("fmt: exit %d, stdout %q", code, out)
	}
	for _, f := range []string{name, subName} {
		if src, _ := os.ReadFile(f); string(src) != good {
			t.Errorf("%s after fmt:\n%s", f, src)
		}
	}
	if code, out, _ = runCmd("fmt", "-check", "-recursive", dir); code != 0 || out != "" {
		t.Errorf("second -check: exit %d, stdout %q", code, out)
	}

	if err := os.WriteFile(name, []byte("site \"a\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCmd("fmt", name)
	if code != fmtError || !strings.Contains(errOut, "a.hcl line 1") {
		t.Errorf("syntax error: exit %d, stderr %q", code, errOut)
	}
}

// TestFmtReplacesFile: fmt writes through a symbolic link, keeps the
// file's permissions and leaves no temporary file behind.
func TestFmtReplacesFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.hcl")
	if err := os.WriteFile(target, []byte("site \"a\" {\nkeepalive=\"1s\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.hcl")
	if err := os.Symlink("real.hcl", link); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCmd("fmt", link); code != fmtOK {
		t.Fatalf("fmt: exit %d, stderr %q", code, errOut)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if src, _ := os.ReadFile(target); string(src) != "site \"a\" {\n  keepalive = \"1s\"\n}\n" {
		t.Errorf("target after fmt:\n%s", src)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after fmt: %v %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files left in the directory: %v", entries)
	}
}
