package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"

	"vigil/cmd/vigil/internal/views"
	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

func init() {
	register("status", "Show the servers and cameras of a live site, or the tree of a domain", runStatus)
}

// statusArgs are vigil status's flags and arguments as typed values.
type statusArgs struct {
	address   string
	json, all bool
	// config is -config: a domain's tree from a configuration.
	config   string
	vars     varFlags
	varFiles listFlags
	// names are bare words naming servers, cameras or the site; addresses
	// name one server of each site of a domain. One of them at most.
	names, addresses []string
}

func parseStatusArgs(args []string, stderr io.Writer) (a statusArgs, code int, ok bool) {
	a.vars = varFlags{}
	fs := newFlags("status", stderr)
	fs.StringVar(&a.address, "address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	fs.BoolVar(&a.json, "json", false, "print the state as JSON (the answer of GET /v1/state; for a domain, a list of sites with theirs)")
	fs.BoolVar(&a.all, "all", false, "list every camera, even cameras recording normally on a large site")
	fs.StringVar(&a.config, "config", "", "domain: show the tree of the sites of the configuration at `PATH`, each reached through its servers' addresses")
	fs.Var(a.vars, "var", "with -config: set a variable: -var name=value (repeatable)")
	fs.Var(&a.varFiles, "var-file", "with -config: read variables from an HCL file (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil status [-address URL] [-json] [-all] [NAME...]\n"+
			"       vigil status -config PATH [-json]     (a domain: the sites of a configuration)\n"+
			"       vigil status [-json] ADDRESS...       (a domain: one server of each site)\n\n"+
			"Shows the site as the agent at -address sees it: servers (role, health, cameras\n"+
			"recording, CPU, memory, clock offset to the master, storage) and cameras (state, where\n"+
			"recorded, last gap), cameras that need attention first. NAMEs of servers, cameras or the\n"+
			"site narrow it: a server with the cameras it records, a camera with its servers.\n\n"+
			"On a domain, shows the tree of sites, each indented under its parent: its master,\n"+
			"servers up and down, and cameras recording, covered by a backup and dark. An ADDRESS is\n"+
			"an IP address, HOST:PORT or a URL; a bare word is a NAME.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return a, code, false
	}
	switch {
	case a.config != "" && fs.NArg() > 0:
		fmt.Fprintf(stderr, "vigil status: give -config or addresses, not both\n")
		return a, exitUsage, false
	case anyAddress(fs.Args()):
		a.addresses = fs.Args()
	default:
		a.names = fs.Args()
	}
	return a, exitOK, true
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	a, code, ok := parseStatusArgs(args, stderr)
	if !ok {
		return code
	}
	color := isTerminal(stdout)
	ctx := context.Background()
	if len(a.names) > 0 {
		return statusOf(ctx, a.address, a.names, a.json, views.Options{Color: color, All: true}, stdout, stderr)
	}
	if a.config != "" || len(a.addresses) > 0 {
		var domain string
		var sites []views.DomainSite
		if a.config != "" {
			cfg, diags := hcl.Load([]string{a.config}, hcl.LoadOptions{Vars: a.vars, VarFiles: a.varFiles})
			if diags.HasErrors() {
				if !a.json {
					printDiagnostics(stderr, diags, cfg)
				}
				return fail(stdout, stderr, a.json, errInvalidConfig, hcl.DiagnosticsJSON(diags)...)
			}
			if cfg.Domain != nil {
				domain = cfg.Domain.Name
			}
			sites = configSites(ctx, cfg)
		} else {
			sites = addressSites(ctx, a.addresses)
		}
		if a.json {
			if code := writeJSON(stdout, stderr, struct {
				Domain string             `json:"domain,omitempty"`
				Sites  []views.DomainSite `json:"sites"`
			}{domain, sites}); code != exitOK {
				return code
			}
		} else {
			views.DomainStatus(stdout, domain, sites, views.Options{Color: color})
		}
		// A site that did not answer fails the command; a site without
		// any address (organisational) does not.
		for _, s := range sites {
			if s.State == nil && len(s.Tried) > 0 {
				return exitError
			}
		}
		return exitOK
	}
	st, err := newClient(a.address, api.TokenFromEnv()).State(ctx)
	if err != nil {
		return fail(stdout, stderr, a.json, err)
	}
	if a.json {
		return writeJSON(stdout, stderr, st)
	}
	views.Status(stdout, st, views.Options{Color: color, All: a.all})
	return exitOK
}

// anyAddress reports whether one of args is written as an address (a URL,
// host:port or an IP address) rather than a bare name.
func anyAddress(args []string) bool {
	for _, a := range args {
		if strings.ContainsAny(a, ":/") || net.ParseIP(a) != nil {
			return true
		}
	}
	return false
}

// statusOf is `vigil status NAME...`: the servers, cameras or site that the
// names give, from the state of the site at address.
func statusOf(ctx context.Context, address string, names []string, asJSON bool, o views.Options, stdout, stderr io.Writer) int {
	st, err := newClient(address, api.TokenFromEnv()).State(ctx)
	if err != nil {
		return fail(stdout, stderr, asJSON, err)
	}
	known := []string{st.Site}
	for _, s := range st.Servers {
		known = append(known, s.Name)
	}
	for _, c := range st.Cameras {
		known = append(known, c.Name)
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return fail(stdout, stderr, asJSON, fmt.Errorf("%q is not a server, camera or site of site %s (at %s).%s To name a server by its address, give its port or URL (%s:53540)",
				n, st.Site, address, didYouMean(n, known), n))
		}
	}
	st = views.Only(st, names)
	if asJSON {
		return writeJSON(stdout, stderr, st)
	}
	views.Status(stdout, st, o)
	return exitOK
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// configSites reads every site of cfg through its servers' addresses,
// concurrently, in the order of the domain tree.
func configSites(ctx context.Context, cfg *hcl.Config) []views.DomainSite {
	order := planner.TreeOrder(cfg.Sites)
	out := make([]views.DomainSite, len(order))
	tokens, err := siteTokens(cfg.Sites)
	if err != nil {
		for i, s := range order {
			out[i] = views.DomainSite{Site: s.Name, Error: err.Error()}
		}
		return out
	}
	state := stateFunc(tokens)
	sem := make(chan struct{}, domainParallel)
	var wg sync.WaitGroup
	for i, s := range order {
		out[i] = views.DomainSite{Site: s.Name, Parent: s.Parent, Virtual: s.Virtual, Depth: len(planner.TreePath(cfg, s)) - 1}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ds := &out[i]
			addrs := planner.SiteAddresses(s)
			if len(addrs) == 0 {
				ds.Error = "no server has an address"
				return
			}
			var last error
			for _, a := range addrs {
				st, err := state(ctx, a)
				if err != nil {
					last = err
					continue
				}
				if st.Site != s.Name {
					last = fmt.Errorf("%s belongs to site %q", a, st.Site)
					continue
				}
				ds.State, ds.Address = st, a
				return
			}
			ds.Tried, ds.Error = addrs, last.Error()
		}()
	}
	wg.Wait()
	return out
}

// addressSites reads one state per address and lays the sites out as a
// tree, from the parent each site's committed spec names. An address that
// does not answer is listed under its address.
func addressSites(ctx context.Context, addrs []string) []views.DomainSite {
	states := make([]*api.State, len(addrs))
	errs := make([]error, len(addrs))
	tokens := map[string]string{}
	for _, a := range addrs {
		tokens[a] = api.TokenFromEnv() // no configuration says whose they are
	}
	state := stateFunc(tokens)
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i], errs[i] = state(ctx, a)
		}()
	}
	wg.Wait()
	cfg := &hcl.Config{}
	bySite := map[string]int{}
	var down []views.DomainSite
	for i, st := range states {
		if st == nil {
			down = append(down, views.DomainSite{Site: addrs[i], Tried: []string{addrs[i]}, Error: errs[i].Error()})
			continue
		}
		if _, ok := bySite[st.Site]; ok {
			continue
		}
		bySite[st.Site] = i
		s := &spec.Site{Name: st.Site}
		if st.Spec != nil {
			s.Parent, s.Virtual = st.Spec.Parent, st.Spec.Virtual
		}
		cfg.Sites = append(cfg.Sites, s)
	}
	var out []views.DomainSite
	for _, s := range planner.TreeOrder(cfg.Sites) {
		i := bySite[s.Name]
		out = append(out, views.DomainSite{Site: s.Name, Parent: s.Parent, Virtual: s.Virtual,
			Depth: len(planner.TreePath(cfg, s)) - 1, Address: addrs[i], State: states[i]})
	}
	return append(out, down...)
}
