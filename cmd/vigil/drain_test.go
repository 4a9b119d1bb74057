package main

import (
	"context"
	"strings"
	"testing"

	"vigil/runtime/api"
)

// TestDrainCommand drains a server of an in-process site through any
// agent, waits for the hand-over, shows it draining, and undoes it; an
// unknown server is refused. (Hand-overs that lose no frame are
// runtime/agent's TestDrainAndPlannedStop and the proving ground's
// scenario 9.)
func TestDrainCommand(t *testing.T) {
	s := startSite(t, []string{"rec-1", "rec-2"}, 0)
	addr := s.Server("rec-1").Addr()
	cfg := siteConfig(t, s, [2]string{"door", "rec-2"})
	if code, out, errs := vigil(t, "apply", "-auto-approve", "-address", addr, cfg); code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}

	code, out, errs := vigil(t, "drain", "-address", addr, "-wait", "30s", "rec-2")
	if code != 0 || !strings.Contains(out, "rec-2 is drained") || !strings.Contains(out, "Hand-over complete.") {
		t.Fatalf("drain: exit %d\n%s%s", code, out, errs)
	}
	st, err := s.Client("rec-1").State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, ss := range st.Servers {
		if ss.Name == "rec-2" && ss.Health != api.HealthDraining {
			t.Errorf("rec-2 after the drain: %q, want %q", ss.Health, api.HealthDraining)
		}
	}
	code, out, errs = vigil(t, "drain", "-undo", "-json", "-address", addr, "rec-2")
	if code != 0 || !strings.Contains(out, `"draining": false`) {
		t.Fatalf("drain -undo -json: exit %d\n%s%s", code, out, errs)
	}
	code, _, errs = vigil(t, "drain", "-address", addr, "rec-9")
	if code != 1 || !strings.Contains(errs, "rec-9 is not a server of this site") || strings.Count(errs, "not a server") != 1 {
		t.Fatalf("drain of an unknown server: exit %d: %s", code, errs)
	}
}
