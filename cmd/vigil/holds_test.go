package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// TestPlanShowsHoldFootage: on a real site recording a simulated camera,
// vigil plan lists a committed hold with the footage the servers keep for
// it, and warns about a new hold whose period has no footage any more.
func TestPlanShowsHoldFootage(t *testing.T) {
	s := startSite(t, []string{"rec-1", "rec-2"}, 1)
	addr := s.Server("rec-1").Addr()
	now := time.Now().UTC()
	config := func(holds string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "site %q {\n  keepalive = \"1s\"\n", s.Name)
		for _, n := range s.Names() {
			srv := s.Server(n)
			fmt.Fprintf(&b, "  server %q {\n    address = %q\n    port    = %d\n    storage \"main\" {\n      path = \"recordings\"\n    }\n  }\n", n, srv.IP, srv.Port)
		}
		fmt.Fprintf(&b, "  camera \"dock-1\" {\n    url = %q\n    server = \"rec-1\"\n    backup = [\"rec-2\"]\n    segment_duration = \"2s\"\n  }\n", s.Cams.URL(1))
		b.WriteString(holds + "}\n")
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	hold := func(name, from, to string) string {
		return fmt.Sprintf("  hold %q {\n    cameras = [\"dock-*\"]\n    from = %q\n    to = %q\n    reason = \"test\"\n  }\n", name, from, to)
	}
	caseHold := hold("case-1", now.Add(-time.Hour).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	if code, out, errs := vigil(t, "apply", "-auto-approve", "-address", addr, config(caseHold)); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	// Wait until the camera's first segments are closed.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := s.Client("rec-1").State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		f, err := s.Client("rec-1").HoldFootage(ctx, api.HoldFootageRequest{Holds: st.Spec.Holds})
		if err == nil && len(f.Footage) > 0 && f.Footage[0].Segments >= 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no footage for the hold: %+v %v", f, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	gone := hold("last-year", "2025-12-01T21:00:00Z", "2025-12-01T23:30:00Z")
	code, out, errs := vigil(t, "plan", "-address", addr, config(caseHold+gone))
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"+ hold \"last-year\" {",
		"  - case-1: dock-* from ",
		" segments of dock-1, on rec-1 ",
		"Warning: Hold \"last-year\" keeps nothing: no server has footage of its cameras from 2025-12-01T21:00:00Z to 2025-12-01T23:30:00Z.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}
