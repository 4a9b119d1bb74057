package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedJSONRoundTrip: the JSON of a Site is the spec committed
// through raft and carried by the API, so specs committed by earlier
// versions must decode, and encode again to the very same bytes. The
// model goldens of testdata/hcl/valid are such JSON (written by hcl's
// TestGolden before the model moved here).
func TestCommittedJSONRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../../testdata/hcl/valid/*/model.golden.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no model goldens: %v", err)
	}
	for _, name := range files {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Domain *Domain `json:"domain,omitempty"`
			Sites  []*Site `json:"sites"`
		}
		dec := json.NewDecoder(bytes.NewReader(want))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, '\n'); !bytes.Equal(got, want) {
			t.Errorf("%s: decoding and encoding again changed it:\n%s", name, got)
		}
	}
}
