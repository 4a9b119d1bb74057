package hcl

import "testing"

// TestTokensPerSite: a token block in a site belongs to that site only,
// one at the top level to every site, so each site of a domain can have
// its own tokens.
func TestTokensPerSite(t *testing.T) {
	dir := writeFiles(t, map[string]string{"main.hcl": `
token "ops" {
  role = "admin"
  hash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
}
site "north" {
  server "n1" {
    address = "10.0.0.1"
    kind    = "witness"
  }
  token "north-ci" {
    role = "operator"
    hash = "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
  }
}
site "south" {
  server "s1" {
    address = "10.0.1.1"
    kind    = "witness"
  }
}
`})
	cfg, diags := Load([]string{dir}, LoadOptions{Env: []string{}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	north, south := cfg.Site("north"), cfg.Site("south")
	if north.Token("north-ci") == nil || south.Token("north-ci") != nil {
		t.Error("a site's token block must belong to that site only")
	}
	if north.Token("ops") == nil || south.Token("ops") == nil || north.Token("ops") == south.Token("ops") {
		t.Error("a top-level token block must belong to every site, each its own copy")
	}
}
