package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"vigil/hcl"
	"vigil/runtime/access"
)

// TestTokenNew: vigil token new prints a token and a token block that
// loads, whose hash admits that token and no other; two runs differ.
func TestTokenNew(t *testing.T) {
	seen := map[string]bool{}
	for range 2 {
		code, out, errs := runArgs("token", "new", "-role", "operator", "ci")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		tok := regexp.MustCompile(`(?m)^  (vigil_\S+)$`).FindStringSubmatch(out)
		block := out[strings.Index(out, `token "ci" {`):]
		if tok == nil || seen[tok[1]] {
			t.Fatalf("no new token in:\n%s", out)
		}
		seen[tok[1]] = true
		dir := t.TempDir()
		err := os.WriteFile(dir+"/site.hcl", []byte(block+`
site "hq" {
  server "rec-1" {
    address = "10.0.0.1"
    kind    = "witness"
  }
}
`), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cfg, diags := hcl.Load([]string{dir}, hcl.LoadOptions{Env: []string{}})
		if diags.HasErrors() {
			t.Fatalf("the printed block does not load: %v\n%s", diags, block)
		}
		got := cfg.Site("hq").Token("ci")
		if got == nil || got.Role != "operator" || !access.TokenMatches(got.Hash, tok[1]) || access.TokenMatches(got.Hash, tok[1]+"x") {
			t.Errorf("token block %+v does not admit exactly the printed token", got)
		}
	}
	for _, args := range [][]string{{"token", "new"}, {"token", "new", "-role", "root", "ci"}, {"token", "new", "bad name"}} {
		if code, _, _ := runArgs(args...); code != exitUsage {
			t.Errorf("vigil %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}
