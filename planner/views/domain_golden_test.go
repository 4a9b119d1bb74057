package views_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/views"
	"vigil/runtime/api"
)

// Each directory testdata/plan/domain-* is a domain scenario:
//
//	domain.hcl       the configuration of several sites
//	live/SITE.json   the live state of SITE; a site without one does not answer
//	live/committed.hcl  optional: the committed specs of the sites (one file,
//	                 so that parent references resolve), each redacted into
//	                 its site's state
//	plan.txt         expected text output
//	plan.json        expected JSON output
func TestGoldenDomainPlans(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/plan/domain-*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no domain scenarios in testdata/plan")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, diags := hcl.Load([]string{filepath.Join(dir, "domain.hcl")}, hcl.LoadOptions{Env: []string{}})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			d, err := planner.PlanDomain(context.Background(), cfg, liveDomain(t, dir, cfg), planner.DomainOptions{
				Options: planner.Options{Sensitive: cfg.Sensitive, Now: goldenNow},
			})
			if err != nil {
				t.Fatal(err)
			}
			var text, js bytes.Buffer
			if err := views.DomainText(&text, d, false); err != nil {
				t.Fatal(err)
			}
			if err := views.DomainJSON(&js, d, nil); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "plan.txt"), text.Bytes())
			golden(t, filepath.Join(dir, "plan.json"), js.Bytes())
		})
	}
}

// liveDomain answers for the addresses of every site that has a live file,
// and refuses the connection for the others.
func liveDomain(t *testing.T, dir string, cfg *hcl.Config) planner.StateFunc {
	states := map[string]*api.State{}
	var committed *hcl.Config
	if spec := filepath.Join(dir, "live", "committed.hcl"); fileExists(spec) {
		c, diags := hcl.Load([]string{spec}, hcl.LoadOptions{Env: []string{}})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		committed = c
	}
	for _, s := range cfg.Sites {
		b, err := os.ReadFile(filepath.Join(dir, "live", s.Name+".json"))
		if err != nil {
			continue
		}
		var st api.State
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("live/%s.json: %v", s.Name, err)
		}
		if committed != nil && committed.Site(s.Name) != nil {
			st.Spec, st.FingerprintKey = committed.Site(s.Name).Redacted(spec.NewFingerprinter(testKey)), testKey
		}
		for _, a := range planner.SiteAddresses(s) {
			states[a] = &st
		}
	}
	return func(_ context.Context, address string) (*api.State, error) {
		if st := states[address]; st != nil {
			return st, nil
		}
		return nil, fmt.Errorf("cannot reach vigil agent at http://%s: is it running? (connection refused)", address)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
