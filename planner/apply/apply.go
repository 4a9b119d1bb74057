// Package apply is the one protocol that makes a plan so on a live site:
// `vigil apply` (one site or a domain), hot reload, `vigil dev` and the test
// harnesses all apply through it, and differ only in their Options and in
// what their Hooks print or log.
//
// One site's change (Commit):
//
//  1. When the plan moves the master role (the master leaves the site, or
//     stops being a server that may be master), the role moves first
//     (POST /v1/master/transfer). The move is not part of the configuration:
//     when the commit then fails, the role stays moved, and Result.Master
//     says so.
//  2. The desired spec is sent with the plan's base revision
//     (POST /v1/apply). Any server forwards it to the master; the master
//     commits it only while the site is still at the base revision, so an
//     apply planned against an older revision is refused as stale (409,
//     *api.StaleError) and never overwrites someone else's change.
//  3. When the answer is "unavailable" (503: no master, the master moved or
//     lost its majority while committing) or never came (a timeout), the
//     change may or may not have been committed. The protocol learns which:
//     it waits for the site to have a master again (Options.MasterWait),
//     reads the site back, and
//     - the site moved past the base revision: the committed spec is planned
//     against the change; when nothing is left to change, the change was
//     committed (by this send, or by an identical one) and the apply
//     succeeded; otherwise someone else's change landed and the apply is
//     stale;
//     - the site is still at the base revision: the change is sent again
//     (Hooks.Resending), at most Options.Attempts sends. The base revision
//     makes this safe: if the earlier send is committed after all, the new
//     send is refused as stale, and the refusal is read back the same way.
//  4. Once committed, the protocol waits up to Options.CatchUp until every
//     live server of the site (alive or draining, as the answering server
//     sees it) reports the new revision, so that what runs next against any
//     of them sees the change. Servers that did not are listed in
//     Result.Behind: the change is committed all the same.
//
// Converge plans against the live state and commits, planning again when the
// site moved on meanwhile (a stale refusal); it is what hot reload, `vigil
// dev` and the harnesses do. `vigil apply` commits exactly the plan the
// operator saw, and a stale refusal is final.
//
// A domain (Domain) is applied site by site, each as one change of its own,
// in waves: a site that gives a camera to another site is applied after the
// site that receives it, so that the camera is recorded by its new site
// before its old site lets it go; sites that give to each other in a cycle
// cannot be ordered and are applied together. When a site's apply fails, the
// sites that give it a camera are held back, and so on along the chain of
// moves: applied alone, they would leave the camera recorded by no site.
// Schedule is that ordering, without I/O.
//
// The package does no printing: progress goes to Hooks and DomainHooks (as
// Terraform's hooks), results and typed errors go back to the caller, and
// the caller's view words them. It talks to a site only through Site, which
// *api.Client implements.
package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

// Site is what the protocol needs of a site's API: *api.Client.
type Site interface {
	State(ctx context.Context) (*api.State, error)
	Apply(ctx context.Context, req api.ApplyRequest) (*api.ApplyResponse, error)
	TransferMaster(ctx context.Context, server string) (string, error)
}

// Change is one site's change: the spec to commit, the revision it was
// planned against, and the master transfer it needs first.
type Change struct {
	Spec         *spec.Site
	BaseRevision uint64
	// TransferFrom and TransferTo move the master role before the commit
	// when TransferTo is set.
	TransferFrom, TransferTo string
}

// FromPlan is the change a site plan makes.
func FromPlan(p *planner.SitePlan) Change {
	c := Change{Spec: p.Desired, BaseRevision: p.BaseRevision}
	for _, ch := range p.Changes {
		if ch.Action == planner.TransferMaster {
			c.TransferFrom, c.TransferTo = ch.From, ch.To
		}
	}
	return c
}

// request is the one place where the apply request is built: what travels
// with a change (for an audit of applies, the plan's checksum and who
// applied it) is added here.
func (c *Change) request() api.ApplyRequest {
	return api.ApplyRequest{Spec: *c.Spec, BaseRevision: c.BaseRevision}
}

// Options tune the protocol. The zero value is what `vigil apply` does.
type Options struct {
	// Attempts bounds the sends of one change while the master moves, and
	// Converge's plans while the site moves on (default 3).
	Attempts int
	// MasterWait bounds each wait for the site to have a master again, or
	// for the answering server to reach a revision (default 10 s).
	MasterWait time.Duration
	// UntilDone keeps sending while the site has no master until ctx ends,
	// without bounds: for sites whose agents just started (`vigil dev`,
	// test harnesses), which elect their first master meanwhile.
	UntilDone bool
	// CatchUp bounds the wait, once committed, for every live server to
	// report the new revision (0: no wait; DefaultCatchUp is vigil
	// apply's).
	CatchUp time.Duration
	// Poll is the interval of the waits (default 100 ms).
	Poll time.Duration
}

// DefaultCatchUp is the Options.CatchUp of vigil apply, vigil dev and the
// test harnesses: once it returns, what runs next against any live server
// sees the change.
const DefaultCatchUp = 10 * time.Second

func (o Options) withDefaults() Options {
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.MasterWait <= 0 {
		o.MasterWait = 10 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	return o
}

// Hooks receive an apply's progress. Embed NoHooks to implement some only.
type Hooks interface {
	// TransferringMaster is called before the master role moves.
	TransferringMaster(from, to string)
	// MasterTransferred is called once master holds the role.
	MasterTransferred(master string)
	// Resending is called when the master changed while committing and
	// the site is still at the base revision: the change is sent again,
	// and master commits it.
	Resending(master string)
	// Replanning is called by Converge when the site moved to revision
	// rev while applying: the change is planned again against it.
	Replanning(rev uint64)
}

// NoHooks ignores every hook.
type NoHooks struct{}

func (NoHooks) TransferringMaster(from, to string) {}
func (NoHooks) MasterTransferred(master string)    {}
func (NoHooks) Resending(master string)            {}
func (NoHooks) Replanning(rev uint64)              {}

// Result is what an apply did.
type Result struct {
	// Revision is the committed revision; with Converge and nothing to
	// change, the site's revision.
	Revision uint64
	// Master is the server the master role moved to; "" when it did not
	// move. Set even when the commit then failed: the role stays moved.
	Master string
	// Behind lists the live servers that had not reported Revision when
	// Options.CatchUp ended; "" stands for the answering server when it
	// could not be read.
	Behind []string
}

// TransferError is a master transfer that failed: nothing was committed.
type TransferError struct {
	To  string
	Err error
}

func (e *TransferError) Error() string {
	return fmt.Sprintf("transferring the master role to %s: %v", e.To, e.Err)
}

func (e *TransferError) Unwrap() error { return e.Err }

// ErrOutcomeUnknown marks an apply whose outcome could not be learnt: an
// answer was lost (the master moved, or no answer came) and the site could
// not be read back, because ctx ended or no master was elected in time.
var ErrOutcomeUnknown = errors.New("whether the change was committed is not known")

// Commit applies one change to a site: master transfer, commit, retry on a
// master change, read-back of an unknown outcome, and the wait for the live
// servers (see the package documentation). Errors are a *TransferError, the
// site's refusals as the API client types them (*api.StaleError,
// *api.ValidationError, *api.StatusError, *api.UnreachableError), or an
// error wrapping ErrOutcomeUnknown.
func Commit(ctx context.Context, site Site, ch Change, o Options, h Hooks) (Result, error) {
	o = o.withDefaults()
	if h == nil {
		h = NoHooks{}
	}
	var res Result
	if ch.TransferTo != "" {
		h.TransferringMaster(ch.TransferFrom, ch.TransferTo)
		master, err := site.TransferMaster(ctx, ch.TransferTo)
		if err != nil {
			return res, &TransferError{To: ch.TransferTo, Err: err}
		}
		h.MasterTransferred(master)
		res.Master = master
	}
	rev, err := commit(ctx, site, &ch, o, h)
	if err != nil {
		return res, err
	}
	res.Revision = rev
	if o.CatchUp > 0 {
		res.Behind = catchUp(ctx, site, rev, o)
	}
	return res, nil
}

// commit sends the change until the site answers for sure.
func commit(ctx context.Context, site Site, ch *Change, o Options, h Hooks) (uint64, error) {
	req := ch.request()
	unsure := false // an earlier send may have been committed
	for attempt := 1; ; attempt++ {
		resp, err := site.Apply(ctx, req)
		if err == nil {
			return resp.Revision, nil
		}
		var stale *api.StaleError
		if errors.As(err, &stale) {
			if !unsure {
				return 0, err
			}
			// Maybe the earlier send, committed after all.
			return readBack(ctx, site, ch, stale.Revision, o, err)
		}
		lost := answerLost(err)
		if !lost && !errors.Is(err, api.ErrUnavailable) {
			return 0, err
		}
		unsure = unsure || lost
		unknown := func(err error) error {
			if unsure {
				return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
			}
			return err
		}
		if ctx.Err() != nil {
			return 0, unknown(err)
		}
		st, werr := waitMaster(ctx, site, o)
		if werr != nil {
			return 0, unknown(err)
		}
		if st.Revision != ch.BaseRevision {
			return readBack(ctx, site, ch, st.Revision, o, err)
		}
		if attempt >= o.Attempts && !o.UntilDone {
			return 0, unknown(err)
		}
		h.Resending(st.Master)
	}
}

// answerLost tells the answers after which a sent change may have been
// committed: the master moved or lost its majority while committing (503
// marked so), or no answer came from an agent that was reached.
func answerLost(err error) bool {
	if errors.Is(err, api.ErrOutcomeUnknown) {
		return true
	}
	var status *api.StatusError
	var unreachable *api.UnreachableError
	if errors.As(err, &status) || errors.As(err, &unreachable) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// readBack learns whether the change is what the site committed, once the
// answering server reports revision rev: the committed spec planned against
// the change has nothing left to change. Otherwise the change is stale.
// cause is returned when the site cannot be read.
func readBack(ctx context.Context, site Site, ch *Change, rev uint64, o Options, cause error) (uint64, error) {
	st, err := waitRevision(ctx, site, rev, o.MasterWait, o.Poll)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrOutcomeUnknown, cause)
	}
	p, err := planner.Plan(ch.Spec, st, planner.Options{})
	if err == nil && !p.HasChanges() {
		return st.Revision, nil
	}
	return 0, &api.StaleError{Revision: st.Revision, BaseRevision: ch.BaseRevision,
		Message: fmt.Sprintf("planned against revision %d but revision %d is committed", ch.BaseRevision, st.Revision)}
}

// waitMaster polls the site until it has a master, for o.MasterWait, or
// until ctx ends with o.UntilDone.
func waitMaster(ctx context.Context, site Site, o Options) (*api.State, error) {
	limit := o.MasterWait
	if o.UntilDone {
		limit = 0
	}
	return wait(ctx, site, limit, o.Poll, func(st *api.State) bool { return st.Master != "" })
}

// waitRevision polls the site until the answering server reports at least
// revision rev.
func waitRevision(ctx context.Context, site Site, rev uint64, limit, poll time.Duration) (*api.State, error) {
	return wait(ctx, site, limit, poll, func(st *api.State) bool { return st.Revision >= rev })
}

// wait polls the site's state until cond holds, for limit (0: until ctx
// ends), and returns that state.
func wait(ctx context.Context, site Site, limit, poll time.Duration, cond func(*api.State) bool) (*api.State, error) {
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		st, err := site.State(ctx)
		if err == nil && cond(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// catchUp waits for every live server to report revision rev and returns
// those that did not within o.CatchUp: the answering server by its own
// revision, the others by the revision they gossip.
func catchUp(ctx context.Context, site Site, rev uint64, o Options) []string {
	behind := []string{""} // until the site answers
	wait(ctx, site, o.CatchUp, o.Poll, func(st *api.State) bool {
		behind = Behind(st, rev)
		return len(behind) == 0
	})
	return behind
}

// Behind lists the servers of st that are live (alive or draining) and do
// not report revision rev; the answering server counts by st.Revision.
func Behind(st *api.State, rev uint64) []string {
	var out []string
	if st.Revision < rev {
		out = append(out, st.Answering)
	}
	for _, s := range st.Servers {
		if s.Name == st.Answering || s.Health != api.HealthAlive && s.Health != api.HealthDraining {
			continue
		}
		if s.Revision < rev && !slices.Contains(out, s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}

// PlanFunc plans a site's change against its live state; a nil change
// means that there is nothing to apply.
type PlanFunc func(st *api.State) (*Change, error)

// Converge plans against the site's live state and commits the change,
// planning again (Hooks.Replanning) when the site moved on meanwhile, at
// most Options.Attempts plans.
func Converge(ctx context.Context, site Site, plan PlanFunc, o Options, h Hooks) (Result, error) {
	o = o.withDefaults()
	if h == nil {
		h = NoHooks{}
	}
	for attempt := 1; ; attempt++ {
		st, err := site.State(ctx)
		if err != nil {
			return Result{}, fmt.Errorf("reading the site's state: %w", err)
		}
		ch, err := plan(st)
		if err != nil || ch == nil {
			return Result{Revision: st.Revision}, err
		}
		res, err := Commit(ctx, site, *ch, o, h)
		var stale *api.StaleError
		if !errors.As(err, &stale) || attempt >= o.Attempts {
			return res, err
		}
		h.Replanning(stale.Revision)
		// The next plan is made against the newer revision: wait for the
		// answering server to have it.
		if _, err := waitRevision(ctx, site, stale.Revision, o.MasterWait, o.Poll); err != nil {
			return res, fmt.Errorf("waiting for the site to reach revision %d to plan again: %w", stale.Revision, err)
		}
	}
}
