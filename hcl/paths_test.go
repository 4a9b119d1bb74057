package hcl

import (
	"strings"
	"testing"

	"vigil/hcl/spec"
)

// TestStoragePathRule: configuration files and the API (ValidateSite on a
// spec without source ranges) refuse and accept the same storage paths.
func TestStoragePathRule(t *testing.T) {
	for p, ok := range map[string]bool{
		"/": false, "/etc": false, "/etc/vigil": false, "/proc/self": false, "/usr/lib/x": false, "//etc/../proc": false,
		"": false, " ": false, "../..": false, "..": false, "recordings/../../x": false, ".": false,
		"recordings": true, "a/../recordings": true, "/srv/rec": true, "/var/lib/vigil/recordings": true, "/rec": true, "/etcetera": true,
	} {
		src := `site "hq" {
  server "rec-1" {
    address = "10.0.0.1"
    storage "main" { path = "` + p + `" }
  }
}
`
		cfg, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
		hclOK := !diags.HasErrors()
		if hclOK != ok {
			t.Errorf("path %q: HCL accepts %v, want %v (%v)", p, hclOK, ok, diags)
		}
		if len(cfg.Sites) != 1 {
			continue
		}
		site := *cfg.Sites[0]
		site.Servers[0].Storage[0].Ranges = nil // as the API receives it
		if apiOK := !ValidateSite(&site).HasErrors(); apiOK != ok {
			t.Errorf("path %q: the API accepts %v, want %v", p, apiOK, ok)
		}
	}
	if err := spec.CheckStoragePath("/etc"); err == nil || !strings.Contains(err.Error(), "system directory /etc") {
		t.Errorf("/etc: %v", err)
	}
}

// TestSizesThatMeanNothing: a fractional byte count is refused instead of
// silently meaning "no limit", and a NaN floor by files and the API alike.
func TestSizesThatMeanNothing(t *testing.T) {
	if _, err := spec.ParseSize("0.5B"); err == nil {
		t.Error(`"0.5B" accepted`)
	}
	if n, err := spec.ParseSize("1.5KiB"); err != nil || n != 1536 {
		t.Errorf(`"1.5KiB": %d, %v`, n, err)
	}
	for attr, want := range map[string]string{`max_size = "0.5B"`: "whole number of bytes", `min_free = "NaN%"`: "free-space floor"} {
		src := `site "hq" {
  server "rec-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "rec"
      ` + attr + `
    }
  }
}
`
		_, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
		if !strings.Contains(diags.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", attr, diags, want)
		}
	}
}

// TestPortClashAcrossAddressSpellings: an IPv4-mapped IPv6 address and the
// IPv4 address are one address, so their ports clash.
func TestPortClashAcrossAddressSpellings(t *testing.T) {
	for _, pair := range [][2]string{{"127.0.0.60", "::ffff:127.0.0.60"}, {"::1", "0:0::1"}, {"Rec.example.", "rec.example"}} {
		src := `site "hq" {
  server "rec-1" {
    address = "` + pair[0] + `"
    storage "main" { path = "rec" }
  }
  server "rec-2" {
    address = "` + pair[1] + `"
    storage "main" { path = "rec" }
  }
}
`
		_, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
		if !strings.Contains(diags.Error(), "Port conflict") {
			t.Errorf("%s and %s on one port: %v", pair[0], pair[1], diags)
		}
	}
}

// TestFilesAndAPIAgree: values the issue found accepted by files and
// refused by the API (explicit empty values, a site that is its own
// parent) are refused by both.
func TestFilesAndAPIAgree(t *testing.T) {
	for name, body := range map[string]string{
		"empty group":     `group "g" { servers = [] }`,
		"empty address":   `server "rec-2" { address = "" }`,
		"own parent":      `parent = "hq"`,
		"empty path":      `server "rec-3" { address = "10.0.0.3" ` + "\n" + `storage "main" { path = "" } }`,
		"NaN floor":       `server "rec-3" { address = "10.0.0.3" ` + "\n" + `storage "main" { ` + "\n" + `path = "r"` + "\n" + `min_free = "NaN%" } }`,
		"fractional size": `server "rec-3" { address = "10.0.0.3" ` + "\n" + `storage "main" { ` + "\n" + `path = "r"` + "\n" + `max_size = "0.5B" } }`,
	} {
		src := "site \"hq\" {\n  server \"rec-1\" {\n    address = \"10.0.0.1\"\n    storage \"main\" { path = \"rec\" }\n  }\n  " + body + "\n}\n"
		cfg, diags := loadSources([]source{{"a.hcl", []byte(src)}}, LoadOptions{Env: []string{}}, nil)
		if !diags.HasErrors() {
			t.Errorf("%s: accepted in a file", name)
		}
		if len(cfg.Sites) == 1 && cfg.Sites[0] != nil && !strings.Contains(name, "size") {
			site := *cfg.Sites[0]
			site.Ranges = nil
			for _, g := range site.Groups {
				g.Ranges = nil
			}
			for _, sv := range site.Servers {
				sv.Ranges = nil
			}
			if !ValidateSite(&site).HasErrors() {
				t.Errorf("%s: accepted by the API", name)
			}
		}
	}
}
