package planner

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// Status of one site in a domain plan.
const (
	// SitePlanned: a server of the site answered and the site was planned
	// (its plan may still hold Errors).
	SitePlanned = "planned"
	// SiteUnreachable: none of the site's servers answered.
	SiteUnreachable = "unreachable"
	// SiteFailed: a server answered but the site could not be planned (it
	// belongs to another site, or the failure simulation failed).
	SiteFailed = "failed"
	// SiteNoAddress: no server of the site has an address; there is
	// nothing to reach or plan.
	SiteNoAddress = "no_address"
)

// DomainPlan is a plan of several sites of a domain, each made against
// that site's own live state, in the order of the domain tree.
type DomainPlan struct {
	// Domain is the domain block's name, or "" when the configuration has
	// no domain block.
	Domain string       `json:"domain,omitempty"`
	Sites  []DomainSite `json:"sites"`
	// Moves are cameras that leave one site and join another: a delete in
	// one site's plan and a create in the other's, counted once as a move.
	Moves   []SiteMove    `json:"moves"`
	Summary DomainSummary `json:"summary"`
}

// DomainSite is one site of a domain plan.
type DomainSite struct {
	Site    string `json:"site"`
	Parent  string `json:"parent,omitempty"`
	Virtual bool   `json:"virtual,omitempty"`
	// Path is the site's place in the tree: its ancestors from the root,
	// then the site itself.
	Path []string `json:"path"`
	// Status is one of SitePlanned, SiteUnreachable, SiteFailed,
	// SiteNoAddress.
	Status string `json:"status"`
	// Address is the API address that answered (apply goes through it).
	Address string `json:"address,omitempty"`
	// Tried lists the addresses tried, in order, when none answered.
	Tried []string `json:"tried,omitempty"`
	// Error says why the site is unreachable or failed.
	Error string    `json:"error,omitempty"`
	Plan  *SitePlan `json:"plan,omitempty"`
}

// SiteMove is a camera moving from one site to another.
type SiteMove struct {
	Camera   string `json:"camera"`
	FromSite string `json:"from_site"`
	ToSite   string `json:"to_site"`
}

// DomainSummary sums the site plans up. A camera moving between sites
// counts once in Move, and not in Add and Destroy.
type DomainSummary struct {
	Sites       int `json:"sites"`
	Planned     int `json:"planned"`
	Unreachable int `json:"unreachable"`
	Failed      int `json:"failed"`
	NoAddress   int `json:"no_address"`
	// WithChanges and WithErrors count the planned sites whose plan has
	// changes, and errors (which make the domain plan unappliable).
	WithChanges int `json:"with_changes"`
	WithErrors  int `json:"with_errors"`
	Add         int `json:"add"`
	Change      int `json:"change"`
	Destroy     int `json:"destroy"`
	Move        int `json:"move"`
}

// HasChanges reports whether applying the plan would change any site.
func (d *DomainPlan) HasChanges() bool { return d.Summary.WithChanges > 0 }

// Skipped lists the sites that could not be planned (unreachable or failed).
func (d *DomainPlan) Skipped() []string {
	var out []string
	for _, s := range d.Sites {
		if s.Status == SiteUnreachable || s.Status == SiteFailed {
			out = append(out, s.Site)
		}
	}
	return out
}

// MovedCameras maps the address of each change that is one half of a move
// between sites to a description of that half ("moves to site south").
func (d *DomainPlan) MovedCameras() map[string]string {
	out := map[string]string{}
	for _, m := range d.Moves {
		out["site."+m.FromSite+".camera."+m.Camera] = "moves to site " + m.ToSite
		out["site."+m.ToSite+".camera."+m.Camera] = "moves here from site " + m.FromSite
	}
	return out
}

// SiteAddresses lists the API addresses ("host:port") through which a site
// is reached, in the order of its servers: a server's external_address and
// external_port when set (NAT, a VPN), else its address and port. Servers
// without an address are left out.
func SiteAddresses(s *spec.Site) []string {
	var out []string
	for _, sv := range s.Servers {
		port := sv.Port
		if port == 0 {
			port = spec.DefaultAPIPort
		}
		host := sv.Address
		if sv.ExternalAddress != "" {
			host = sv.ExternalAddress
			if sv.ExternalPort != 0 {
				port = sv.ExternalPort
			}
		}
		if host == "" {
			continue
		}
		a := net.JoinHostPort(host, strconv.Itoa(port))
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// StateFunc reads the live state from one API address ("host:port"). The
// planner opens no socket itself: vigil plan passes the API client.
type StateFunc func(ctx context.Context, address string) (*api.State, error)

// DomainOptions tune a domain plan.
type DomainOptions struct {
	Options
	// Sites narrows the plan to these sites; empty plans every site.
	Sites []string
	// Parallel bounds how many sites are read and planned at once
	// (default 8).
	Parallel int
	// AskFootage, when set, asks each site which footage its holds keep.
	AskFootage FootageFunc
}

// UnknownSiteError names a site of DomainOptions.Sites that the
// configuration does not declare.
type UnknownSiteError struct {
	Site  string
	Known []string
}

func (e *UnknownSiteError) Error() string {
	return fmt.Sprintf("the configuration declares no site %q; its sites are %s", e.Site, strings.Join(e.Known, ", "))
}

// PlanDomain plans every site of cfg (or those of opts.Sites) against its
// own live state, read through state from the site's addresses in order
// until one answers. Sites are read and planned concurrently, at most
// opts.Parallel at a time. A site that cannot be reached or planned is in
// the result with its status and error; only an unknown site name or a
// cancelled context is an error.
func PlanDomain(ctx context.Context, cfg *hcl.Config, state StateFunc, opts DomainOptions) (*DomainPlan, error) {
	order := TreeOrder(cfg.Sites)
	if len(opts.Sites) > 0 {
		var known []string
		for _, s := range order {
			known = append(known, s.Name)
		}
		keep := map[string]bool{}
		for _, n := range opts.Sites {
			if cfg.Site(n) == nil {
				return nil, &UnknownSiteError{Site: n, Known: known}
			}
			keep[n] = true
		}
		order = slices.DeleteFunc(order, func(s *spec.Site) bool { return !keep[s.Name] })
	}
	for _, f := range opts.Fail {
		if !slices.ContainsFunc(order, func(s *spec.Site) bool { return s.Server(f) != nil }) {
			return nil, fmt.Errorf("-fail names %q, which is no server of the sites planned", f)
		}
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 8
	}
	d := &DomainPlan{Sites: make([]DomainSite, len(order)), Moves: []SiteMove{}}
	if cfg.Domain != nil {
		d.Domain = cfg.Domain.Name
	}
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for i, s := range order {
		d.Sites[i] = DomainSite{Site: s.Name, Parent: s.Parent, Virtual: s.Virtual, Path: TreePath(cfg, s)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			planSite(ctx, &d.Sites[i], s, state, opts.Options, opts.AskFootage)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.Moves = siteMoves(d.Sites)
	d.Summary = summarizeDomain(d.Sites, d.Moves)
	return d, nil
}

func planSite(ctx context.Context, ds *DomainSite, s *spec.Site, state StateFunc, opts Options, ask FootageFunc) {
	addrs := SiteAddresses(s)
	if len(addrs) == 0 {
		ds.Status = SiteNoAddress
		ds.Error = "no server of the site has an address; nothing to reach"
		return
	}
	// Each site simulates the failure of its own servers among those named.
	fail := opts.Fail
	opts.Fail = nil
	for _, f := range fail {
		if s.Server(f) != nil {
			opts.Fail = append(opts.Fail, f)
		}
	}
	var lastErr error
	for i, a := range addrs {
		live, err := state(ctx, a)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		p, err := PlanWithFootage(ctx, s, live, opts, ask, a)
		if err != nil {
			if mm, ok := errors.AsType[*SiteMismatchError](err); ok {
				mm.Address = a // the configuration's address, not -address
			}
			ds.Status, ds.Address, ds.Error = SiteFailed, a, err.Error()
			return
		}
		ds.Status, ds.Address, ds.Plan, ds.Error = SitePlanned, a, p, ""
		// A plan that removes or re-addresses the server that answered
		// cannot go through it: ask the site's next server instead.
		if i < len(addrs)-1 && removesAnswering(p) {
			continue
		}
		return
	}
	if ds.Status != "" {
		return
	}
	ds.Status = SiteUnreachable
	ds.Tried = addrs
	ds.Error = lastErr.Error()
}

// removesAnswering reports whether the plan has an error about the server
// that gave the live state.
func removesAnswering(p *SitePlan) bool {
	for _, e := range p.Errors {
		if p.Answering != "" && e.Address == "site."+p.Site+".server."+p.Answering {
			return true
		}
	}
	return false
}

// TreeOrder lists the sites depth first from the roots, children in the
// order of the configuration. Sites whose parent is missing (an invalid
// configuration) count as roots, so that none is lost.
func TreeOrder(sites []*spec.Site) []*spec.Site {
	byName := map[string]bool{}
	for _, s := range sites {
		byName[s.Name] = true
	}
	children := map[string][]*spec.Site{}
	var roots []*spec.Site
	for _, s := range sites {
		if s.Parent == "" || !byName[s.Parent] || s.Parent == s.Name {
			roots = append(roots, s)
		} else {
			children[s.Parent] = append(children[s.Parent], s)
		}
	}
	var out []*spec.Site
	seen := map[string]bool{}
	var walk func(s *spec.Site)
	walk = func(s *spec.Site) {
		if seen[s.Name] {
			return
		}
		seen[s.Name] = true
		out = append(out, s)
		for _, c := range children[s.Name] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	// Sites on a cycle (rejected by validation) come last.
	for _, s := range sites {
		walk(s)
	}
	return out
}

// TreePath is the site's ancestors from the root, then the site.
func TreePath(cfg *hcl.Config, s *spec.Site) []string {
	path := []string{s.Name}
	seen := map[string]bool{s.Name: true}
	for p := cfg.Site(s.Parent); p != nil && !seen[p.Name]; p = cfg.Site(p.Parent) {
		seen[p.Name] = true
		path = append([]string{p.Name}, path...)
	}
	return path
}

// siteMoves pairs a camera deleted from exactly one planned site with the
// same camera name created in exactly one other.
func siteMoves(sites []DomainSite) []SiteMove {
	deleted, created := map[string][]string{}, map[string][]string{}
	for _, s := range sites {
		if s.Plan == nil {
			continue
		}
		for _, c := range s.Plan.Changes {
			if c.Type != TypeCamera {
				continue
			}
			switch c.Action {
			case Delete:
				deleted[c.Name] = append(deleted[c.Name], s.Site)
			case Create:
				created[c.Name] = append(created[c.Name], s.Site)
			}
		}
	}
	moves := []SiteMove{}
	for cam, from := range deleted {
		to := created[cam]
		if len(from) == 1 && len(to) == 1 {
			moves = append(moves, SiteMove{Camera: cam, FromSite: from[0], ToSite: to[0]})
		}
	}
	sort.Slice(moves, func(i, j int) bool { return moves[i].Camera < moves[j].Camera })
	return moves
}

func summarizeDomain(sites []DomainSite, moves []SiteMove) DomainSummary {
	sum := DomainSummary{Sites: len(sites)}
	for _, s := range sites {
		switch s.Status {
		case SitePlanned:
			sum.Planned++
			p := s.Plan
			if p.HasChanges() {
				sum.WithChanges++
			}
			if len(p.Errors) > 0 {
				sum.WithErrors++
			}
			sum.Add += p.Summary.Add
			sum.Change += p.Summary.Change
			sum.Destroy += p.Summary.Destroy
			sum.Move += p.Summary.Move
		case SiteUnreachable:
			sum.Unreachable++
		case SiteFailed:
			sum.Failed++
		case SiteNoAddress:
			sum.NoAddress++
		}
	}
	sum.Add -= len(moves)
	sum.Destroy -= len(moves)
	sum.Move += len(moves)
	return sum
}
