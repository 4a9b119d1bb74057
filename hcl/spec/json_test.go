package spec

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
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

// TestOlderCommittedJSON: a spec committed before the model had its own
// package (testdata/committed-before-spec.json, the full example's model
// at that time, before audit_retention, users, tokens and camera TLS)
// decodes, and encodes again with every value it had, unchanged; fields
// added since appear with their zero values.
func TestOlderCommittedJSON(t *testing.T) {
	old, err := os.ReadFile("testdata/committed-before-spec.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Domain *Domain `json:"domain,omitempty"`
		Sites  []*Site `json:"sites"`
	}
	dec := json.NewDecoder(bytes.NewReader(old))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	hq := cfg.Sites[1]
	if hq.Server("spare").Kind != KindStandby || !hq.Server("spare").Kind.CanRecord() ||
		hq.Camera("door").Redundancy != RedundancyConstant || hq.Camera("door").Transport != TransportUDP {
		t.Errorf("the typed values did not decode: %+v %+v", hq.Server("spare"), hq.Camera("door"))
	}
	again, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var was, is any
	if err := json.Unmarshal(old, &was); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &is); err != nil {
		t.Fatal(err)
	}
	if path := lost(was, is, "$"); path != "" {
		t.Errorf("encoding the decoded spec changed or dropped %s", path)
	}
}

// lost returns the first place where a value of was is not in is, or "".
func lost(was, is any, path string) string {
	switch w := was.(type) {
	case map[string]any:
		m, ok := is.(map[string]any)
		if !ok {
			return path
		}
		for k, v := range w {
			if p := lost(v, m[k], path+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		l, ok := is.([]any)
		if !ok || len(l) != len(w) {
			return path
		}
		for i := range w {
			if p := lost(w[i], l[i], path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
		return ""
	}
	if !reflect.DeepEqual(was, is) {
		return path
	}
	return ""
}
