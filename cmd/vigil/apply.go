package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"vigil/planner"
	"vigil/planner/apply"
	"vigil/planner/views"
	"vigil/runtime/api"
)

func init() {
	register("apply", "Apply a configuration or a saved plan to the live site", runApply)
}

// applyStdin is where the confirmation is read; tests replace it.
var applyStdin io.Reader = os.Stdin

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("apply", stderr)
	var src planSource
	src.flags(fs)
	autoApprove := fs.Bool("auto-approve", false, "apply without asking for confirmation")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout: the sites applied with their revisions, or the error (needs -auto-approve or a plan file; the plan and progress go to stderr)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil apply [-address URL | -site NAME...] [-auto-approve] [-allow-partial] [-var name=value]... [-var-file FILE]... [PLANFILE | PATH]\n\n"+
			"With a configuration PATH (default \".\"): plans, shows the plan, asks for confirmation\n"+
			"(unless -auto-approve) and commits the whole configuration as one change.\n"+
			"With a PLANFILE saved by vigil plan -out: applies exactly that plan, without asking,\n"+
			"and refuses it when the site has changed since or the file was modified.\n"+
			"The token for the change comes from VIGIL_TOKEN.\n"+
			"Domains (see vigil plan -h): every site with changes is applied, each as one change of its\n"+
			"own; when a site cannot be reached or planned, nothing is applied unless -allow-partial.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	path, code, ok := src.parseArgs(fs, args, "plan file or configuration path", stderr)
	if !ok {
		return code
	}
	ctx, cancel := signalContext()
	defer cancel()
	if !*asJSON {
		return applyConfig(ctx, &src, path, *autoApprove, stdout, stderr)
	}
	if !*autoApprove && !isPlanFile(path) {
		fmt.Fprintf(stderr, "vigil apply: -json needs -auto-approve (or a plan file): nobody is there to confirm\n")
		return exitUsage
	}
	// The person watching sees the plan and the progress on stderr; stdout
	// holds one JSON document, the sites applied or the error.
	var errs bytes.Buffer
	rec := &appliedSites{}
	if code := applyConfig(withApplied(ctx, rec), &src, path, true, stderr, &errs); code != exitOK {
		stderr.Write(errs.Bytes())
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(errs.String()), "Error: "))
		return fail(stdout, stderr, true, errors.New(msg))
	}
	return writeJSON(stdout, stderr, applyResult{FormatVersion: planner.Format, Applied: len(rec.sites) > 0, Sites: rec.sorted()})
}

// applyResult is what vigil apply -json prints when the apply succeeded.
type applyResult struct {
	FormatVersion planner.FormatVersion `json:"format_version"`
	// Applied is false when there was nothing to change.
	Applied bool          `json:"applied"`
	Sites   []appliedSite `json:"sites"`
}

type appliedSite struct {
	Site     string          `json:"site"`
	Revision uint64          `json:"revision"`
	Summary  planner.Summary `json:"summary"`
}

// appliedSites collects the sites an apply committed, for -json; the sites
// of a domain are applied concurrently.
type appliedSites struct {
	mu    sync.Mutex
	sites []appliedSite
}

func (a *appliedSites) sorted() []appliedSite {
	out := append([]appliedSite{}, a.sites...)
	slices.SortFunc(out, func(x, y appliedSite) int { return strings.Compare(x.Site, y.Site) })
	return out
}

type appliedKey struct{}

// withApplied has applyPlan record each site it commits in rec: the apply
// paths (a site, a plan file, a domain) all end in applyPlan.
func withApplied(ctx context.Context, rec *appliedSites) context.Context {
	return context.WithValue(ctx, appliedKey{}, rec)
}

func recordApplied(ctx context.Context, p *planner.SitePlan, rev uint64) {
	if rec, ok := ctx.Value(appliedKey{}).(*appliedSites); ok {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		rec.sites = append(rec.sites, appliedSite{Site: p.Site, Revision: rev, Summary: p.Summary})
	}
}

// applyConfig is vigil apply once its flags are parsed.
func applyConfig(ctx context.Context, src *planSource, path string, autoApprove bool, stdout, stderr io.Writer) int {
	client := newClient(src.address, api.TokenFromEnv())
	color := isTerminal(stdout)

	var p *planner.SitePlan
	fromFile := isPlanFile(path)
	if fromFile {
		if len(src.vars) > 0 || len(src.varFiles) > 0 {
			fmt.Fprintf(stderr, "Error: -var and -var-file do not apply to a saved plan: its values were fixed by vigil plan\n")
			return 1
		}
		if len(src.sites) > 0 {
			// Ignoring -site would apply every site of the file, more than asked.
			fmt.Fprintf(stderr, "Error: -site does not apply to a saved plan: it applies every site the plan holds. Nothing was applied; to apply fewer sites, run vigil plan -site NAME -out FILE\n")
			return 1
		}
		if isDomainPlanFile(path) {
			return runDomainApplyFile(ctx, src, path, stdout, stderr)
		}
		f, err := planner.ReadPlanFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		live, err := client.State(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		if err := f.CheckCurrent(live.Site, live.Revision); err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		// Planned again against the same revision, the result is the saved
		// plan; showing it tells the operator what is being applied.
		p, err = planSite(client, f.Spec, live, planner.Options{Sensitive: f.Sensitive})
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		if err := views.Text(stdout, p, color); err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
	} else {
		fetch := fetchState(ctx, client)
		cfg, diags := src.load(path)
		if !diags.HasErrors() && src.domainMode(cfg) {
			return runDomainApply(ctx, src, cfg, diags, autoApprove, stdout, stderr)
		}
		var err error
		p, err = planConfig(client, fetch, cfg, diags, nil)
		if !showPlan(stdout, stderr, cfg, diags, err, false, nil, func(w io.Writer) error {
			otherSites(stderr, cfg, p, client.Address())
			return views.Text(w, p, color)
		}) {
			return 1
		}
	}
	if len(p.Errors) > 0 {
		fmt.Fprintf(stderr, "\nNothing was applied: the plan has errors.\n")
		return 1
	}
	if !p.HasChanges() {
		return 0
	}
	if !fromFile && !autoApprove {
		ok, err := confirm(stdout, applyStdin, "site "+p.Site)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		if !ok {
			fmt.Fprintf(stdout, "\nApply cancelled: only 'yes' is accepted. The site is unchanged.\n")
			return 1
		}
	}
	return applyPlan(ctx, client, p, stdout, stderr)
}

// isPlanFile tells a saved plan from a configuration: a regular file that is
// not an .hcl file.
func isPlanFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && !strings.HasSuffix(path, ".hcl")
}

// confirm asks the operator; a missing answer (no terminal, empty input)
// refuses. what is "site NAME" or "sites A, B".
func confirm(stdout io.Writer, stdin io.Reader, what string) (bool, error) {
	fmt.Fprintf(stdout, "\nDo you want to apply these changes to %s?\n  Only 'yes' will be accepted.\n\n  Enter a value: ", what)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(stdout)
		return false, errors.New("no answer on standard input; vigil apply needs a 'yes' from a terminal, or -auto-approve in scripts. The site is unchanged")
	}
	return strings.TrimSpace(line) == "yes", nil
}

// applyOptions are vigil apply's: it returns once every live server of the
// site reports the new revision, or after 10 s with a note naming those
// that do not, so that a plan or status run next against any server sees
// the change.
var applyOptions = apply.Options{CatchUp: apply.DefaultCatchUp}

// applyView prints a site's apply as it goes (the protocol's hooks).
type applyView struct {
	apply.NoHooks
	out io.Writer
}

func (v applyView) TransferringMaster(from, to string) {
	fmt.Fprintf(v.out, "\nTransferring the master role from %s to %s...\n", from, to)
}

func (v applyView) MasterTransferred(master string) {
	fmt.Fprintf(v.out, "%s is the master.\n", master)
}

func (v applyView) Resending(master string) {
	fmt.Fprintf(v.out, "The site's master changed while committing; %s is the master now. Sending the change again...\n", master)
}

// applyPlan applies a site plan through client (see package planner/apply)
// and prints the outcome.
func applyPlan(ctx context.Context, client *api.Client, p *planner.SitePlan, stdout, stderr io.Writer) int {
	res, err := apply.Commit(ctx, client, apply.FromPlan(p), applyOptions, applyView{out: stdout})
	return reportApply(ctx, client.Address(), p, res, err, stdout, stderr)
}

// reportApply prints how a site's apply through address ended.
func reportApply(ctx context.Context, address string, p *planner.SitePlan, res apply.Result, err error, stdout, stderr io.Writer) int {
	var transfer *apply.TransferError
	switch {
	case errors.As(err, &transfer):
		fmt.Fprintf(stderr, "Error: transferring the master role: %s\n", applyError(transfer.Err))
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "Error: %s\n", applyError(err))
		if res.Master != "" {
			// Not part of the configuration, the transfer is not undone.
			fmt.Fprintf(stderr, "Note: the master role had already moved to %s; it stays there.\n", res.Master)
		}
		return 1
	}
	if len(res.Behind) > 0 {
		fmt.Fprintf(stderr, "Note: %s; a plan against it may still show the old configuration for a moment.\n", behindNote(res.Behind, address, res.Revision))
	}
	recordApplied(ctx, p, res.Revision)
	s := p.Summary
	line := fmt.Sprintf("%d added, %d changed, %d destroyed", s.Add, s.Change, s.Destroy)
	if s.Move > 0 {
		line += fmt.Sprintf(", %d moved", s.Move)
	}
	fmt.Fprintf(stdout, "\nApply complete! Site %s is at revision %d: %s.\n", p.Site, res.Revision, line)
	return 0
}

// behindNote says which servers have not reported revision rev yet ("" is
// the server at address).
func behindNote(behind []string, address string, rev uint64) string {
	names := make([]string, len(behind))
	for i, n := range behind {
		names[i] = n
		if n == "" {
			names[i] = "the server at " + address
		}
	}
	if len(names) > 1 {
		return fmt.Sprintf("%s have not caught up with revision %d yet", strings.Join(names, ", "), rev)
	}
	return fmt.Sprintf("%s has not caught up with revision %d yet", names[0], rev)
}

// applyError words a failed apply and says whether the site may have
// changed: refusals leave it as it was; a timeout after the request left may
// not.
func applyError(err error) string {
	var stale *api.StaleError
	var invalid *api.ValidationError
	var status *api.StatusError
	var unreachable *api.UnreachableError
	switch {
	case errors.Is(err, apply.ErrOutcomeUnknown):
		return fmt.Sprintf("%v (%s); run vigil plan to see", apply.ErrOutcomeUnknown, strings.TrimPrefix(status503(err), apply.ErrOutcomeUnknown.Error()+": "))
	case errors.As(err, &stale):
		return fmt.Sprintf("the site changed since this plan was made: planned against revision %d, the site is at revision %d; run vigil plan again. Nothing was applied.", stale.BaseRevision, stale.Revision)
	case errors.As(err, &invalid):
		return "the site refused the configuration: " + invalid.Error() + "\nNothing was applied."
	case errors.Is(err, api.ErrUnauthorized):
		return "the agent refused the change (401 unauthorized): set VIGIL_TOKEN to the token of the site's agent configuration. Nothing was applied."
	case errors.Is(err, api.ErrUnavailable):
		return "the site could not commit the change (" + status503(err) + "). A site without a master or without a majority of its servers up cannot change its configuration; it keeps recording with the current one. Run vigil plan to see where the site stands, and apply again when a majority of its servers is up."
	case errors.As(err, &status):
		return status.Error() + ". Nothing was applied."
	case errors.As(err, &unreachable):
		return err.Error() + ". Nothing was applied."
	}
	// A timeout after the request left: the master may have committed it.
	return err.Error() + "; the change may or may not have been committed: run vigil plan to see"
}

func status503(err error) string {
	var status *api.StatusError
	if errors.As(err, &status) {
		return status.Message
	}
	return err.Error()
}
