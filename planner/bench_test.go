package planner_test

import (
	"io"
	"testing"
	"time"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/views"
	"vigil/runtime/api"
)

const largeSite = "../testdata/plan/bench/large.hcl"

func loadLarge(b *testing.B) *hcl.Config {
	b.Helper()
	cfg, diags := hcl.Load([]string{largeSite}, hcl.LoadOptions{Env: []string{}})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	return cfg
}

// testKey is the fingerprint key of the benchmark's live states.
var (
	testKey = []byte("test site fingerprint key")
	testFP  = spec.NewFingerprinter(testKey)
)

// liveOf is the state of a healthy site running spec: every server alive,
// every camera recorded by its primary.
func liveOf(site *spec.Site, revision uint64) *api.State {
	st := &api.State{Site: site.Name, Revision: revision, Version: "bench", Answering: site.Servers[0].Name, Master: site.Servers[0].Name}
	if revision > 0 {
		st.Spec, st.FingerprintKey = site.Redacted(testFP), testKey
	}
	for _, s := range site.Servers {
		st.Servers = append(st.Servers, api.ServerState{Name: s.Name, Address: s.Address, Kind: s.Kind, Role: "member", Health: api.HealthAlive, Version: "bench"})
	}
	for _, c := range site.Cameras {
		st.Cameras = append(st.Cameras, api.CameraState{Name: c.Name, Server: c.Server, State: api.CameraRecording,
			Recorders: []api.Recorder{{Server: c.Server, Role: "primary", State: "recording"}}})
	}
	return st
}

// BenchmarkPlan plans the 2,500-camera site: against a site where nothing
// was applied yet (every resource created), and against the live site with
// one camera changed. Each plan includes the N+1 check (one assignment per
// server). Targets: under 1 s and under 200 ms.
func BenchmarkPlan(b *testing.B) {
	cfg := loadLarge(b)
	site := cfg.Sites[0]
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

	b.Run("empty-site", func(b *testing.B) {
		live := liveOf(site, 0)
		for b.Loop() {
			p, err := planner.Plan(site, live, planner.Options{Now: now})
			if err != nil || p.Summary.Add != 2511 {
				b.Fatalf("%v %+v", err, p.Summary)
			}
		}
	})

	b.Run("one-camera-change", func(b *testing.B) {
		live := liveOf(site, 7)
		changed := *site
		changed.Cameras = append([]*spec.Camera(nil), site.Cameras...)
		c := *changed.Cameras[1234]
		c.Redundancy = spec.RedundancyFast
		changed.Cameras[1234] = &c
		for b.Loop() {
			p, err := planner.Plan(&changed, live, planner.Options{Now: now})
			if err != nil || p.Summary.Change != 1 || len(p.Changes) != 1 {
				b.Fatalf("%v %+v", err, p.Summary)
			}
		}
	})
}

// BenchmarkPlanCommand is what `vigil plan` does apart from the HTTP call:
// load the configuration, plan, and render the text.
func BenchmarkPlanCommand(b *testing.B) {
	for _, tc := range []struct {
		name     string
		revision uint64
	}{{"empty-site", 0}, {"no-change", 7}} {
		b.Run(tc.name, func(b *testing.B) {
			live := liveOf(loadLarge(b).Sites[0], tc.revision)
			for b.Loop() {
				cfg := loadLarge(b)
				p, err := planner.Plan(cfg.Sites[0], live, planner.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if err := views.Text(io.Discard, p, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
