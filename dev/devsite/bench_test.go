package devsite

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"vigil/planner"
)

// benchSite is 2,500 cameras on 10 servers; see its comment for where its
// cameras point.
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
//   - load, state, planner: the parts of a plan: hcl.Load alone, GET
//     /v1/state alone, and planner.Plan alone on a state already read.
//
// Between measurements the site settles (untimed): every agent has acted on
// the last apply. Ten agents share this machine's cores here, where a real
// site gives each its own, so the figures are an upper bound.
func BenchmarkSite2500(b *testing.B) {
	// Cameras that accept the connection and never answer: the recorders
	// wait (stall_timeout) instead of failing and retrying all at once.
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer hang.Close()
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(io.Discard, c) // until the recorder gives up or the site stops
			}()
		}
	}()
	camera := hang.Addr().String()
	vars := func(transport string) map[string]string {
		return map[string]string{"camera_addr": camera, "cam0_transport": transport}
	}

	site, _ := loadSite(b, benchSite, vars("tcp"))
	s, err := Start(site, Options{Relocate: true, Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

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

	// settle waits, untimed, until every agent has acted on the last apply
	// (want cameras, each with its recorder session), so that a measurement
	// does not pay for the aftermath of the one before.
	settle := func(b *testing.B, want int) {
		b.StopTimer()
		defer b.StartTimer()
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		for {
			st, err := s.State(ctx)
			if err == nil && len(st.Cameras) == want {
				n := 0
				for _, c := range st.Cameras {
					if len(c.Recorders) > 0 {
						n++
					}
				}
				if n == want {
					return
				}
			}
			select {
			case <-ctx.Done():
				b.Fatalf("the site did not settle on %d cameras: %v", want, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}

	b.Run("load", func(b *testing.B) {
		for b.Loop() {
			loadSite(b, benchSite, vars("tcp"))
		}
	})
	b.Run("plan-empty", func(b *testing.B) {
		for b.Loop() {
			if p := plan(b, vars("tcp")); p.Summary.Add != 1+10+2500 {
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
				settle(b, 0)
			}
			if p := apply(b, vars("tcp")); p.Summary.Add != 2500 && p.Summary.Add != 1+10+2500 {
				b.Fatalf("apply to an empty site: %+v", p.Summary)
			}
			settle(b, 2500)
		}
	})
	b.Run("plan-one-camera", func(b *testing.B) {
		for b.Loop() {
			if p := plan(b, vars("udp")); p.Summary.Change != 1 || len(p.Changes) != 1 {
				b.Fatalf("plan of a one-camera change: %+v", p.Summary)
			}
		}
	})
	// The parts of a plan: GET /v1/state of a live site of 2,500 cameras,
	// and the planner alone on that state.
	b.Run("state", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.State(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("planner", func(b *testing.B) {
		desired, cfg := loadSite(b, benchSite, vars("udp"))
		desired = s.Desired(desired)
		live, err := s.State(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := planner.Plan(desired, live, planner.Options{Sensitive: cfg.Sensitive}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The site is at "tcp" here; the toggle lives out of the closure, which
	// the testing package may call more than once.
	transport := "tcp"
	b.Run("apply-one-camera", func(b *testing.B) {
		for b.Loop() {
			if transport == "tcp" {
				transport = "udp"
			} else {
				transport = "tcp"
			}
			if p := apply(b, vars(transport)); p.Summary.Change != 1 || len(p.Changes) != 1 {
				b.Fatalf("apply of a one-camera change to %s: %+v against revision %d via %s (master %q)", transport, p.Summary, p.BaseRevision, p.Answering, p.Master)
			}
			settle(b, 2500)
		}
	})
}
