package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/views"
	"vigil/runtime/api"
)

func init() {
	register("plan", "Show what applying a configuration would change in the live site", runPlan)
}

// planSource is what plan and apply share: where the configuration and the
// live site are.
type planSource struct {
	address  string
	vars     varFlags
	varFiles listFlags
	// sites are the -site flags (domain mode); addressSet says whether
	// -address was given on the command line (see domainMode).
	sites        listFlags
	addressSet   bool
	allowPartial bool
}

func (s *planSource) flags(fs *flag.FlagSet) {
	s.vars = varFlags{}
	fs.StringVar(&s.address, "address", api.AddressFromEnv(), "API address of any server of the site (env VIGIL_ADDR)")
	fs.Var(s.vars, "var", "set a variable: -var name=value (repeatable)")
	fs.Var(&s.varFiles, "var-file", "read variables from an HCL file of name = value lines (repeatable)")
	fs.Var(&s.sites, "site", "domain: plan only the site `NAME` (repeatable); sites are reached through their servers' addresses")
	fs.BoolVar(&s.allowPartial, "allow-partial", false, "domain: go on when some sites cannot be reached or planned")
}

// parsed records what the flags say once fs is parsed; it refuses -site
// together with -address.
func (s *planSource) parsed(fs *flag.FlagSet) error {
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "address" {
			s.addressSet = true
		}
	})
	if s.addressSet && len(s.sites) > 0 {
		return errors.New("-site reaches each site through its own servers' addresses; drop -address (which plans the one site of that server)")
	}
	return nil
}

// parseArgs parses the flags and arguments of plan or apply, which take
// one optional PATH (default "."): what names it in the error for more.
// When ok is false the command exits with code (0 after -h).
func (s *planSource) parseArgs(fs *flag.FlagSet, args []string, what string, stderr io.Writer) (path string, code int, ok bool) {
	if code, ok := parseFlags(fs, args); !ok {
		return "", code, false
	}
	if err := s.parsed(fs); err != nil {
		fmt.Fprintf(stderr, "vigil %s: %v\n", fs.Name(), err)
		return "", exitUsage, false
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "vigil %s: one %s at most, got %d\n", fs.Name(), what, fs.NArg())
		return "", exitUsage, false
	}
	if fs.NArg() == 1 {
		return fs.Arg(0), 0, true
	}
	return ".", 0, true
}

// showPlan prints a plan of a site or of a domain, or why there is none
// (planErr): as JSON on stdout with the diagnostics inside, or the
// diagnostics on stderr and the text on stdout (apply: asJSON false,
// writeJSON nil). It reports whether the command may go on.
func showPlan(stdout, stderr io.Writer, cfg *hcl.Config, diags hhcl.Diagnostics, planErr error, asJSON bool,
	writeJSON func(io.Writer, []spec.Diagnostic) error, writeText func(io.Writer) error) bool {
	var err error
	if asJSON {
		if planErr != nil {
			views.JSONError(stdout, planErr.Error(), hcl.DiagnosticsJSON(diags))
			return false
		}
		err = writeJSON(stdout, hcl.DiagnosticsJSON(diags))
	} else {
		if planErr != nil {
			reportFailure(stderr, cfg, diags, planErr)
			return false
		}
		printDiagnostics(stderr, diags, cfg)
		err = writeText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return false
	}
	return true
}

// load loads the configuration at path with the variables of the flags.
func (s *planSource) load(path string) (*hcl.Config, hhcl.Diagnostics) {
	return hcl.Load([]string{path}, loadOptions(s.vars, s.varFiles))
}

// liveState is a GET /v1/state started before its answer is needed: the
// commands fetch the live state while the configuration loads, since the two
// are independent and on a large site each is a good part of a plan's time.
// In domain mode the answer is simply not used.
type liveState struct {
	done  chan struct{}
	state *api.State
	err   error
}

func fetchState(ctx context.Context, client *api.Client) *liveState {
	l := &liveState{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.state, l.err = client.State(ctx)
	}()
	return l
}

func (l *liveState) wait() (*api.State, error) {
	<-l.done
	return l.state, l.err
}

// errInvalidConfig means the configuration has errors; its diagnostics
// say which.
var errInvalidConfig = errors.New("the configuration has errors; nothing was planned")

// siteFor picks the configuration's site that the live server belongs to.
func siteFor(cfg *hcl.Config, live *api.State, address string) (*spec.Site, error) {
	if len(cfg.Sites) == 0 {
		return nil, fmt.Errorf("the configuration declares no site")
	}
	if live.Site == "" {
		if len(cfg.Sites) == 1 {
			return cfg.Sites[0], nil
		}
		return nil, fmt.Errorf("the server at %s does not say which site it belongs to, and the configuration declares %d sites", address, len(cfg.Sites))
	}
	if s := cfg.Site(live.Site); s != nil {
		return s, nil
	}
	names := make([]string, len(cfg.Sites))
	for i, s := range cfg.Sites {
		names[i] = s.Name
	}
	server := address
	if live.Answering != "" {
		server += " (" + live.Answering + ")"
	}
	return nil, fmt.Errorf("the server at %s belongs to site %q, but the configuration describes %s; point -address (or VIGIL_ADDR) at a server of the site you mean",
		server, live.Site, quoteList(names))
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return "site " + q[0]
	}
	return "sites " + strings.Join(q, ", ")
}

// planConfig plans the loaded configuration against the live state that
// fetch is reading; errInvalidConfig when diags has errors.
func planConfig(client *api.Client, fetch *liveState, cfg *hcl.Config, diags hhcl.Diagnostics, fail []string) (*planner.SitePlan, error) {
	if diags.HasErrors() {
		return nil, errInvalidConfig
	}
	live, err := fetch.wait()
	if err != nil {
		return nil, err
	}
	site, err := siteFor(cfg, live, client.Address())
	if err != nil {
		return nil, err
	}
	return planSite(client, site, live, planner.Options{Fail: fail, Sensitive: cfg.Sensitive})
}

// otherSites tells, on stderr, that a configuration of several sites is
// planned one site at a time: the site of the server the command talks to.
func otherSites(stderr io.Writer, cfg *hcl.Config, p *planner.SitePlan, address string) {
	if len(cfg.Sites) > 1 {
		fmt.Fprintf(stderr, "Note: the configuration describes %d sites; this plan covers site %q, the site of the server at %s.\n\n", len(cfg.Sites), p.Site, address)
	}
}

// reportFailure prints diagnostics and why there is no plan, for a person.
func reportFailure(stderr io.Writer, cfg *hcl.Config, diags hhcl.Diagnostics, err error) {
	printDiagnostics(stderr, diags, cfg)
	if err == errInvalidConfig {
		fmt.Fprintf(stderr, "The configuration has errors; nothing was planned.\n")
		return
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
}

// signalContext is cancelled by Ctrl-C, so that a slow agent can be given up on.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func runPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plan", stderr)
	var src planSource
	src.flags(fs)
	out := fs.String("out", "", "save the plan to `FILE` for vigil apply (the file holds camera passwords; mode 0600)")
	asJSON := fs.Bool("json", false, "print the plan as JSON (schema: go doc vigil/planner)")
	detailed := fs.Bool("detailed-exitcode", false, "exit 0 when there are no changes, 1 on error, 2 when there are changes")
	fail := fs.String("fail", "", "simulate `SERVER,...` dead (comma-separated) and show where every camera lands")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil plan [-address URL | -site NAME...] [-out FILE] [-json] [-detailed-exitcode] [-fail SERVER,...] [-allow-partial] [-var name=value]... [-var-file FILE]... [PATH]\n\n"+
			"Compares the configuration at PATH (default \".\") with the live site at -address and shows\n"+
			"what vigil apply would change, notes about the live site, the N+1 check and, with -fail,\n"+
			"where cameras land when those servers die. Changes nothing.\n\n"+
			"Domains: when PATH declares a domain block or several sites and -address is not given\n"+
			"(or -site is), every site (or each -site) is planned against its own live state, reached\n"+
			"through its servers' addresses (external_address:external_port when set) in order until one\n"+
			"answers. A site that cannot be reached is reported and skipped; the exit status is then 1\n"+
			"unless -allow-partial is given. -address plans only the site of that server.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	path, code, ok := src.parseArgs(fs, args, "configuration path", stderr)
	if !ok {
		return code
	}
	var failed []string
	for _, s := range strings.Split(*fail, ",") {
		if s = strings.TrimSpace(s); s != "" {
			failed = append(failed, s)
		}
	}

	ctx, cancel := signalContext()
	defer cancel()
	client := newClient(src.address, api.TokenFromEnv())
	fetch := fetchState(ctx, client)
	cfg, diags := src.load(path)
	if !diags.HasErrors() && src.domainMode(cfg) {
		return runDomainPlan(ctx, &src, cfg, diags, domainPlanFlags{fail: failed, out: *out, json: *asJSON, detailed: *detailed}, stdout, stderr)
	}
	p, err := planConfig(client, fetch, cfg, diags, failed)
	if !showPlan(stdout, stderr, cfg, diags, err, *asJSON,
		func(w io.Writer, d []spec.Diagnostic) error { return views.JSON(w, p, d) },
		func(w io.Writer) error {
			otherSites(stderr, cfg, p, client.Address())
			return views.Text(w, p, isTerminal(w))
		}) {
		return 1
	}
	if len(p.Errors) > 0 {
		if *out != "" {
			fmt.Fprintf(stderr, "The plan was not saved: it cannot be applied.\n")
		}
		return 1
	}
	if *out != "" {
		f := planner.NewPlanFile(p, cfg.Sensitive, version, time.Now())
		if err := planner.WritePlanFile(*out, f); err != nil {
			fmt.Fprintf(stderr, "Error: saving the plan: %v\n", err)
			return 1
		}
		msg := stdout
		if *asJSON {
			msg = stderr // stdout holds the JSON document alone
		}
		fmt.Fprintf(msg, "\nSaved the plan to %s. It contains camera passwords: keep it private.\nTo apply exactly this plan, run: vigil apply %s\n", *out, *out)
	}
	if *detailed && p.HasChanges() {
		return 2
	}
	return 0
}
