package cluster

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// An apply that changes a camera's primary (or removes the camera) clears
// its balancing override; other overrides stay in force.
func TestApplyClearsOverridesOfChangedPrimaries(t *testing.T) {
	f := newFSM(slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	spec := func(primaries map[string]string) spec.Site {
		s := spec.Site{Name: "hq"}
		for _, name := range []string{"cam1", "cam2", "cam3"} {
			if p, ok := primaries[name]; ok {
				s.Cameras = append(s.Cameras, &spec.Camera{Name: name, Server: p})
			}
		}
		return s
	}
	applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec(map[string]string{"cam1": "a", "cam2": "a", "cam3": "a"}), Base: 0})
	since := time.Unix(200, 0).UTC()
	applyEntry(t, f, cmdSetOverrides, 1, setOverridesBody{Overrides: []api.Override{
		{Camera: "cam1", From: "a", Server: "b", Since: since},
		{Camera: "cam2", From: "a", Server: "b", Since: since},
		{Camera: "cam3", From: "a", Server: "b", Since: since},
	}})
	// cam1 keeps its primary, cam2 gets another one, cam3 is removed.
	applyEntry(t, f, cmdApplySpec, 1, applySpecBody{Spec: spec(map[string]string{"cam1": "a", "cam2": "c"}), Base: 1})
	got := f.current().Overrides
	if len(got) != 1 || got[0].Camera != "cam1" {
		t.Fatalf("overrides after apply = %+v, want cam1's only", got)
	}
}
