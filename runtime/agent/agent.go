// Package agent is vigil's daemon: it wires the site cluster (membership and
// the replicated spec), the assignment, the recorder and its storage, the HTTP
// API, events and metrics into one process.
//
// The agent is a small reconcile loop in the style of a Kubernetes or Talos
// controller. On every membership or gossip change, recorder event and tick it
// reads the committed spec, builds the assignment's input from its own view
// (members, the cameras every peer gossips it is recording, balancing moves),
// runs assign.Assign, hands the cameras the result gives this server to the
// recorder, and gossips what it records. Recording therefore never waits for
// quorum; only configuration changes (POST /v1/apply) go through the master.
// A pass runs stages, each in a stage_*.go file whose doc comment names what
// it reads and writes (reconcile lists them); change.go decides when the
// assignment reruns and when /v1/state's cached answer is stale, and a
// reflection test pins every compared field.
//
// Decisions worth knowing:
//   - Startup grace: a server of the spec that membership has never seen is
//     treated as alive for the first few keepalives after start (startupGrace),
//     so a booting agent does not take over every camera of the site before
//     membership converged.
//   - Storage paths of the spec that are relative are relative to data_dir; a
//     server with no storage records under <data_dir>/recordings.
//   - Gaps shown by /v1/state are observed site-wide by the answering agent
//     (no peer recording a camera it saw recorded) and completed with the
//     gaps of its local store.
//   - A suspect server's gossiped sessions are still shown (it may be a
//     false alarm) but do not count as recording for gap tracking.
//   - Membership starts before the committed spec is read, so the site's
//     keepalive is saved in data_dir and used from the next start; a
//     committed change of it raises a "config.restart_needed" event.
//   - CPU and memory in the gossiped status are the agent process's; with
//     several agents in one process (tests, vigil dev) they are shared.
//   - Close leaves the site gracefully (the master role is handed over,
//     peers mark the server dead at once); Kill vanishes like a crash.
//
// The HTTP API is unauthenticated for reads (/v1/state shows camera
// passwords only as fingerprints) and needs the configured token as
// "Authorization: Bearer TOKEN" for POST /v1/apply and
// POST /v1/master/transfer. A follower forwards those to the master.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
	"vigil/runtime/cluster"
	"vigil/runtime/eventlog"
)

// WaitingMessage is the status of an agent whose site has no committed spec.
const WaitingMessage = "waiting for vigil apply: no site spec has been committed yet"

// Agent is one running vigil agent.
type Agent struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	events  *hub
	history *eventlog.Log
	started time.Time
	// fpKey is the key of the site's secret fingerprints, fp their maker
	// (see fingerprintKey).
	fpKey []byte
	fp    spec.Fingerprinter

	cl  *cluster.Cluster
	srv *http.Server
	// plainSrv answers plain HTTP on the API port (nil when it is off).
	plainSrv *http.Server
	tls      *serverTLS
	// peerHTTP is the HTTP client of agent-to-agent calls (peerClient).
	peerHTTP *http.Client
	kick     chan struct{}
	// One report a minute of refused API requests and connections.
	unauthGate, forbiddenGate, connGate minuteGate
	// peerToken is the credential of the site's servers with each other
	// (derived from the site key); peerAuth presents it on peerHTTP's
	// requests.
	peerToken string
	peerAuth  peerTransport
	// One report a minute of audit entries lost.
	auditGate minuteGate

	ctx      context.Context // ends when Close starts
	cancel   context.CancelFunc
	loopExit chan struct{}
	done     chan struct{} // closed when stopped
	once     sync.Once

	// Used by the reconcile loop only.
	openErr   error
	openErrAt time.Time
	decoded   map[string]decodedStatus
	idx       *specIndex           // of the committed revision
	assigned  assignInputs         // of the last assign.Assign
	lastSent  []byte               // the last gossiped status
	announced []api.Gap            // the gaps this agent told (gap.open, gap.closed), oldest first
	linger    map[string]time.Time // cameras handed over but still recorded here, until when (handover.go)
	usage     processUsage
	usageAt   time.Time // of the last usage sample
	cpu       float64
	rss       int64

	// leaving is set by Close: this server hands its cameras away before
	// it leaves the site.
	leaving atomic.Bool
	// committingGaps is set while a commit of gaps is under way.
	committingGaps atomic.Bool
	// passes counts the completed reconcile passes, passedAt is when the
	// last one ended (Unix nanoseconds): Progress.
	passes   atomic.Uint64
	passedAt atomic.Int64

	mu        sync.Mutex
	view      view
	configErr string
	domain    *api.DomainTree // from the configuration directory (SetDomain)
	rec       *recorderSet
	gaps      *gapTracker
	// clockOffset measures this server's clock offset to the master (see
	// SetClockOffset); nil when nothing measures it.
	clockOffset func() (time.Duration, bool)

	// stateCache is the last answer of GET /v1/state.
	stateCache stateCache
	// console feeds the web console's push channel and live views.
	console *consoleFeed
	// login is the console's login: sessions and failed logins.
	login *login
	// runs is what the day overview of footage walked before.
	runs runCache
	// probes are the layouts of segment files played lately.
	probes probeCache
	// audit queues this server's audit entries for the master (audit.go).
	audit *auditor
}

// view is the result of the last reconcile pass, read by the API.
type view struct {
	revision uint64
	members  map[string]cluster.Member
	statuses map[string]*memberStatus
	health   map[string]assign.Member
	result   assign.Result
	mine     []string
	warm     []string // cameras held warm here in case a failing server is declared dead
	failing  []string // servers late or suspect, sorted: why warm is not empty
	master   string
	err      string
	refused  map[string]string // server → why membership refused it

	idx       *specIndex // of the committed spec; nil before the first
	overrides []api.Override
	// input is the assignment's input of result (a drain's forecast reruns
	// it with one more server draining).
	input assign.Input
	// gen numbers the views that differ from the one before; /v1/state
	// caches its answer per generation.
	gen uint64
}

// Start starts an agent: it joins the cluster, opens the API and starts the
// reconcile loop. Close stops it.
func Start(cfg Config) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = savedKeepalive(cfg.DataDir)
	}
	if cfg.Port == 0 {
		cfg.Port = spec.DefaultAPIPort
	}
	if cfg.Bind == "" {
		cfg.Bind = "0.0.0.0"
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = DefaultStatsInterval
	}
	if cfg.Token == "" {
		return nil, errors.New("agent: an API token is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("agent: data directory: %w", err)
	}
	log := cfg.Logger.With("server", cfg.Server)
	a := &Agent{
		cfg:      cfg,
		log:      log,
		reg:      prometheus.NewRegistry(),
		started:  time.Now(),
		kick:     make(chan struct{}, 1),
		loopExit: make(chan struct{}),
		done:     make(chan struct{}),
		gaps:     newGapTracker(gapConfirm(cfg.Keepalive)),
		decoded:  map[string]decodedStatus{},
		fpKey:    fingerprintKey(cfg.SiteKey),
	}
	a.fp = spec.NewFingerprinter(a.fpKey)
	a.metrics = newMetrics(a.reg, &a.cfg)
	a.peerToken = peerTokenFor(cfg.SiteKey)
	a.events = newHub(a.metrics.eventsDropped.Inc)
	a.audit = newAuditor(cfg.Server, a.reg, a.sendAudit)
	a.audit.lostReport = a.auditLost
	var err error
	a.history, err = eventlog.Open(filepath.Join(cfg.DataDir, "events"), eventlog.Options{
		Retention: savedEventRetention(cfg.DataDir),
		Failed: func(err error) {
			a.log.Error("cannot keep events on disk: vigil events will miss them", "err", err)
		},
		Dropped: a.metrics.historyDropped.Inc,
		Corrupt: func(file string, bad int) {
			a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventEventsCorrupt,
				Message: fmt.Sprintf("event history file %s has %d unreadable lines (cut by a crash or damaged): skipped", file, bad)})
		},
	})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.console = newConsoleFeed(a.reg)
	a.login = a.newLogin()
	if a.tls, err = newServerTLS(&a.cfg); err != nil {
		a.history.Close()
		return nil, fmt.Errorf("agent: %w", err)
	}
	// Requests to peers go through peerAuth, which adds the peer
	// credential; its base reaches them over HTTPS verified with the
	// site's CA.
	a.peerAuth = peerTransport{base: peerTLSTransport(a.tls.ca), token: a.peerToken, server: cfg.Server}
	a.peerHTTP = &http.Client{Transport: a.peerAuth}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port)))
	if err != nil {
		a.history.Close()
		return nil, fmt.Errorf("agent: API listener: %w", err)
	}

	var join []string
	for _, j := range cfg.Join {
		addr, err := JoinAddress(j)
		if err != nil {
			ln.Close()
			a.history.Close()
			return nil, err
		}
		join = append(join, addr)
	}
	cl, err := cluster.Start(cluster.Config{
		Name:          cfg.Server,
		Site:          cfg.Site,
		BindAddr:      cfg.Bind,
		Port:          cfg.Port,
		AdvertiseAddr: cfg.Advertise,
		DataDir:       filepath.Join(cfg.DataDir, "cluster"),
		Join:          join,
		SiteKey:       cfg.SiteKey,
		Version:       cfg.Version,
		Keepalive:     cfg.Keepalive,
		Logger:        log,
		Events:        a.publish,
	})
	if err != nil {
		ln.Close()
		a.history.Close()
		return nil, fmt.Errorf("agent: cluster: %w", err)
	}
	a.cl = cl
	cl.LeaderLoop(a.gatherStats)
	cl.LeaderLoop(a.BalanceLoop(time.Now, DefaultBalanceInterval))
	cl.LeaderLoop(a.alertLoop)

	limits := defaultAPILimits()
	var limited net.Listener
	a.srv, limited = limits.server(ln, a.routes(), a.refuseConn)
	// Failed handshakes (a client without the site CA, a port scan) are
	// the client's business: debug level.
	a.srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	sniff := newSniffListener(limited, a.tls.config(), limits.header, cfg.PlainHTTP != PlainHTTPOff)
	if cfg.PlainHTTP != PlainHTTPOff {
		a.plainSrv = &http.Server{Handler: http.HandlerFunc(redirectHTTPS), ReadHeaderTimeout: limits.header, IdleTimeout: limits.header}
		go a.plainSrv.Serve(sniff.plainListener())
	}
	go func() {
		if err := a.srv.Serve(sniff); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("API server stopped", "err", err)
		}
	}()

	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.loop(a.ctx)
	go a.login.sweepLoop(a.ctx)
	go a.auditLoop(a.ctx)
	a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventAgentStarted, Message: fmt.Sprintf("agent %s of site %s started (vigil %s), API on %s; site CA SHA-256 fingerprint %s", cfg.Server, cfg.Site, cfg.Version, a.Addr(), a.tls.ca.Fingerprint())})
	return a, nil
}

// Addr is the agent's API base URL.
func (a *Agent) Addr() string { return a.cfg.APIAddr() }

// Name is the agent's server name.
func (a *Agent) Name() string { return a.cfg.Server }

// Registry is the agent's Prometheus registry (served on /metrics).
func (a *Agent) Registry() *prometheus.Registry { return a.reg }

// LeaderLoop runs fn each time this server becomes the master, with a
// context cancelled when it stops being the master (cluster.LeaderLoop).
// Extensions such as the virtual IP use it.
func (a *Agent) LeaderLoop(fn func(ctx context.Context)) { a.cl.LeaderLoop(fn) }

// Emit raises an event on behalf of an extension of the agent (hot reload,
// network): it is logged, counted and streamed on /v1/events.
func (a *Agent) Emit(ev api.Event) { a.emit(ev) }

// SetConfigError shows msg as the site's config_error in /v1/state (and
// vigil status) until it is set to "": hot reload uses it while the
// watched configuration is invalid and the last good spec keeps running.
func (a *Agent) SetConfigError(msg string) {
	a.mu.Lock()
	a.configErr = msg
	a.console.wake()
	a.mu.Unlock()
}

// SetDomain records the domain's tree of sites that the configuration
// directory describes (hot reload), for /v1/state and the console; nil
// when it describes none.
func (a *Agent) SetDomain(d *api.DomainTree) {
	a.mu.Lock()
	a.domain = d
	a.console.wake()
	a.mu.Unlock()
}

// Progress tells how far the reconcile loop got: the number of passes it
// completed (it passes at least every 500ms while the agent runs, consuming
// membership changes, reading the recorder's sessions and handing it its
// cameras, gossiping) and when the last one ended; zero before the first.
// A wedged cluster view or recorder stops the count. The systemd watchdog
// pings only while it grows.
func (a *Agent) Progress() (passes uint64, last time.Time) {
	n := a.passes.Load() // first: passedAt is stored before passes grows
	if n == 0 {
		return 0, time.Time{}
	}
	return n, time.Unix(0, a.passedAt.Load())
}

// Done is closed when the agent has stopped (Close or Kill).
func (a *Agent) Done() <-chan struct{} { return a.done }

// Close stops the agent gracefully: it stops the API and the recorder
// (closing its segments), hands the master role over and leaves the site,
// so that peers take over its cameras at once.
func (a *Agent) Close() error { return a.stop(false) }

// Kill stops the agent the way a crash would look from the network: the
// membership and raft sockets close without a goodbye, so peers find out
// by failure detection. Local files are closed. For tests and drills.
func (a *Agent) Kill() error { return a.stop(true) }

func (a *Agent) stop(hard bool) error {
	var err error
	a.once.Do(func() {
		if !hard {
			a.handOver()
			a.flushAudit()
		}
		a.cancel()
		<-a.loopExit
		// Leave (or vanish from) the site first, so that peers start
		// taking over while this server closes its files.
		if a.plainSrv != nil {
			a.plainSrv.Close()
		}
		if hard {
			err = a.cl.Kill()
			a.srv.Close()
		} else {
			err = a.cl.Shutdown()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			a.srv.Shutdown(ctx)
			cancel()
		}
		a.mu.Lock()
		rec := a.rec
		a.rec = nil
		a.mu.Unlock()
		if rec != nil {
			rec.close()
		}
		a.history.Close()
		close(a.done)
	})
	return err
}

// publish passes on an event raised (and logged) by the cluster or the
// recorder: metrics and /v1/events.
func (a *Agent) publish(ev api.Event) {
	if ev.Server == "" {
		ev.Server = a.cfg.Server
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	a.metrics.events.WithLabelValues(ev.Kind).Inc()
	a.history.Append(ev)
	a.events.publish(ev)
}

// emit raises an event of the agent's own: log, metrics and /v1/events.
func (a *Agent) emit(ev api.Event) {
	a.publish(ev)
	attrs := []any{"kind", ev.Kind}
	if ev.Camera != "" {
		attrs = append(attrs, "camera", ev.Camera)
	}
	a.log.Log(context.Background(), ev.Severity.Level(), ev.Message, attrs...)
}

// recorderEvent forwards a recorder event and wakes the loop, so that a
// session that starts or fails is gossiped at once.
func (a *Agent) recorderEvent(ev api.Event) {
	a.publish(ev)
	a.poke()
}

func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// loop is the reconcile loop.
func (a *Agent) loop(ctx context.Context) {
	defer close(a.loopExit)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	pending := false
	for {
		a.reconcile()
		// Coalesce triggers: a storm of recorder events or gossip (thousands
		// of cameras failing at once) costs one pass per minPass, not one
		// per event. A new committed revision or master is acted on at once.
		if !a.pause(ctx, &pending) {
			return
		}
		if pending {
			pending = false
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.cl.Changes():
		case <-a.kick:
		case <-tick.C:
		}
	}
}

// pause waits minPass after a pass, or less when the committed revision or
// the master changes; it notes in pending a cluster change that arrived
// meanwhile. It returns false when ctx ends.
func (a *Agent) pause(ctx context.Context, pending *bool) bool {
	a.mu.Lock()
	rev, master := a.view.revision, a.view.master
	a.mu.Unlock()
	t := time.NewTimer(minPass)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		case <-a.cl.Changes():
			*pending = true
			if m, _ := a.cl.Leader(); a.cl.State().Revision != rev || m != master {
				return true
			}
		}
	}
}

// minPass is the least time between the starts of two reconcile passes.
const minPass = 150 * time.Millisecond

// reconcile is one pass: spec and membership in, recorder set and gossip
// out. It runs the stages in order, each in its own file with the inputs
// and outputs it declares:
//
//	observe        (stage_observe.go)  cluster → observation
//	specInForce    (stage_observe.go)  committed spec → its index, config events
//	healthOf       (stage_observe.go)  members, statuses → the servers' health
//	recordingState (stage_recorder.go) spec → recorder, its sessions, what runs where
//	assignment     (stage_assign.go)   health, what runs → this server's cameras
//	driveRecorder  (stage_recorder.go) this server's cameras → recorder, own status
//	publishChanges (stage_publish.go)  assignment's change → events, metrics
//	gossipOwn      (stage_gossip.go)   own status, gaps → gossip
//	trackGaps      (stage_gaps.go)     sessions, assignment → gaps, their events
//	publishView    (stage_publish.go)  view → the API and the console
//
// Change detection (change.go) decides when the assignment reruns and
// when the view is a new generation.
func (a *Agent) reconcile() {
	t0 := time.Now()
	defer func() {
		end := time.Now()
		a.metrics.reconcile.Observe(end.Sub(t0).Seconds())
		a.passedAt.Store(end.UnixNano())
		a.passes.Add(1)
	}()

	obs := a.observe()
	a.refreshTLS(obs.st.Spec, obs.now)
	a.mu.Lock()
	prev := a.view
	a.mu.Unlock()
	v := obs.view()

	var own *memberStatus
	changed := false // the assignment's result
	if obs.st.Spec == nil {
		own = &memberStatus{Waiting: true}
	} else {
		a.specInForce(prev, obs.st)
		v.idx = a.idx
		v.health = a.healthOf(obs.st.Spec, obs.members, obs.statuses, obs.st.Drains, obs.now)
		rec, sessions, running := a.recordingState(obs, &v)
		changed = a.assignment(prev, &v, obs, rec, running)
		own = a.driveRecorder(rec, sessions, changed, obs.st.Revision, v)
		if changed {
			a.publishChanges(prev, v)
		}
	}
	own = a.gossipOwn(own, prev, obs)
	same := !changed && v.sameAs(prev)
	v.gen = prev.gen
	if !same {
		v.gen++
	}
	a.trackGaps(obs, &v, own, same)
	a.publishView(v, same)
}

// spec is the committed spec the view was built from, nil when none is.
func (v view) spec() *spec.Site {
	if v.idx == nil {
		return nil
	}
	return v.idx.spec
}

// keepaliveFile remembers the site's keepalive across restarts: membership
// starts before the committed spec is read.
const keepaliveFile = "keepalive"

func savedKeepalive(dataDir string) time.Duration {
	return savedDuration(dataDir, keepaliveFile, time.Second)
}

// savedDuration reads a duration saved in dataDir by saveDuration, or
// returns def.
func savedDuration(dataDir, file string, def time.Duration) time.Duration {
	b, err := os.ReadFile(filepath.Join(dataDir, file))
	if err != nil {
		return def
	}
	d, err := time.ParseDuration(string(b))
	if err != nil || d <= 0 {
		return def
	}
	return d
}

// saveDuration saves d in dataDir unless it is saved already; what is
// names it in the warning when it cannot.
func (a *Agent) saveDuration(file, what string, d time.Duration) {
	if savedDuration(a.cfg.DataDir, file, 0) == d {
		return
	}
	if err := os.WriteFile(filepath.Join(a.cfg.DataDir, file), []byte(d.String()), 0o640); err != nil {
		a.log.Warn("cannot save the site's "+what, "err", err)
	}
}

// keepaliveChanged saves the site's keepalive and says when this agent
// probes at another interval until it restarts.
func (a *Agent) keepaliveChanged(k time.Duration) {
	if k <= 0 {
		return
	}
	a.saveDuration(keepaliveFile, "keepalive", k)
	if k != a.cfg.Keepalive {
		a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventConfigRestartNeeded,
			Message: fmt.Sprintf("the site's keepalive is %s but this agent probes every %s: restart the agent to apply it", k, a.cfg.Keepalive)})
	}
}
