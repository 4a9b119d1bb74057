package apply

import (
	"context"
	"slices"
	"sync"

	"vigil/planner"
)

// Hold is a site held back: applied, it would give Move.Camera to a site
// whose apply failed (ToFailed) or that is held back itself, and the camera
// would be recorded by neither site.
type Hold struct {
	Site     string
	Move     planner.SiteMove
	ToFailed bool
}

// Schedule orders a domain's site applies in waves (see the package
// documentation). It does no I/O: Next gives a wave, the caller applies its
// sites and reports those that failed with Failed, and asks for the next.
type Schedule struct {
	pending []string
	gives   map[string][]planner.SiteMove
	failed  map[string]bool
	held    map[string]bool
}

// NewSchedule schedules the sites to apply (in plan order) given the
// domain's moves of cameras between sites.
func NewSchedule(sites []string, moves []planner.SiteMove) *Schedule {
	s := &Schedule{pending: slices.Clone(sites), gives: map[string][]planner.SiteMove{}, failed: map[string]bool{}, held: map[string]bool{}}
	for _, m := range moves {
		if m.FromSite != m.ToSite {
			s.gives[m.FromSite] = append(s.gives[m.FromSite], m)
		}
	}
	return s
}

// Failed reports that a site's apply failed: the sites that give it a
// camera are held back.
func (s *Schedule) Failed(site string) { s.failed[site] = true }

// Next holds back, until none is left, the pending sites that give a camera
// to a site that failed or was held back (A gives to B, B to C, C fails: B
// and A are held back), and returns them with the next wave: the pending
// sites that give no camera to a pending site or, when every pending site
// does, those on a cycle of gifts. The wave is empty when nothing is left.
func (s *Schedule) Next() (wave []string, held []Hold) {
	for again := true; again; {
		again = false
		s.pending = slices.DeleteFunc(s.pending, func(site string) bool {
			for _, m := range s.gives[site] {
				if s.failed[m.ToSite] || s.held[m.ToSite] {
					held = append(held, Hold{Site: site, Move: m, ToFailed: s.failed[m.ToSite]})
					s.held[site] = true
					again = true
					return true
				}
			}
			return false
		})
	}
	for _, site := range s.pending {
		if !slices.ContainsFunc(s.gives[site], func(m planner.SiteMove) bool { return s.isPending(m.ToSite) }) {
			wave = append(wave, site)
		}
	}
	if len(wave) == 0 {
		for _, site := range s.pending {
			if s.onCycle(site) {
				wave = append(wave, site)
			}
		}
	}
	s.pending = slices.DeleteFunc(s.pending, func(site string) bool { return slices.Contains(wave, site) })
	return wave, held
}

func (s *Schedule) isPending(site string) bool { return slices.Contains(s.pending, site) }

// onCycle tells whether site gives, through pending sites, a camera to a
// site that gives one back to it.
func (s *Schedule) onCycle(site string) bool {
	seen := map[string]bool{}
	next := []string{site}
	for len(next) > 0 {
		cur := next[0]
		next = next[1:]
		for _, m := range s.gives[cur] {
			if m.ToSite == site {
				return true
			}
			if s.isPending(m.ToSite) && !seen[m.ToSite] {
				seen[m.ToSite] = true
				next = append(next, m.ToSite)
			}
		}
	}
	return false
}

// DomainHooks receive a domain apply's progress.
type DomainHooks interface {
	// Site gives the hooks of one site's apply; the sites of a wave are
	// applied concurrently, each with its own.
	Site(name string) Hooks
	// Applied is called for every site of a wave, in plan order, once
	// the whole wave ended.
	Applied(site *planner.DomainSite, res Result, err error)
	// HeldBack is called for a site that is not applied (see Hold).
	HeldBack(h Hold)
}

// DomainResult lists a domain apply's sites by outcome, in plan order
// (Held in the order they were held back).
type DomainResult struct {
	Applied, Failed, Held []string
}

// Parallel bounds how many sites of a wave are applied at once.
const Parallel = 8

// Domain applies every planned site of d that has changes, each as one
// Commit through the address that planned it (dial makes its Site), in the
// waves of a Schedule. Whether the domain plan may be applied at all (no
// site plan with errors, no skipped site without consent) is the caller's
// decision.
func Domain(ctx context.Context, d *planner.DomainPlan, dial func(address string) Site, o Options, h DomainHooks) DomainResult {
	var names []string
	sites := map[string]*planner.DomainSite{}
	for i := range d.Sites {
		s := &d.Sites[i]
		if s.Plan == nil || !s.Plan.HasChanges() {
			continue
		}
		names = append(names, s.Site)
		sites[s.Site] = s
	}
	sched := NewSchedule(names, d.Moves)
	var out DomainResult
	for {
		wave, held := sched.Next()
		for _, hb := range held {
			h.HeldBack(hb)
			out.Held = append(out.Held, hb.Site)
		}
		if len(wave) == 0 {
			break
		}
		results := make([]Result, len(wave))
		errs := make([]error, len(wave))
		sem := make(chan struct{}, Parallel)
		var wg sync.WaitGroup
		for i, name := range wave {
			s := sites[name]
			hooks := h.Site(name)
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i], errs[i] = Commit(ctx, dial(s.Address), FromPlan(s.Plan), o, hooks)
			})
		}
		wg.Wait()
		for i, name := range wave {
			h.Applied(sites[name], results[i], errs[i])
			if errs[i] != nil {
				sched.Failed(name)
			}
		}
	}
	for _, n := range names {
		switch {
		case sched.failed[n]:
			out.Failed = append(out.Failed, n)
		case !sched.held[n]:
			out.Applied = append(out.Applied, n)
		}
	}
	return out
}
