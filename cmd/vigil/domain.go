package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/apply"
	"vigil/planner/views"
	"vigil/runtime/api"
)

// Domain mode of vigil plan and vigil apply.
//
// The rule: a configuration that declares a domain block or more than one
// site is planned as a domain (every site against its own live state,
// reached through its servers' addresses) unless -address is given on the
// command line, which keeps planning the one site of that server. -site
// always means domain mode. VIGIL_ADDR alone does not turn domain mode off:
// a domain's addresses are in its configuration.

// siteTimeout bounds the wait for one server's answer while reaching a site,
// so that a site whose first server is off is still reached through the
// next one in reasonable time.
const siteTimeout = 5 * time.Second

// domainParallel bounds how many sites are read or planned at once
// (apply.Parallel bounds the applies).
const domainParallel = 8

func (s *planSource) domainMode(cfg *hcl.Config) bool {
	if len(s.sites) > 0 {
		return true
	}
	return !s.addressSet && (cfg.Domain != nil || len(cfg.Sites) > 1)
}

// stateFunc reads a site's live state through the API client, with the
// token of the address's site (siteTokens).
func stateFunc(tokens map[string]string) planner.StateFunc {
	return func(ctx context.Context, address string) (*api.State, error) {
		ctx, cancel := context.WithTimeout(ctx, siteTimeout)
		defer cancel()
		return newClient(address, tokens[address]).State(ctx)
	}
}

// footageFunc asks a site which footage its holds keep, with the token of
// the address's site.
func footageFunc(tokens map[string]string) planner.FootageFunc {
	return func(ctx context.Context, address string, holds []*spec.Hold) (*api.HoldFootage, error) {
		return askFootage(tokens[address])(ctx, address, holds)
	}
}

func (s *planSource) planDomain(ctx context.Context, cfg *hcl.Config, fail []string) (*planner.DomainPlan, map[string]string, error) {
	tokens, err := siteTokens(cfg.Sites)
	if err != nil {
		return nil, nil, err
	}
	d, err := planner.PlanDomain(ctx, cfg, stateFunc(tokens), planner.DomainOptions{
		Options:    planner.Options{Fail: fail, Sensitive: cfg.Sensitive},
		Sites:      s.sites,
		Parallel:   domainParallel,
		AskFootage: footageFunc(tokens),
	})
	return d, tokens, err
}

type domainPlanFlags struct {
	fail     []string
	out      string
	json     bool
	detailed bool
}

func runDomainPlan(ctx context.Context, src *planSource, cfg *hcl.Config, diags hhcl.Diagnostics, f domainPlanFlags, stdout, stderr io.Writer) int {
	d, _, err := src.planDomain(ctx, cfg, f.fail)
	if !showPlan(stdout, stderr, cfg, diags, err, f.json,
		func(w io.Writer, diags []spec.Diagnostic) error { return views.DomainJSON(w, d, diags) },
		func(w io.Writer) error { return views.DomainText(w, d, isTerminal(w)) }) {
		return 1
	}
	if d.Summary.WithErrors > 0 {
		if f.out != "" {
			fmt.Fprintf(stderr, "The plan was not saved: it cannot be applied.\n")
		}
		return 1
	}
	skipped := d.Skipped()
	if f.out != "" {
		pf := planner.NewDomainPlanFile(d, cfg.Sensitive, version, time.Now())
		if err := planner.WriteDomainPlanFile(f.out, pf); err != nil {
			fmt.Fprintf(stderr, "Error: saving the plan: %v\n", err)
			return 1
		}
		msg := stdout
		if f.json {
			msg = stderr
		}
		partial := ""
		if len(skipped) > 0 {
			partial = " -allow-partial"
		}
		fmt.Fprintf(msg, "\nSaved the plan of %s to %s. It contains camera passwords: keep it private.\nTo apply exactly this plan, run: vigil apply%s %s\n",
			plural(len(pf.Sites), "site", "sites"), f.out, partial, f.out)
	}
	if len(skipped) > 0 && !src.allowPartial {
		fmt.Fprintf(stderr, "\n%s not planned: %s. The exit status is 1; -allow-partial accepts a partial plan.\n", plural(len(skipped), "site", "sites"), strings.Join(skipped, ", "))
		return 1
	}
	if f.detailed && d.HasChanges() {
		return 2
	}
	return 0
}

func runDomainApply(ctx context.Context, src *planSource, cfg *hcl.Config, diags hhcl.Diagnostics, autoApprove bool, stdout, stderr io.Writer) int {
	d, tokens, err := src.planDomain(ctx, cfg, nil)
	if !showPlan(stdout, stderr, cfg, diags, err, false, nil,
		func(w io.Writer) error { return views.DomainText(w, d, isTerminal(w)) }) {
		return 1
	}
	return applyDomain(ctx, src, d, tokens, !autoApprove, stdout, stderr)
}

// runDomainApplyFile applies a saved domain plan: every site of the file is
// read again, refused when it moved on since the plan (or the file was
// edited), and applied.
func runDomainApplyFile(ctx context.Context, src *planSource, path string, stdout, stderr io.Writer) int {
	f, err := planner.ReadDomainPlanFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	if len(f.Skipped) > 0 && !src.allowPartial {
		fmt.Fprintf(stderr, "Error: this plan leaves out %s that could not be planned (%s); nothing was applied. Apply it with -allow-partial, or run vigil plan -out again.\n",
			plural(len(f.Skipped), "site", "sites"), strings.Join(f.Skipped, ", "))
		return 1
	}
	// The saved specs, planned again against the live sites, give the plan
	// being applied; the base revisions say whether it is still that plan.
	cfg := &hcl.Config{}
	if f.Domain != "" {
		cfg.Domain = &spec.Domain{Name: f.Domain}
	}
	files := map[string]*planner.PlanFile{}
	var sensitive []string
	for _, s := range f.Sites {
		cfg.Sites = append(cfg.Sites, s.Spec)
		files[s.Site] = s
		sensitive = append(sensitive, s.Sensitive...)
	}
	tokens, err := siteTokens(cfg.Sites)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	d, err := planner.PlanDomain(ctx, cfg, stateFunc(tokens), planner.DomainOptions{
		Options: planner.Options{Sensitive: sensitive}, Parallel: domainParallel, AskFootage: footageFunc(tokens),
	})
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	var stale []string
	for _, s := range d.Sites {
		if s.Plan == nil {
			continue
		}
		pf := files[s.Site]
		if err := pf.CheckCurrent(s.Plan.Site, s.Plan.BaseRevision); err != nil {
			stale = append(stale, fmt.Sprintf("site %s: %v", s.Site, err))
		}
	}
	if len(stale) > 0 {
		fmt.Fprintf(stderr, "Error: nothing was applied:\n  %s\n", strings.Join(stale, "\n  "))
		return 1
	}
	if err := views.DomainText(stdout, d, isTerminal(stdout)); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return applyDomain(ctx, src, d, tokens, false, stdout, stderr)
}

// applyDomain applies every planned site with changes, each as one apply of
// its own (one raft entry per site), in the waves of package planner/apply:
// a site that gives a camera to another site is applied after that site,
// and held back when that site's apply fails or is held back. It refuses to
// start when a site plan has errors, or when a site was skipped and
// -allow-partial was not given.
//
// tokens (siteTokens) gives each site's apply the token of its own site.
func applyDomain(ctx context.Context, src *planSource, d *planner.DomainPlan, tokens map[string]string, ask bool, stdout, stderr io.Writer) int {
	if d.Summary.WithErrors > 0 {
		fmt.Fprintf(stderr, "\nNothing was applied: %s the errors above.\n", plural(d.Summary.WithErrors, "site plan has", "site plans have"))
		return 1
	}
	if skipped := d.Skipped(); len(skipped) > 0 && !src.allowPartial {
		fmt.Fprintf(stderr, "\nNothing was applied: %s could not be planned (%s). Apply the other sites with -allow-partial, or name sites with -site.\n",
			plural(len(skipped), "site", "sites"), strings.Join(skipped, ", "))
		return 1
	}
	var names []string
	for _, s := range d.Sites {
		if s.Plan != nil && s.Plan.HasChanges() {
			names = append(names, s.Site)
		}
	}
	if len(names) == 0 {
		return 0
	}
	if ask {
		what := "site " + names[0]
		if len(names) > 1 {
			what = "sites " + strings.Join(names, ", ")
		}
		ok, err := confirm(stdout, applyStdin, what)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		if !ok {
			fmt.Fprintf(stdout, "\nApply cancelled: only 'yes' is accepted. The domain is unchanged.\n")
			return 1
		}
	}
	v := &domainView{ctx: ctx, out: map[string]*siteOutput{}, stdout: stdout, stderr: stderr}
	res := apply.Domain(ctx, d, func(address string) apply.Site { return newClient(address, tokens[address]) }, applyOptions, v)
	if bad := len(res.Failed) + len(res.Held); bad > 0 {
		line := fmt.Sprintf("%d of %s applied, %d failed", len(names)-bad, plural(len(names), "site", "sites"), len(res.Failed))
		if len(res.Held) > 0 {
			line += fmt.Sprintf(", %d held back", len(res.Held))
		}
		fmt.Fprintf(stderr, "\nDomain apply: %s. Applied: %s. Failed: %s (each site's message above says whether it changed). Held back, unchanged: %s.\n",
			line, listOrNone(res.Applied), listOrNone(res.Failed), listOrNone(res.Held))
		return 1
	}
	fmt.Fprintf(stdout, "\nDomain apply complete: %s applied.\n", plural(len(names), "site", "sites"))
	return 0
}

// listOrNone joins names, or says "none".
func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// domainView prints a domain apply: the sites of a wave are applied
// concurrently, so each site's output is kept and printed as one block, in
// the order of the plan, once its wave ended.
type domainView struct {
	ctx            context.Context
	mu             sync.Mutex
	out            map[string]*siteOutput
	stdout, stderr io.Writer
}

type siteOutput struct{ out, errs bytes.Buffer }

func (v *domainView) Site(name string) apply.Hooks {
	o := &siteOutput{}
	v.mu.Lock()
	v.out[name] = o
	v.mu.Unlock()
	return applyView{out: &o.out}
}

func (v *domainView) Applied(s *planner.DomainSite, res apply.Result, err error) {
	v.mu.Lock()
	o := v.out[s.Site]
	v.mu.Unlock()
	reportApply(v.ctx, s.Address, s.Plan, res, err, &o.out, &o.errs)
	v.stdout.Write(o.out.Bytes())
	if o.errs.Len() > 0 {
		// Every line names its site: sites of one wave run together.
		prefix := "site " + s.Site + ": "
		fmt.Fprintf(v.stderr, "%s%s\n", prefix, strings.ReplaceAll(strings.TrimRight(o.errs.String(), "\n"), "\n", "\n"+prefix))
	}
}

func (v *domainView) HeldBack(h apply.Hold) {
	why := "which is held back"
	if h.ToFailed {
		why = "whose apply failed"
	}
	fmt.Fprintf(v.stderr, "site %s: not applied: it gives camera %q to site %s, %s; applied alone, the camera would be recorded by neither site.\n", h.Site, h.Move.Camera, h.Move.ToSite, why)
}

// isDomainPlanFile reports whether the file at path is a domain plan file.
func isDomainPlanFile(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && planner.IsDomainPlanFile(b)
}
