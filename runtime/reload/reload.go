// Package reload is the agent's hot reload: it watches a directory of *.hcl
// files (the agent's config_dir, typically a git checkout) and turns saved
// changes into applies through the same planner and API path as vigil apply.
//
// Behaviour:
//   - The directory is watched, not the files: editors and git replace files
//     by rename, which a watch on the file itself would lose. A directory
//     replaced as a whole (renamed over, a symlink switched) is noticed
//     within dirRecheck (2 s) and watched anew.
//   - Events are debounced (Options.Debounce, 200 ms by default) and a change
//     is acted on only when the content of the *.hcl files changed (SHA-256
//     over names and contents), so touching a file or a burst of writes
//     gives at most one reload. Trigger (SIGHUP) reloads even when nothing
//     changed.
//   - An invalid change is refused: the last good spec keeps running, the
//     rendered diagnostics (sensitive values scrubbed) go to the log, a
//     config.invalid event is raised, vigil_config_valid drops to 0,
//     vigil_config_reload_errors_total counts it and the agent shows the
//     error as config_error in /v1/state until a valid change arrives.
//   - The directory may describe a whole domain; only the agent's own site is
//     applied. A configuration without that site is refused like an invalid
//     one.
//   - A valid change on the master is planned against the committed state
//     (planner.Plan), the plan is logged as vigil plan prints it, and the
//     spec is sent to the agent's own POST /v1/apply with the plan's base
//     revision, so the same validation and stale-apply (409) rules hold.
//     Other servers only validate: the master applies. On a site that was
//     never applied, the first voting server of the configuration applies
//     it (creating the site's quorum), the others wait for it.
//   - Applying goes through the apply protocol (package planner/apply),
//     like vigil apply: nothing is applied twice when every server sees the
//     same git update: an identical spec plans to "no changes", and an apply
//     planned against a revision that moved meanwhile (two masters in quick
//     succession) is refused as stale, planned again, and then has nothing
//     left to do.
//   - A valid change that the master could not apply (no quorum, ...) is
//     tried again, after 2 s and then twice as long each time up to a
//     minute, until it is applied or a newer change replaces it.
//   - A valid change seen while a follower is remembered; when the server
//     becomes the master it plans that change again, so a change is not lost
//     when the master died between the git update and its apply. The first
//     load at start counts as a change: with a config_dir, the directory is
//     the site's source of truth.
package reload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/prometheus/client_golang/prometheus"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/apply"
	"vigil/planner/views"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// Agent is what hot reload needs of the running agent (*agent.Agent).
type Agent interface {
	Name() string
	// Client is a client of the agent's own API with token.
	Client(token string) *api.Client
	State() api.State
	Emit(api.Event)
	SetConfigError(msg string)
	// SetDomain tells the agent the domain's tree of sites that the
	// directory describes (nil: none), for the console.
	SetDomain(d *api.DomainTree)
	LeaderLoop(fn func(ctx context.Context))
}

// Options configure a Watcher.
type Options struct {
	// Dir is the watched configuration directory.
	Dir string
	// Token authorises the apply sent to the agent's own API.
	Token string
	// Load supplies variables to the configuration.
	Load hcl.LoadOptions
	// Debounce is how long the directory must be quiet before a reload
	// (default 200 ms).
	Debounce time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the reload metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Reloading and Reloaded, when set, bracket every reload that loads
	// the directory after the first (systemd's RELOADING=1 and READY=1);
	// Reloaded gets the refusal or apply error, nil when all went well.
	Reloading func()
	Reloaded  func(err error)

	// results receives every reload's Result (tests).
	results chan Result
	// retryMin replaces the first retry delay (tests).
	retryMin time.Duration
}

// Result is what one reload did, for tests and the log.
type Result struct {
	// Skipped is true when the content had not changed.
	Skipped bool
	// Err is set when the configuration was refused or the apply failed.
	Err error
	// Applied is the committed revision when this reload applied a change.
	Applied uint64
	// Planned is true when a plan was made (this server is the master).
	Planned bool
	// Changes is the number of changes of that plan.
	Changes int
}

// Watcher watches one configuration directory for one agent.
type Watcher struct {
	a      Agent
	o      Options
	log    *slog.Logger
	client *api.Client
	fw     *fsnotify.Watcher

	valid   prometheus.Gauge
	errs    prometheus.Counter
	applied prometheus.Counter

	trigger chan struct{} // SIGHUP
	master  chan struct{}
	results chan Result // nil unless a test listens

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// Used by the run goroutine only.
	hash    [sha256.Size]byte
	hashed  bool
	pending *spec.Site // valid change not yet seen committed
	// lastApplyErr is the last apply failure, "" after a success.
	lastApplyErr string
	// lastErr is the refused change's message, "" while the directory is valid.
	lastErr string
	sens    []string
}

// Start watches the directory and registers with the agent's leader loop.
// The directory is loaded at once, in the background, and handled like any
// later change (an invalid one is refused). Close stops it.
func Start(a Agent, o Options) (*Watcher, error) {
	if o.Debounce <= 0 {
		o.Debounce = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	st, err := os.Stat(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("config_dir: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("config_dir: %s is not a directory", o.Dir)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("config_dir: watching %s: %w", o.Dir, err)
	}
	if err := fw.Add(o.Dir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("config_dir: watching %s: %w", o.Dir, err)
	}
	w := &Watcher{
		a:       a,
		o:       o,
		log:     o.Logger.With("component", "reload", "dir", o.Dir),
		client:  a.Client(o.Token),
		fw:      fw,
		trigger: make(chan struct{}, 1),
		results: o.results,
		master:  make(chan struct{}, 1),
		done:    make(chan struct{}),
		valid: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_config_valid",
			Help: "1 when the watched configuration directory is valid, 0 while an invalid change is refused."}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_config_reload_errors_total",
			Help: "Reloads of the configuration directory that were refused or failed to apply."}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_config_reload_applies_total",
			Help: "Changes of the configuration directory this server applied as master."}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{w.valid, w.errs, w.applied} {
			if err := o.Registerer.Register(c); err != nil {
				fw.Close()
				return nil, fmt.Errorf("reload metrics: %w", err)
			}
		}
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	a.LeaderLoop(func(ctx context.Context) {
		select {
		case w.master <- struct{}{}:
		default:
		}
	})
	return w, nil
}

// Trigger reloads the directory even when its content did not change (SIGHUP).
func (w *Watcher) Trigger() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Close stops watching.
func (w *Watcher) Close() error {
	w.cancel()
	<-w.done
	return w.fw.Close()
}

// relevant reports whether a directory event can change the configuration.
func relevant(ev fsnotify.Event) bool {
	return strings.HasSuffix(ev.Name, ".hcl") && ev.Op != fsnotify.Chmod
}

// Retry backoff of a change that was valid but could not be applied (no
// quorum, the master unreachable, ...).
const (
	retryMin = 2 * time.Second
	retryMax = time.Minute
)

// dirRecheck is how often the watcher checks that the directory it watches
// is still the one at the configured path.
const dirRecheck = 2 * time.Second

func (w *Watcher) run() {
	defer close(w.done)
	var timer *time.Timer
	var fire <-chan time.Time
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	backoff := w.o.retryMin
	if backoff <= 0 {
		backoff = retryMin
	}
	first := backoff
	// done reports a result and schedules a retry when a valid change
	// failed to apply.
	done := func(r Result) {
		w.report(r)
		switch {
		case r.Planned && r.Err != nil && w.pending != nil:
			w.log.Info("will try to apply the change again", "in", backoff)
			retry.Reset(backoff)
			backoff = min(2*backoff, retryMax)
		case !r.Skipped:
			retry.Stop()
			backoff = first
		}
	}
	done(w.load()) // part of the agent's start: no reload notifications
	// A directory replaced as a whole (renamed over, or a symlink switched)
	// is a new inode that the watch does not see: look for it now and then.
	dirInfo, _ := os.Stat(w.o.Dir)
	recheck := time.NewTicker(dirRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-recheck.C:
			st, err := os.Stat(w.o.Dir)
			if err != nil || (dirInfo != nil && os.SameFile(st, dirInfo)) {
				continue
			}
			dirInfo = st
			w.fw.Remove(w.o.Dir)
			if err := w.fw.Add(w.o.Dir); err != nil {
				w.log.Error("watching the replaced configuration directory", "err", err)
				continue
			}
			w.log.Info("the configuration directory was replaced; watching the new one")
			done(w.reload(false))
		case <-w.ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			if !relevant(ev) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(w.o.Debounce)
			} else {
				timer.Reset(w.o.Debounce)
			}
			fire = timer.C
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			// An overflow loses events: reload to be sure.
			w.log.Warn("watching the configuration directory", "err", err)
			done(w.reload(true))
		case <-fire:
			fire = nil
			done(w.reload(false))
		case <-w.trigger:
			done(w.reload(true))
		case <-w.master:
			if w.pending != nil {
				w.log.Info("this server became the master: planning the configuration directory's last change")
				done(w.plan(w.pending))
			}
		case <-retry.C:
			if w.pending != nil {
				done(w.plan(w.pending))
			}
		}
	}
}

func (w *Watcher) report(r Result) {
	if w.results != nil {
		select {
		case w.results <- r:
		case <-w.ctx.Done():
		}
	}
}

// contentHash is the SHA-256 of the *.hcl files' names and contents.
func contentHash(dir string) ([sha256.Size]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, err := hcl.ReadFile(n) // bounded: not a device, not huge
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // removed between Glob and read: a later event follows
			}
			return [sha256.Size]byte{}, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(n), len(b))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, nil
}

// reload loads the directory when its content changed (or when forced),
// between the Reloading and Reloaded notifications.
func (w *Watcher) reload(force bool) Result {
	sum, err := contentHash(w.o.Dir)
	if err == nil && !force && w.hashed && sum == w.hash {
		return Result{Skipped: true}
	}
	if w.o.Reloading != nil {
		w.o.Reloading()
	}
	r := w.load()
	if w.o.Reloaded != nil {
		w.o.Reloaded(r.Err)
	}
	return r
}

// load loads the directory, validates it, and plans and applies it when
// this server applies.
func (w *Watcher) load() Result {
	sum, err := contentHash(w.o.Dir)
	w.hash, w.hashed = sum, err == nil
	site := w.a.State().Site
	opts := w.o.Load
	opts.Capacity = assign.Uncovered // the capacity warning of the log
	cfg, diags := hcl.Load([]string{w.o.Dir}, opts)
	var files map[string][]byte
	if cfg != nil {
		files, w.sens = cfg.Files, cfg.Sensitive
	}
	if !diags.HasErrors() {
		var own *spec.Site
		for _, s := range cfg.Sites {
			if s.Name == site {
				own = s
			}
		}
		if own == nil {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError,
				Summary: "Site not in the configuration",
				Detail:  fmt.Sprintf("This agent belongs to site %q, but the configuration directory %s describes %s.", site, w.o.Dir, siteNames(cfg))})
		} else {
			if len(diags) > 0 {
				w.log.Warn("configuration warnings:\n" + w.render(diags, files))
			}
			w.a.SetDomain(domainTree(cfg))
			return w.accept(own)
		}
	}
	return w.refuse(diags, files)
}

// domainTree is the tree of sites of cfg when it describes a domain (a
// domain block, or more than one site); nil otherwise.
func domainTree(cfg *hcl.Config) *api.DomainTree {
	if cfg.Domain == nil && len(cfg.Sites) < 2 {
		return nil
	}
	d := &api.DomainTree{}
	if cfg.Domain != nil {
		d.Name = cfg.Domain.Name
	}
	for _, s := range cfg.Sites {
		d.Sites = append(d.Sites, api.DomainTreeSite{Name: s.Name, Parent: s.Parent})
	}
	return d
}

func siteNames(cfg *hcl.Config) string {
	if len(cfg.Sites) == 0 {
		return "no site"
	}
	var n []string
	for _, s := range cfg.Sites {
		n = append(n, fmt.Sprintf("%q", s.Name))
	}
	return "site " + strings.Join(n, ", ")
}

func (w *Watcher) render(diags hhcl.Diagnostics, files map[string][]byte) string {
	var buf bytes.Buffer
	hcl.WriteDiagnostics(&buf, diags, files, false, w.sens)
	return strings.TrimRight(buf.String(), "\n")
}

// refuse keeps the last good spec and reports the diagnostics everywhere
// an operator looks.
func (w *Watcher) refuse(diags hhcl.Diagnostics, files map[string][]byte) Result {
	var errs hhcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hhcl.DiagError {
			errs = append(errs, d)
		}
	}
	first := errs[0]
	msg := first.Summary
	if first.Subject != nil {
		msg = fmt.Sprintf("%s:%d: %s", filepath.Base(first.Subject.Filename), first.Subject.Start.Line, first.Summary)
	}
	if first.Detail != "" {
		msg += ": " + first.Detail
	}
	msg = "the configuration directory has an invalid change, the site keeps its committed configuration: " + hcl.Scrub(msg, w.sens)
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more errors)", len(errs)-1)
	}
	w.log.Error("configuration directory refused: the site keeps its committed configuration\n" + w.render(diags, files))
	w.pending = nil // an earlier valid change not applied yet is not what the directory says any more
	w.valid.Set(0)
	w.errs.Inc()
	w.a.SetConfigError(msg)
	w.a.Emit(api.Event{Severity: spec.SeverityError, Kind: spec.EventConfigInvalid, Server: w.a.Name(), Message: msg})
	w.lastErr = msg
	return Result{Err: errors.New(msg)}
}

// accept clears a previous refusal and plans the site when this server is
// the master; a follower remembers it for when it becomes the master.
func (w *Watcher) accept(site *spec.Site) Result {
	w.valid.Set(1)
	if w.lastErr != "" {
		w.lastErr = ""
		w.a.SetConfigError("")
		w.a.Emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventConfigValid, Server: w.a.Name(), Message: "the configuration directory is valid again"})
	}
	w.pending = site
	st := w.a.State()
	if !w.applies(&st, site) {
		w.log.Info("configuration directory changed and is valid; the master applies it", "master", st.Master)
		return Result{}
	}
	return w.plan(site)
}

// applies reports whether this server applies the change: it is the
// master, or the site has never been applied and this server is the first
// voting server of the configuration, which then creates the site's quorum
// (one server only, so that servers do not bootstrap different quorums).
func (w *Watcher) applies(st *api.State, site *spec.Site) bool {
	me := w.a.Name()
	if st.Master == me {
		return true
	}
	if st.Master != "" || st.Revision != 0 {
		return false
	}
	for _, s := range site.Servers {
		if s.Kind != spec.KindVirtual {
			return s.Name == me
		}
	}
	return false
}

// plan plans site against the committed state and applies it through the
// agent's own API with the apply protocol (package planner/apply): the
// master role moves first when the plan says so, a master change while
// committing is sent again or read back, and a stale answer (another apply
// landed in between) is planned again, after which an identical spec has
// no changes.
func (w *Watcher) plan(site *spec.Site) Result {
	var res Result
	var applying *planner.SitePlan // the plan being applied; nil: nothing to apply
	notMaster := false
	out, err := apply.Converge(w.ctx, w.client, func(st *api.State) (*apply.Change, error) {
		applying = nil
		if !w.applies(st, site) {
			w.log.Info("not the master any more; the master applies the change", "master", st.Master)
			notMaster = true
			return nil, nil
		}
		p, err := planner.Plan(site, st, planner.Options{Sensitive: w.sens})
		if err != nil {
			return nil, err
		}
		res.Planned, res.Changes = true, len(p.Changes)
		if len(p.Errors) > 0 {
			return nil, fmt.Errorf("the plan has errors: %s", p.Errors[0].Summary)
		}
		if !p.HasChanges() {
			w.log.Info("configuration directory changed; no changes to the site", "revision", st.Revision)
			return nil, nil
		}
		var buf bytes.Buffer
		views.Text(&buf, p, false)
		w.log.Info("applying the configuration directory's change:\n" + hcl.Scrub(strings.TrimRight(buf.String(), "\n"), w.sens))
		applying = p
		ch := apply.FromPlan(p)
		return &ch, nil
	}, apply.Options{}, logHooks{w.log})
	switch {
	case notMaster:
		return res
	case err != nil:
		return w.applyFailed(err)
	}
	w.pending, w.lastApplyErr = nil, ""
	if applying == nil {
		return res
	}
	w.applied.Inc()
	w.a.Emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventConfigReloaded, Server: w.a.Name(),
		Message: fmt.Sprintf("applied the configuration directory's change as revision %d (%d changes)", out.Revision, len(applying.Changes))})
	res.Applied = out.Revision
	return res
}

// logHooks log the apply protocol's progress.
type logHooks struct{ log *slog.Logger }

func (h logHooks) TransferringMaster(from, to string) {
	h.log.Info("transferring the master role before applying", "from", from, "to", to)
}

func (h logHooks) MasterTransferred(master string) {
	h.log.Info("the master role moved", "master", master)
}

func (h logHooks) Resending(master string) {
	h.log.Info("the site's master changed while committing; sending the change again", "master", master)
}

func (h logHooks) Replanning(rev uint64) {
	h.log.Info("the site changed while applying; planning again", "revision", rev)
}

func (w *Watcher) applyFailed(err error) Result {
	msg := hcl.Scrub("applying the configuration directory's change: "+err.Error(), w.sens)
	w.log.Error(msg)
	w.errs.Inc()
	if msg != w.lastApplyErr { // a retry failing the same way is not news
		w.a.Emit(api.Event{Severity: spec.SeverityError, Kind: spec.EventConfigApplyFailed, Server: w.a.Name(), Message: msg})
	}
	w.lastApplyErr = msg
	return Result{Err: errors.New(msg), Planned: true}
}
