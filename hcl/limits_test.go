package hcl

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLoadBounds: each configuration of the hardening issue is refused
// with a diagnostic instead of exhausting memory, stack or time.
func TestLoadBounds(t *testing.T) {
	defer func(i int64) { maxIterations = i }(maxIterations)
	maxIterations = 100_000 // the nested for below reaches it quickly

	doubling := func(expr string) string {
		var b strings.Builder
		b.WriteString("locals {\n  a0 = [\"xxxxxxxxxxxxxxxx\"]\n  s0 = \"xxxxxxxxxxxxxxxx\"\n")
		for i := 1; i < 64; i++ {
			b.WriteString("  " + strings.NewReplacer("$P", "a"+strconv.Itoa(i-1), "$S", "s"+strconv.Itoa(i-1), "$N", strconv.Itoa(i)).Replace(expr) + "\n")
		}
		b.WriteString("}\n")
		return b.String()
	}
	for _, tc := range []struct{ name, src, want string }{
		{"setproduct", `locals { boom = length(setproduct(range(1000), range(1000), range(1000))) }`, "the result in a call of setproduct()"},
		{"range", `locals { boom = length(range(1e12)) }`, "the result in a call of range()"},
		{"nested for", `locals { boom = length([for a in range(1000) : [for b in range(1000) : [for c in range(1000) : 1]]]) }`, "for expressions iterate over more than"},
		{"string doubling", doubling(`s$N = "${local.$S}${local.$S}"`), "string templates build more than"},
		{"list doubling", doubling(`a$N = concat(local.$P, local.$P)`), "in a call of concat()"},
		{"join of repeats", `locals {
  big  = join("", [for i in range(1000) : "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"])
  boom = jsonencode([for i in range(1000) : local.big])
}`, "in a call of jsonencode()"},
		{"format width", `locals { boom = format("%099999999d", 1) }`, "in a call of format()"},
		{"replace", `locals {
  s    = join("", [for i in range(1000) : "aaaaaaaaaa"])
  boom = replace(local.s, "a", local.s)
}`, "in a call of replace()"},
		{"swallowed by can", `locals { ok = can(setproduct(range(1000), range(1000), range(1000))) }`, "Configuration too costly to evaluate"},
		{"parentheses", "locals { x = " + strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000) + " }", "nested more than 100 levels"},
		{"negations", "locals { x = " + strings.Repeat("!", 200_000) + "true }", "nested more than 100 levels"},
		{"conditionals", "locals { x = " + strings.Repeat("true ? 1 : ", 50_000) + "2 }", "nested more than 100 levels"},
	} {
		if strings.Contains(tc.want, "nested") && !CheckSyntax([]byte(tc.src), "boom.hcl").HasErrors() {
			t.Errorf("%s: vigil fmt's syntax check accepts it", tc.name)
		}
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := loadSources([]source{{"boom.hcl", []byte(tc.src)}}, LoadOptions{Env: []string{}}, nil)
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Fatalf("diagnostics %v, want an error with %q", diags, tc.want)
			}
			var out bytes.Buffer
			WriteDiagnostics(&out, diags, cfg.Files, false, nil)
			if out.Len() > 20_000 {
				t.Errorf("%d bytes of diagnostics", out.Len())
			}
		})
	}
}

// TestLoadInputBounds: a symlink to a device and an oversized file are
// refused before they are read.
func TestLoadInputBounds(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.hcl")); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(filepath.Join(dir, "big.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	big.Truncate(maxFileSize + 1) // sparse: no disk used
	big.Close()
	_, diags := Load([]string{dir}, LoadOptions{Env: []string{}})
	var msg string
	for _, d := range diags {
		msg += d.Detail + "\n"
	}
	for _, want := range []string{"zero.hcl is not a regular file", "big.hcl is 16777217 bytes, more than the 16777216"} {
		if !strings.Contains(msg, want) {
			t.Errorf("diagnostics %q lack %q", msg, want)
		}
	}
	ok := t.TempDir()
	os.WriteFile(filepath.Join(ok, "a.hcl"), []byte("variable \"x\" {\n  default = 1\n}\n"), 0o644)
	_, diags = Load([]string{ok}, LoadOptions{Env: []string{}, VarFiles: []string{filepath.Join(dir, "zero.hcl")}})
	if !strings.Contains(diags.Error(), "not a regular file") {
		t.Errorf("a device as variables file: %v", diags)
	}
}

// TestDiagnosticsOutputBounded: 20,000 undeclared names on one line and a
// 2 MB name (the was 10 MB: same code path, slower) give a bounded amount of text and JSON.
func TestDiagnosticsOutputBounded(t *testing.T) {
	var names []string
	for i := range 20_000 {
		names = append(names, `"srv`+strings.Repeat("x", i%7)+strconv.Itoa(i%100)+`-`+strings.Repeat("y", i/100%10)+string(rune('a'+i%26))+`"`)
	}
	undeclared := `site "hq" {
  server "rec-1" { address = "10.0.0.1" }
  camera "c1" {
    url    = "rtsp://10.0.0.5/s"
    server = "rec-1"
    backup = [` + strings.Join(names, ",") + `]
  }
}
`
	bigName := `site "hq" {
  server "rec-1" { address = "10.0.0.1" }
  camera "` + strings.Repeat("a", 2<<20) + `" {
    url    = "rtsp://10.0.0.5/s"
    server = "rec-1"
  }
}
`
	for name, src := range map[string]string{"undeclared": undeclared, "big name": bigName} {
		t.Run(name, func(t *testing.T) {
			cfg, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var out bytes.Buffer
			if err := WriteDiagnostics(&out, diags, cfg.Files, true, nil); err != nil {
				t.Fatal(err)
			}
			js := DiagnosticsJSON(diags)
			size := 0
			for _, d := range js {
				size += len(d.Summary) + len(d.Detail)
			}
			if out.Len() > 200_000 || len(js) > maxShownDiagnostics+1 || size > 200_000 {
				t.Errorf("%d diagnostics gave %d bytes of text, %d JSON diagnostics of %d bytes", len(diags), out.Len(), len(js), size)
			}
		})
	}
}

// TestNamesDifferingInCase: two cameras or servers whose names differ only
// in case are refused (one directory on case-insensitive filesystems).
func TestNamesDifferingInCase(t *testing.T) {
	src := `site "hq" {
  server "rec-1" { address = "10.0.0.1" }
  server "REC-1" { address = "10.0.0.2" }
  camera "gate" {
    url    = "rtsp://10.0.0.5/s"
    server = "rec-1"
  }
  camera "Gate" {
    url    = "rtsp://10.0.0.6/s"
    server = "rec-1"
  }
}
`
	_, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
	var got []string
	for _, d := range diags {
		if d.Summary == "Names differ only in case" {
			got = append(got, d.Detail)
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], `"rec-1" and "REC-1"`) || !strings.Contains(got[1], `"gate" and "Gate"`) {
		t.Errorf("case clashes reported: %q", got)
	}
}

// TestCanKeepsSensitive: can() and try() over a sensitive value give a
// sensitive result, so a loop over a character set cannot spell a secret
// out through an argument that is shown.
func TestCanKeepsSensitive(t *testing.T) {
	for _, fn := range []string{`can(regex("^${c}", var.pw))`, `try(regex("^${c}", var.pw), "") != ""`} {
		src := `variable "pw" {
  sensitive = true
  default   = "s3cret-pw"
}
locals {
  first = [for c in ["a", "s", "x"] : c if ` + fn + `]
}
site "hq" {
  description = local.first[0]
  server "rec-1" { address = "10.0.0.1" }
}
`
		_, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
		if !strings.Contains(diags.Error(), "Sensitive value not allowed here") {
			t.Errorf("%s: diagnostics %v, want the description refused as sensitive", fn, diags)
		}
	}
}

// TestShortSecretsScrubbed: a secret of one or two characters is hidden
// where it stands alone, and left inside other words.
func TestShortSecretsScrubbed(t *testing.T) {
	got := Scrub(`password "ab" is wrong (ab); tab, abc and lab stay`, []string{"ab"})
	want := `password "(sensitive)" is wrong ((sensitive)); tab, abc and lab stay`
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestLiteralPasswordNotShown: a password written in a file, on a line
// with an error, is not shown with the error (the agent logs these).
func TestLiteralPasswordNotShown(t *testing.T) {
	for name, src := range map[string]string{
		"syntax error": `site "hq" {
  camera "c1" { password = "hunter2-pw" url = "rtsp://10.0.0.5/s" }
}
`,
		"invalid value": `site "hq" {
  server "rec-1" { address = "10.0.0.1" }
  camera "c1" {
    url = "rtsp://admin:hunter2-pw@10.0.0.5/s" server = "nowhere"
  }
}
`,
		"a password pasted as its hash": `site "hq" {
  user "alice" {
    role          = "viewer"
    password_hash = "hunter2-pw"
  }
}
`,
		"a token pasted as its hash": `site "hq" {
  token "ci" {
    role = "admin"
    hash = "hunter2-pw"
  }
}
`,
	} {
		cfg, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
		if !diags.HasErrors() {
			t.Fatalf("%s: no error", name)
		}
		var out bytes.Buffer
		WriteDiagnostics(&out, diags, cfg.Files, false, cfg.Sensitive)
		if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "(sensitive)") {
			t.Errorf("%s:\n%s", name, out.String())
		}
	}
}
