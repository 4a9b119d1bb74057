package apply

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

// fakeSite is a site's API with a scripted master: each apply runs the next
// step of script (then commits normally), and each state read the next of
// reads (then answers the truth).
type fakeSite struct {
	mu      sync.Mutex
	name    string
	rev     uint64
	spec    *spec.Site
	master  string
	servers []api.ServerState
	script  []step
	reads   []func(st *api.State)
	// fail answers every apply with this error.
	fail      error
	applies   int
	commits   int
	transfers []string
}

// step is a scripted answer to an apply.
type step struct {
	commit bool   // the change is committed (when the base matches)
	answer error  // the answer; nil: the revision
	master string // the master afterwards
	// before runs before the apply is handled, after once it was.
	before, after func(f *fakeSite)
}

func newFakeSite(name string, rev uint64) *fakeSite {
	return &fakeSite{name: name, rev: rev, master: "rec-1", spec: siteSpec(name, "old"),
		servers: []api.ServerState{{Name: "rec-1", Health: api.HealthAlive}, {Name: "rec-2", Health: api.HealthAlive}, {Name: "rec-3", Health: api.HealthDead}}}
}

func siteSpec(site, description string) *spec.Site {
	return &spec.Site{Name: site, Description: description, Servers: []*spec.Server{
		{Name: "rec-1", Address: "10.0.0.1", Kind: spec.KindRecording},
		{Name: "rec-2", Address: "10.0.0.2", Kind: spec.KindRecording},
	}}
}

func (f *fakeSite) State(ctx context.Context) (*api.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := &api.State{Site: f.name, Revision: f.rev, Spec: f.spec, Master: f.master, Answering: "rec-1", Servers: slices.Clone(f.servers)}
	for i := range st.Servers {
		if st.Servers[i].Health == api.HealthAlive {
			st.Servers[i].Revision = f.rev
		}
	}
	if len(f.reads) > 0 {
		f.reads[0](st)
		f.reads = f.reads[1:]
	}
	return st, nil
}

func (f *fakeSite) Apply(ctx context.Context, req api.ApplyRequest) (*api.ApplyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies++
	if f.fail != nil {
		return nil, f.fail
	}
	s := step{commit: true}
	if len(f.script) > 0 {
		s = f.script[0]
		f.script = f.script[1:]
	}
	if s.before != nil {
		s.before(f)
	}
	if s.master != "" {
		f.master = s.master
	}
	if req.BaseRevision != f.rev {
		return nil, &api.StaleError{Revision: f.rev, BaseRevision: req.BaseRevision}
	}
	if s.commit {
		f.rev++
		f.commits++
		c := req.Spec
		f.spec = &c
	}
	if s.after != nil {
		s.after(f)
	}
	if s.answer != nil {
		return nil, s.answer
	}
	return &api.ApplyResponse{Revision: f.rev}, nil
}

func (f *fakeSite) TransferMaster(ctx context.Context, server string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transfers = append(f.transfers, server)
	f.master = server
	return server, nil
}

// Answers of a site whose master moved while committing.
var (
	lostAnswer  = &api.StatusError{StatusCode: http.StatusServiceUnavailable, Message: "the commit was not confirmed: the master role moved while committing", OutcomeUnknown: true}
	noQuorum    = &api.StatusError{StatusCode: http.StatusServiceUnavailable, Message: "no quorum"}
	errTimedOut = fmt.Errorf("vigil agent at http://10.0.0.1:53540 did not answer: %w", context.DeadlineExceeded)
)

// hookLog records the hooks as lines.
type hookLog struct {
	mu    sync.Mutex
	lines []string
}

func (h *hookLog) add(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, fmt.Sprintf(format, args...))
}

func (h *hookLog) TransferringMaster(from, to string) { h.add("transfer %s->%s", from, to) }
func (h *hookLog) MasterTransferred(master string)    { h.add("master %s", master) }
func (h *hookLog) Resending(master string)            { h.add("resend via %s", master) }
func (h *hookLog) Replanning(rev uint64)              { h.add("replan at %d", rev) }

var fast = Options{MasterWait: 2 * time.Second, Poll: time.Millisecond}

func change(f *fakeSite) Change {
	return Change{Spec: siteSpec(f.name, "new"), BaseRevision: f.rev}
}

func TestCommit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  []step
		reads   []func(*api.State)
		commits int
		applies int
		hooks   []string
		err     func(error) bool
	}{
		{name: "committed", commits: 1, applies: 1},
		{name: "master moved, not committed: sent again to the new master",
			script: []step{{answer: lostAnswer, master: "rec-2"}}, commits: 1, applies: 2, hooks: []string{"resend via rec-2"}},
		{name: "master moved, committed all the same: read back",
			script: []step{{commit: true, answer: lostAnswer, master: "rec-2"}}, commits: 1, applies: 1},
		{name: "timed out, committed: read back",
			script: []step{{commit: true, answer: errTimedOut}}, commits: 1, applies: 1},
		{name: "timed out, not committed: sent again",
			script: []step{{answer: errTimedOut}}, commits: 1, applies: 2, hooks: []string{"resend via rec-1"}},
		{name: "committed, seen late: the resend is refused as stale and read back",
			script:  []step{{commit: true, answer: lostAnswer, master: "rec-2"}},
			reads:   []func(*api.State){func(st *api.State) { st.Revision--; st.Spec = siteSpec(st.Site, "old") }},
			commits: 1, applies: 2, hooks: []string{"resend via rec-2"}},
		{name: "another change landed while the answer was lost: stale",
			script:  []step{{answer: lostAnswer, master: "rec-2", after: func(f *fakeSite) { f.rev++; f.spec = siteSpec(f.name, "theirs") }}},
			applies: 1, err: func(err error) bool {
				var stale *api.StaleError
				return errors.As(err, &stale) && stale.Revision == 6 && stale.BaseRevision == 5
			}},
		{name: "no quorum every time: three sends, then unavailable, not unknown",
			script:  []step{{answer: noQuorum}, {answer: noQuorum}, {answer: noQuorum}},
			applies: 3, hooks: []string{"resend via rec-1", "resend via rec-1"},
			err: func(err error) bool { return errors.Is(err, api.ErrUnavailable) && !errors.Is(err, ErrOutcomeUnknown) }},
		{name: "lost answers every time: three sends, the outcome stays unknown",
			script:  []step{{answer: lostAnswer}, {answer: lostAnswer}, {answer: lostAnswer}},
			applies: 3, hooks: []string{"resend via rec-1", "resend via rec-1"},
			err: func(err error) bool { return errors.Is(err, ErrOutcomeUnknown) }},
		{name: "stale plan: refused at once",
			script:  []step{{before: func(f *fakeSite) { f.rev++ }}},
			applies: 1, err: func(err error) bool { var stale *api.StaleError; return errors.As(err, &stale) }},
		{name: "invalid: refused at once",
			script:  []step{{answer: &api.ValidationError{Message: "the spec is invalid"}}},
			applies: 1, err: func(err error) bool { var invalid *api.ValidationError; return errors.As(err, &invalid) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSite("hq", 5)
			f.script, f.reads = tc.script, tc.reads
			h := &hookLog{}
			ch := change(f)
			res, err := Commit(context.Background(), f, ch, fast, h)
			if tc.err != nil {
				if !tc.err(err) {
					t.Fatalf("error %v", err)
				}
			} else if err != nil || res.Revision != 6 {
				t.Fatalf("revision %d, %v; want 6", res.Revision, err)
			}
			if f.commits != tc.commits || f.applies != tc.applies {
				t.Errorf("%d commits of %d applies, want %d of %d", f.commits, f.applies, tc.commits, tc.applies)
			}
			if !slices.Equal(h.lines, tc.hooks) {
				t.Errorf("hooks %q, want %q", h.lines, tc.hooks)
			}
		})
	}
}

// Without a master after a lost answer, the outcome is unknown; after a
// plain refusal, the site could not commit.
func TestCommitWithoutMaster(t *testing.T) {
	for _, answer := range []error{lostAnswer, noQuorum} {
		f := newFakeSite("hq", 5)
		f.script = []step{{answer: answer}}
		f.master = ""
		o := fast
		o.MasterWait = 20 * time.Millisecond
		_, err := Commit(context.Background(), f, change(f), o, nil)
		if errors.Is(err, ErrOutcomeUnknown) != (answer == lostAnswer) || !errors.Is(err, api.ErrUnavailable) || f.applies != 1 {
			t.Errorf("%v: got %v after %d applies", answer, err, f.applies)
		}
	}
	// UntilDone waits for the first master past MasterWait (a site whose
	// agents just started).
	f := newFakeSite("hq", 0)
	f.script = []step{{answer: noQuorum}}
	noMaster := func(st *api.State) { st.Master = "" }
	f.reads = []func(*api.State){noMaster, noMaster, noMaster}
	o := fast
	o.MasterWait, o.UntilDone = time.Nanosecond, true
	if res, err := Commit(context.Background(), f, change(f), o, nil); err != nil || res.Revision != 1 || f.applies != 2 || len(f.reads) != 0 {
		t.Errorf("until done: revision %d, %v after %d applies", res.Revision, err, f.applies)
	}
}

func TestCommitTransfersTheMasterFirst(t *testing.T) {
	f := newFakeSite("hq", 5)
	ch := change(f)
	ch.TransferFrom, ch.TransferTo = "rec-1", "rec-2"
	h := &hookLog{}
	res, err := Commit(context.Background(), f, ch, fast, h)
	if err != nil || res.Master != "rec-2" || !slices.Equal(f.transfers, []string{"rec-2"}) {
		t.Fatalf("result %+v, %v, transfers %v", res, err, f.transfers)
	}
	if want := []string{"transfer rec-1->rec-2", "master rec-2"}; !slices.Equal(h.lines, want) {
		t.Errorf("hooks %q, want %q", h.lines, want)
	}
	// The role stays moved when the commit then fails, and the result says so.
	f.fail = &api.ValidationError{Message: "invalid"}
	if res, err := Commit(context.Background(), f, ch, fast, h); err == nil || res.Master != "rec-2" {
		t.Errorf("failed commit after a transfer: %+v, %v", res, err)
	}
}

func TestCommitWaitsForTheLiveServers(t *testing.T) {
	f := newFakeSite("hq", 5)
	lag := func(st *api.State) { st.Servers[1].Revision = 5 }
	f.reads = []func(*api.State){lag, lag, lag}
	o := fast
	o.CatchUp = 5 * time.Second
	res, err := Commit(context.Background(), f, change(f), o, nil)
	if err != nil || res.Revision != 6 || res.Behind != nil || len(f.reads) != 0 {
		t.Fatalf("result %+v, %v; %d lagging reads left", res, err, len(f.reads))
	}
	// A server that stays behind is named; the dead one is not waited for.
	for range 1000 {
		f.reads = append(f.reads, lag)
	}
	o.CatchUp = 20 * time.Millisecond
	res, err = Commit(context.Background(), f, change(f), o, nil)
	if err != nil || !slices.Equal(res.Behind, []string{"rec-2"}) {
		t.Errorf("result %+v, %v; want rec-2 behind", res, err)
	}
}

func TestConvergePlansAgainWhenTheSiteMoved(t *testing.T) {
	f := newFakeSite("hq", 5)
	// Someone else commits revision 6 just before the first apply lands.
	f.script = []step{{before: func(f *fakeSite) { f.rev++ }}}
	h := &hookLog{}
	var bases []uint64
	res, err := Converge(context.Background(), f, func(st *api.State) (*Change, error) {
		bases = append(bases, st.Revision)
		return &Change{Spec: siteSpec("hq", "new"), BaseRevision: st.Revision}, nil
	}, fast, h)
	if err != nil || res.Revision != 7 || !slices.Equal(bases, []uint64{5, 6}) {
		t.Fatalf("revision %d, %v; planned against %v", res.Revision, err, bases)
	}
	if want := []string{"replan at 6"}; !slices.Equal(h.lines, want) {
		t.Errorf("hooks %q, want %q", h.lines, want)
	}
	// Nothing to change: nothing is sent.
	res, err = Converge(context.Background(), f, func(*api.State) (*Change, error) { return nil, nil }, fast, h)
	if err != nil || res.Revision != 7 || f.applies != 2 {
		t.Errorf("no change: %+v, %v, %d applies", res, err, f.applies)
	}
}

func TestSchedule(t *testing.T) {
	move := func(cam, from, to string) planner.SiteMove {
		return planner.SiteMove{Camera: cam, FromSite: from, ToSite: to}
	}
	type wave struct {
		sites []string
		held  []Hold
	}
	for _, tc := range []struct {
		name   string
		sites  []string
		moves  []planner.SiteMove
		failed []string
		waves  []wave
	}{
		{name: "no moves: one wave", sites: []string{"a", "b", "c"}, waves: []wave{{sites: []string{"a", "b", "c"}}}},
		{name: "a chain: receivers first", sites: []string{"a", "b", "c"},
			moves: []planner.SiteMove{move("x", "a", "b"), move("y", "b", "c")},
			waves: []wave{{sites: []string{"c"}}, {sites: []string{"b"}}, {sites: []string{"a"}}}},
		{name: "a chain whose last receiver fails: every giver is held back", sites: []string{"a", "b", "c", "d"},
			moves: []planner.SiteMove{move("x", "a", "b"), move("y", "b", "c")}, failed: []string{"c"},
			waves: []wave{{sites: []string{"c", "d"}},
				{held: []Hold{{Site: "b", Move: move("y", "b", "c"), ToFailed: true}, {Site: "a", Move: move("x", "a", "b")}}}}},
		{name: "a cycle is applied together, after nothing", sites: []string{"a", "b", "c"},
			moves: []planner.SiteMove{move("x", "a", "b"), move("y", "b", "a"), move("z", "c", "a")},
			waves: []wave{{sites: []string{"a", "b"}}, {sites: []string{"c"}}}},
		{name: "a move inside a site is no gift", sites: []string{"a", "b"},
			moves: []planner.SiteMove{move("x", "a", "a")},
			waves: []wave{{sites: []string{"a", "b"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSchedule(tc.sites, tc.moves)
			var got []wave
			for {
				w, held := s.Next()
				if len(w) == 0 && len(held) == 0 {
					break
				}
				got = append(got, wave{w, held})
				for _, site := range w {
					if slices.Contains(tc.failed, site) {
						s.Failed(site)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.waves) {
				t.Errorf("waves %v, want %v", got, tc.waves)
			}
		})
	}
}

// domainLog records a domain apply's hooks.
type domainLog struct {
	mu    sync.Mutex
	lines []string
}

func (d *domainLog) Site(name string) Hooks { return NoHooks{} }
func (d *domainLog) Applied(s *planner.DomainSite, res Result, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.lines = append(d.lines, s.Site+" failed")
		return
	}
	d.lines = append(d.lines, fmt.Sprintf("%s at %d", s.Site, res.Revision))
}
func (d *domainLog) HeldBack(h Hold) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lines = append(d.lines, fmt.Sprintf("%s held (gives %s to %s)", h.Site, h.Move.Camera, h.Move.ToSite))
}

func TestDomain(t *testing.T) {
	sites := map[string]*fakeSite{}
	var d planner.DomainPlan
	for _, n := range []string{"east", "north", "south", "west", "same"} {
		f := newFakeSite(n, 1)
		sites["http://"+n] = f
		p := &planner.SitePlan{Site: n, BaseRevision: 1, Desired: siteSpec(n, "new"),
			Changes: []planner.Change{{Address: "site." + n, Type: planner.TypeSite, Action: planner.Update}}}
		if n == "same" {
			p.Changes = nil
		}
		d.Sites = append(d.Sites, planner.DomainSite{Site: n, Status: planner.SitePlanned, Address: "http://" + n, Plan: p})
	}
	// east gives to north, north to south, which fails; west is alone.
	sites["http://south"].fail = &api.StatusError{StatusCode: http.StatusInternalServerError, Message: "disk on fire"}
	d.Moves = []planner.SiteMove{{Camera: "e", FromSite: "east", ToSite: "north"}, {Camera: "n", FromSite: "north", ToSite: "south"}}
	dial := func(address string) Site { return sites[address] }
	h := &domainLog{}
	res := Domain(context.Background(), &d, dial, fast, h)
	if !slices.Equal(res.Applied, []string{"west"}) || !slices.Equal(res.Failed, []string{"south"}) || !slices.Equal(res.Held, []string{"north", "east"}) {
		t.Errorf("result %+v", res)
	}
	want := []string{"south failed", "west at 2", "north held (gives n to south)", "east held (gives e to north)"}
	if !slices.Equal(h.lines, want) {
		t.Errorf("hooks:\n%s\nwant:\n%s", strings.Join(h.lines, "\n"), strings.Join(want, "\n"))
	}
	for _, n := range []string{"east", "north", "same"} {
		if sites["http://"+n].applies != 0 {
			t.Errorf("%s was applied", n)
		}
	}
}
