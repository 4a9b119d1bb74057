package views_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/views"
	"vigil/runtime/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/plan")

// goldenNow is the time given to every golden plan.
var goldenNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// Each directory of testdata/plan is a scenario:
//
//	desired.hcl  the configuration to plan
//	live.json    the live state (api.State) the agent answers
//	live.hcl     optional: the committed spec, loaded and redacted into live.json's spec
//	fail         optional: servers to simulate dead, comma-separated (-fail)
//	plan.txt     expected text output (or the error, when planning fails)
//	plan.json    expected JSON output
func TestGoldenPlans(t *testing.T) {
	dirs, err := filepath.Glob("../../testdata/plan/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "desired.hcl")); err != nil {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			desired := load(t, filepath.Join(dir, "desired.hcl"))
			live := loadLive(t, dir)
			var fail []string
			if b, err := os.ReadFile(filepath.Join(dir, "fail")); err == nil {
				fail = strings.Split(strings.TrimSpace(string(b)), ",")
			}
			var footage *api.HoldFootage
			if b, err := os.ReadFile(filepath.Join(dir, "footage.json")); err == nil {
				if err := json.Unmarshal(b, &footage); err != nil {
					t.Fatalf("footage.json: %v", err)
				}
			}
			var text, js bytes.Buffer
			p, err := planner.Plan(desired.Sites[0], live, planner.Options{Fail: fail, Sensitive: desired.Sensitive, Now: goldenNow, Footage: footage})
			if err != nil {
				text.WriteString("Error: " + err.Error() + "\n")
			} else {
				if err := views.Text(&text, p, false); err != nil {
					t.Fatal(err)
				}
				if err := views.JSON(&js, p, nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, secret := range desired.Sensitive {
				if strings.Contains(text.String(), secret) || strings.Contains(js.String(), secret) {
					t.Errorf("the plan shows the value of a sensitive variable")
				}
			}
			golden(t, filepath.Join(dir, "plan.txt"), text.Bytes())
			if js.Len() > 0 {
				golden(t, filepath.Join(dir, "plan.json"), js.Bytes())
			}
		})
	}
	if n == 0 {
		t.Fatal("no scenarios in testdata/plan")
	}
}

func load(t testing.TB, path string) *hcl.Config {
	t.Helper()
	cfg, diags := hcl.Load([]string{path}, hcl.LoadOptions{Env: []string{}})
	if diags.HasErrors() {
		var b bytes.Buffer
		hcl.WriteDiagnostics(&b, diags, cfg.Files, false, cfg.Sensitive)
		t.Fatalf("loading %s:\n%s", path, b.String())
	}
	if len(cfg.Sites) != 1 {
		t.Fatalf("%s: want one site, got %d", path, len(cfg.Sites))
	}
	return cfg
}

// loadLive reads a scenario's live state; live.hcl, when present, is the
// committed spec, redacted as the agent serves it.
func loadLive(t testing.TB, dir string) *api.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "live.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st api.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("%s/live.json: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "live.hcl")); err == nil {
		st.Spec, st.FingerprintKey = load(t, filepath.Join(dir, "live.hcl")).Sites[0].Redacted(spec.NewFingerprinter(testKey)), testKey
	}
	return &st
}

// testKey is the fingerprint key of the test sites' live states.
var testKey = []byte("test site fingerprint key")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner/views -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (-want +got; run go test ./planner/views -update and review the diff):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}
