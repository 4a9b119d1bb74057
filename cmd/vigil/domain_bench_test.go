package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl"
	"vigil/planner"
	"vigil/planner/views"
	"vigil/runtime/api"
)

const largeDomain = "../../examples/large"

// BenchmarkDomainLarge measures vigil plan on examples/large (40 sites of
// six servers and 250 cameras, 10,000 cameras, under a virtual root site)
// against a live domain in this process: one agent per site (rec-1), each
// with the site's spec committed. It needs 40 agents, so it runs only with
// VIGIL_BENCH_DOMAIN=1 (make bench-domain).
//
// The configuration is the example's, relocated: server addresses become
// loopback addresses (rec-1 that of the site's agent, the five servers that
// do not run a closed port), storage paths relative to the agents' data
// directories, and camera URLs a closed port on 127.0.0.1. Each agent
// records its own cameras and covers the five absent servers' cameras up to
// max_cameras (80 of 250); connections are refused at once and the
// recorders back off to 30 s, so the 3,200 failing recorders cost little.
//
// After the applies, the domain settles (untimed) before the measurements.
//
//   - state: GET /v1/state from the 40 agents at once, alone.
//   - plan: the domain plan as vigil plan makes it: read the 40 live states
//     concurrently through the HTTP API and plan each site (no changes).
//   - planner: the plan alone, on live states read beforehand.
//   - command: hcl.Load of the directory, relocation, the plan, and the
//     text rendering: what `vigil plan` spends, minus process start.
func BenchmarkDomainLarge(b *testing.B) {
	if os.Getenv("VIGIL_BENCH_DOMAIN") == "" {
		b.Skip("starts 40 agents; set VIGIL_BENCH_DOMAIN=1 (make bench-domain)")
	}
	cfg := loadLarge(b)
	const token = "bench-token"
	sites := map[string]*devsite.Site{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(cfg.Sites))
	for _, s := range cfg.Sites {
		if s.Virtual {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			as, err := devsite.New(devsite.Options{Name: s.Name, Servers: []string{"rec-1"}, Dir: b.TempDir(), Version: "bench"})
			if err != nil {
				errs <- err
				return
			}
			as.Token = token
			as.Server("rec-1").Config.Token = token
			mu.Lock()
			sites[s.Name] = as
			mu.Unlock()
			if err := as.Start(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	for _, as := range sites {
		b.Cleanup(as.Close)
	}
	trustSites(b, slices.Collect(maps.Values(sites))...)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	relocate(cfg, sites)

	ctx := context.Background()
	applyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, s := range cfg.Sites {
		as := sites[s.Name]
		if as == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := as.Commit(applyCtx, *s); err != nil {
				errs <- fmt.Errorf("applying %s: %w", s.Name, err)
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	tokens := map[string]string{}
	for _, s := range cfg.Sites {
		for _, a := range planner.SiteAddresses(s) {
			tokens[a] = token
		}
	}
	state := stateFunc(tokens)
	opts := planner.DomainOptions{Options: planner.Options{Sensitive: cfg.Sensitive}, Parallel: domainParallel}

	// Settle, untimed: every agent serves its 250 cameras and the first
	// burst of connection attempts is over (the recorders back off).
	for name, as := range sites {
		if _, err := as.Wait(applyCtx, "rec-1", func(st *api.State) bool { return st.Revision == 1 && len(st.Cameras) == 250 }); err != nil {
			b.Fatalf("site %s: %v", name, err)
		}
	}
	time.Sleep(3 * time.Second)

	b.Run("state", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			for _, s := range cfg.Sites {
				if s.Virtual {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := state(ctx, planner.SiteAddresses(s)[0]); err != nil {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
		}
	})
	b.Run("plan", func(b *testing.B) {
		for b.Loop() {
			d, err := planner.PlanDomain(ctx, cfg, state, opts)
			if err != nil {
				b.Fatal(err)
			}
			if d.Summary.Planned != 40 || d.HasChanges() {
				b.Fatalf("domain plan of examples/large: %+v", d.Summary)
			}
		}
	})
	b.Run("planner", func(b *testing.B) {
		// The live states read once: planning alone, no HTTP.
		read := map[string]*api.State{}
		var mu sync.Mutex
		recorded := func(ctx context.Context, a string) (*api.State, error) {
			st, err := state(ctx, a)
			mu.Lock()
			read[a] = st
			mu.Unlock()
			return st, err
		}
		if _, err := planner.PlanDomain(ctx, cfg, recorded, opts); err != nil {
			b.Fatal(err)
		}
		cached := func(_ context.Context, a string) (*api.State, error) { return read[a], nil }
		b.ResetTimer()
		for b.Loop() {
			if _, err := planner.PlanDomain(ctx, cfg, cached, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("command", func(b *testing.B) {
		for b.Loop() {
			c := loadLarge(b)
			relocate(c, sites)
			d, err := planner.PlanDomain(ctx, c, state, opts)
			if err != nil {
				b.Fatal(err)
			}
			if d.Summary.Planned != 40 || d.HasChanges() {
				b.Fatalf("domain plan of examples/large: %+v", d.Summary)
			}
			if err := views.DomainText(io.Discard, d, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func loadLarge(b *testing.B) *hcl.Config {
	b.Helper()
	cfg, diags := hcl.Load([]string{largeDomain}, hcl.LoadOptions{Env: []string{}})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	return cfg
}

// relocate points the configuration at the in-process domain: see
// BenchmarkDomainLarge.
func relocate(cfg *hcl.Config, sites map[string]*devsite.Site) {
	for _, s := range cfg.Sites {
		as := sites[s.Name]
		if as == nil {
			continue
		}
		agent := as.Server("rec-1")
		for i, sv := range s.Servers {
			if sv.Name == "rec-1" {
				sv.Address, sv.Port = agent.IP, agent.Port
			} else {
				// Nothing listens there: port 9 (discard) and the next.
				sv.Address, sv.Port = agent.IP, 9+3*i
			}
			for _, st := range sv.Storage {
				st.Path = "recordings"
			}
		}
		for _, c := range s.Cameras {
			c.URL = "rtsp://127.0.0.1:9/" + s.Name + "/" + c.Name
		}
	}
}
