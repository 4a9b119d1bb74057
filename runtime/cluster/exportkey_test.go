package cluster

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"vigil/hcl/spec"
)

// TestFSMExportKey: the first committed export key stays the site's key,
// survives a snapshot and restore, and appears in no shown state.
func TestFSMExportKey(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := newFSM(log, nil)
	if f.siteExportKey() != nil {
		t.Fatal("a key before the first apply")
	}
	seed1, seed2 := bytes.Repeat([]byte{1}, ed25519.SeedSize), bytes.Repeat([]byte{2}, ed25519.SeedSize)
	spec := spec.Site{Name: "hq"}
	// A stale apply carries no key into the state.
	applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec, Base: 7, ExportKey: seed2})
	if f.siteExportKey() != nil {
		t.Fatal("a refused apply set the key")
	}
	applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec, Base: 0, Time: time.Unix(1, 0).UTC(), ExportKey: seed1})
	applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec, Base: 1, Time: time.Unix(2, 0).UTC(), ExportKey: seed2})
	want := ed25519.NewKeyFromSeed(seed1)
	if !want.Equal(f.siteExportKey()) {
		t.Fatal("the first committed key was replaced")
	}
	st, _ := json.Marshal(f.current())
	if bytes.Contains(st, []byte("export")) || bytes.Contains(st, seed1) {
		t.Fatalf("the key shows in the state: %s", st)
	}

	g := restored(t, f)
	if !want.Equal(g.siteExportKey()) {
		t.Fatal("the key was lost by a snapshot and restore")
	}
	// A snapshot of a site formed before export keys restores without one.
	old, _ := json.Marshal(snapshotData{V: snapshotV, Revision: 3})
	if err := g.Restore(io.NopCloser(bytes.NewReader(old))); err != nil {
		t.Fatal(err)
	}
	if g.siteExportKey() != nil {
		t.Fatal("a restore kept the key of the state it replaced")
	}
}
