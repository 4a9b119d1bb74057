package devsite

import (
	"context"
	"testing"

	"vigil/planner"
)

// benchSite is 2,500 cameras on 10 servers; its cameras point at a closed
// loopback port, so the agents' recorders fail and back off.
const benchSite = "../../testdata/bench/site2500"

// BenchmarkSite2500 measures vigil plan and vigil apply against a live site
// of ten agents in this process, the way the commands do them minus process
// start and rendering: load the HCL, read GET /v1/state, plan, and for apply
// POST /v1/apply and wait until the answering server has the new revision.
//
//   - plan-empty: every resource to add, on a site that never had a spec.
//   - apply-empty: the same, committed. The first run is against the fresh
//     site; before each further run the site is brought back to its servers
//     without cameras (not timed).
//   - plan-one-camera, apply-one-camera: one camera's transport changes
//     (-var cam0_transport), the 2,499 others stay.
//   - load: hcl.Load alone, the part of every figure above spent in the
//     configuration language.
func BenchmarkSite2500(b *testing.B) {
	site, _ := loadSite(b, benchSite, nil)
	s, err := Start(site, Options{Relocate: true, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	vars := func(transport string) map[string]string {
		return map[string]string{"cam0_transport": transport}
	}
	plan := func(b *testing.B, v map[string]string) *planner.SitePlan {
		site, cfg := loadSite(b, benchSite, v)
		p, err := s.Plan(ctx, site, planner.Options{Sensitive: cfg.Sensitive})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	apply := func(b *testing.B, v map[string]string) *planner.SitePlan {
		site, cfg := loadSite(b, benchSite, v)
		p, _, err := s.Apply(ctx, site, planner.Options{Sensitive: cfg.Sensitive})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}

	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			loadSite(b, benchSite, nil)
		}
	})
	b.Run("plan-empty", func(b *testing.B) {
		for b.Loop() {
			if p := plan(b, nil); p.Summary.Add != 1+10+2500 {
				b.Fatalf("plan of an empty site: %+v", p.Summary)
			}
		}
	})
	b.Run("apply-empty", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if st, err := s.State(ctx); err != nil {
				b.Fatal(err)
			} else if st.Revision > 0 {
				b.StopTimer()
				servers := *site
				servers.Cameras = nil
				if _, _, err := s.Apply(ctx, &servers, planner.Options{}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if p := apply(b, vars("tcp")); p.Summary.Add != 2500 && p.Summary.Add != 1+10+2500 {
				b.Fatalf("apply to an empty site: %+v", p.Summary)
			}
		}
	})
	b.Run("plan-one-camera", func(b *testing.B) {
		for b.Loop() {
			if p := plan(b, vars("udp")); p.Summary.Change != 1 || len(p.Changes) != 1 {
				b.Fatalf("plan of a one-camera change: %+v", p.Summary)
			}
		}
	})
	b.Run("apply-one-camera", func(b *testing.B) {
		transport := "tcp"
		for b.Loop() {
			if transport == "tcp" {
				transport = "udp"
			} else {
				transport = "tcp"
			}
			if p := apply(b, vars(transport)); p.Summary.Change != 1 || len(p.Changes) != 1 {
				b.Fatalf("apply of a one-camera change: %+v", p.Summary)
			}
		}
	})
}
