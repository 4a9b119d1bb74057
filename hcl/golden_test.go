package hcl

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
	"vigil/runtime/assign"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/hcl")

// TestGolden loads every case of testdata/hcl: invalid/<rule> must fail,
// warning/<rule> must load with warnings only, valid/<name> must load
// without errors. Each case's text diagnostics are compared with
// diagnostics.golden, and the decoded model of a valid case (passwords
// redacted) with model.golden.json. A case's values.vars, if present, is
// passed as a -var-file.
func TestGolden(t *testing.T) {
	for _, kind := range []string{"invalid", "warning", "valid"} {
		dirs, err := filepath.Glob(filepath.Join("..", "testdata", "hcl", kind, "*"))
		if err != nil || len(dirs) == 0 {
			t.Fatalf("no %s cases: %v", kind, err)
		}
		for _, dir := range dirs {
			t.Run(kind+"/"+filepath.Base(dir), func(t *testing.T) {
				t.Chdir(dir)
				// The capacity warnings come from the assignment, as in vigil validate.
				opts := LoadOptions{Env: []string{}, Capacity: assign.Uncovered}
				if _, err := os.Stat("values.vars"); err == nil {
					opts.VarFiles = []string{"values.vars"}
				}
				cfg, diags := Load([]string{"."}, opts)
				var text bytes.Buffer
				if err := WriteDiagnostics(&text, diags, cfg.Files, false, cfg.Sensitive); err != nil {
					t.Fatal(err)
				}
				errs, warns := 0, 0
				for _, d := range diags {
					if d.Severity == hhcl.DiagWarning {
						warns++
					} else {
						errs++
					}
				}
				switch kind {
				case "invalid":
					if errs == 0 {
						t.Errorf("no errors; want at least one")
					}
				case "warning":
					if errs != 0 || warns == 0 {
						t.Errorf("%d errors and %d warnings; want only warnings", errs, warns)
					}
				case "valid":
					if errs != 0 {
						t.Errorf("unexpected errors:\n%s", text.String())
					}
				}
				compareGolden(t, "diagnostics.golden", text.Bytes())
				outputs := [][]byte{text.Bytes(), mustJSON(t, DiagnosticsJSON(diags))}
				if kind == "valid" {
					model := modelJSON(t, cfg)
					compareGolden(t, "model.golden.json", model)
					outputs = append(outputs, model)
				}
				for _, secret := range cfg.Sensitive {
					for _, out := range outputs {
						if bytes.Contains(out, []byte(secret)) {
							t.Errorf("output contains the sensitive value %q", secret)
						}
					}
				}
			})
		}
	}
}

// modelJSON is the golden rendering of a configuration: its JSON with every
// site redacted.
func modelJSON(t *testing.T, cfg *Config) []byte {
	t.Helper()
	out := struct {
		Domain *spec.Domain `json:"domain,omitempty"`
		Sites  []*spec.Site `json:"sites"`
	}{Domain: cfg.Domain}
	for _, s := range cfg.Sites {
		out.Sites = append(out.Sites, s.Redacted(nil))
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test ./hcl -run TestGolden -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", name, diff)
	}
}
