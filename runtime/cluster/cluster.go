package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// SiteKeySize is the required length of Config.SiteKey.
const SiteKeySize = 32

// Config configures one cluster member.
type Config struct {
	// Name is this server's name (as in the spec); it is its memberlist
	// node name and its raft server ID.
	Name string
	// Site is the site's name; members of another site are refused.
	Site string
	// BindAddr is the IP to listen on, e.g. "127.0.0.11" or "0.0.0.0".
	BindAddr string
	// Port is the API port (default 53540); membership listens on Port+1
	// (TCP and UDP), raft on Port+2 (TCP).
	Port int
	// AdvertiseAddr is the IP peers reach this server at; default BindAddr,
	// which must then not be unspecified.
	AdvertiseAddr string
	// DataDir holds the raft log, stable store and snapshots (under "raft").
	DataDir string
	// Join lists peers' membership addresses, "host:port" with the
	// membership port (API port + 1), or "host" for the default 53541.
	// Servers of the committed spec are joined as well, so Join matters
	// only for a fresh server.
	Join []string
	// SiteKey (32 bytes) encrypts and authenticates membership traffic and
	// authenticates the raft transport.
	SiteKey []byte
	// Version is the vigil version; members with another version are refused.
	Version string
	// Keepalive is the membership probe interval (default 1s). See the
	// package documentation for the resulting detection times.
	Keepalive time.Duration
	Logger    *slog.Logger
	// Events, if set, receives membership and master events. It is called
	// synchronously and must not block.
	Events func(api.Event)
}

// Member is one server as this node's membership sees it.
type Member struct {
	Name    string
	Addr    string
	APIPort int
	// Health is api.HealthAlive, api.HealthSuspect or api.HealthDead.
	Health string
	// Since is when the member entered Health, by the local clock.
	Since time.Time
	// Late is set while an alive member has not answered this server's
	// pings for half a keepalive: not suspect yet, but its backups get
	// ready.
	Late bool
	// Left is set when a dead member announced its departure (graceful
	// shutdown) instead of failing.
	Left bool
	// Heard is when the member last answered this server (zero for this
	// server): a dead member's media ends about then.
	Heard   time.Time
	Version string
	// Status is the member's last published status payload (see SetStatus);
	// a dead member keeps its last one.
	Status []byte
}

// APIAddr is the member's API address, "host:port".
func (m Member) APIAddr() string { return net.JoinHostPort(m.Addr, strconv.Itoa(m.APIPort)) }

// ErrNotLeader is returned by leader-only calls on other servers; Leader
// names the master. The error text names it too.
var ErrNotLeader = errors.New("this server is not the master")

// ErrNoQuorum is returned when no master can be elected because fewer than
// a majority of the site's voting servers are reachable. Recording goes on;
// only changes to the committed state need quorum.
var ErrNoQuorum = errors.New("no quorum")

// ErrOutcomeUnknown is returned when an entry reached raft but the master
// moved or lost its majority before confirming its commit: it may be
// committed by the next master or be dropped. Reading the revision back
// once a master is elected tells which.
var ErrOutcomeUnknown = errors.New("the commit was not confirmed")

// StaleError refuses an apply planned against another revision.
type StaleError struct {
	Current, Base uint64
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("stale apply: it was planned against revision %d but the site is at revision %d; plan again", e.Base, e.Current)
}

// Cluster is one running member of a site.
type Cluster struct {
	cfg   Config
	log   *slog.Logger
	start time.Time

	raftAddr   string // advertised raft address
	advertise  string // advertised IP
	raftKey    []byte
	raftTiming time.Duration // heartbeat and election timeout

	fsm    *fsm
	raft   *raft.Raft
	store  *raftboltdb.BoltStore
	trans  *raft.NetworkTransport
	stream *streamLayer
	ml     *memberlist.Memberlist
	drops  *dropReporter // membership traffic dropped by the transport

	mu       sync.Mutex
	members  map[string]*memberRec // other members, by name
	statuses map[string]statusRec  // by member name, self included
	refused  map[string]time.Time  // "name\x00reason" or "raft\x00host" -> last reported
	leaving  map[string]bool       // members that announced a shutdown
	refusals map[string]Refusal    // by name, see Refused
	selfSeq  uint64
	det      *detector // judges members' silence (healthLoop)

	// Published in node meta.
	raftConfigured atomic.Bool
	revision       atomic.Uint64

	leaderNotify chan bool // raft's leadership notifications
	changes      chan struct{}
	reconcileCh  chan struct{}
	publishCh    chan struct{}
	metaCh       chan struct{}

	applyMu     sync.Mutex // serialises Apply (and bootstrap) on this node
	reconcileMu sync.Mutex // serialises raft configuration changes

	leaderMu  sync.Mutex
	loops     []func(context.Context)
	leaderCtx context.Context // set while leader work runs
	leaderWG  sync.WaitGroup

	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	wg           sync.WaitGroup
}

type memberRec struct {
	addr           string
	mlPort         int
	apiPort        int
	version        string
	health         string
	since          time.Time
	left           bool
	gone           bool // memberlist counts it dead or left (it no longer probes it)
	peer                // what the detector keeps: last answer, second opinions
	late           bool
	raftConfigured bool
	revision       uint64
}

// raftAddr is the member's raft address: its raft port is its API port + 2.
func (r memberRec) raftAddr() raft.ServerAddress {
	return raft.ServerAddress(net.JoinHostPort(r.addr, strconv.Itoa(r.apiPort+2)))
}

func deriveKey(siteKey []byte, purpose string) []byte {
	m := hmac.New(sha256.New, siteKey)
	m.Write([]byte("vigil " + purpose + " key v1"))
	return m.Sum(nil)
}

// raftTimingFor is raft's heartbeat and election timeout for a keepalive:
// three keepalives, 2 to 10 s. Recording never waits for the master, so a
// slower election after a crash costs little, while a follower starved of
// CPU for a second must not depose a healthy master.
func raftTimingFor(keepalive time.Duration) time.Duration {
	return clamp(3*keepalive, 2*time.Second, 10*time.Second)
}

func clamp(d, lo, hi time.Duration) time.Duration { return min(max(d, lo), hi) }

// Start joins the site: it opens the raft state in DataDir (resuming it if
// present) and starts the raft transport and membership. It returns without
// waiting for peers: Join is contacted in the background and retried, so an
// Apply right after Start may see fewer members (the master adds the others
// as voters when they appear).
func Start(cfg Config) (*Cluster, error) {
	if cfg.Name == "" || cfg.Site == "" {
		return nil, errors.New("cluster: server name and site name are required")
	}
	if len(cfg.SiteKey) != SiteKeySize {
		return nil, fmt.Errorf("cluster: the site key must be %d bytes, got %d", SiteKeySize, len(cfg.SiteKey))
	}
	if cfg.DataDir == "" {
		return nil, errors.New("cluster: a data directory is required")
	}
	if cfg.Port == 0 {
		cfg.Port = spec.DefaultAPIPort
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = spec.DefaultKeepalive
	}
	if cfg.BindAddr == "" {
		cfg.BindAddr = "0.0.0.0"
	}
	if cfg.AdvertiseAddr == "" {
		cfg.AdvertiseAddr = cfg.BindAddr
	}
	adv := net.ParseIP(cfg.AdvertiseAddr)
	if adv == nil || adv.IsUnspecified() {
		return nil, fmt.Errorf("cluster: advertise address %q is not an IP peers can reach; set the server's address", cfg.AdvertiseAddr)
	}
	log := cfg.Logger
	if log == nil {
		log = discardLogger()
	}
	c := &Cluster{
		cfg:         cfg,
		log:         log,
		start:       time.Now(),
		advertise:   adv.String(),
		raftAddr:    net.JoinHostPort(adv.String(), strconv.Itoa(cfg.Port+2)),
		raftKey:     deriveKey(cfg.SiteKey, "raft"),
		raftTiming:  raftTimingFor(cfg.Keepalive),
		members:     map[string]*memberRec{},
		statuses:    map[string]statusRec{},
		refused:     map[string]time.Time{},
		leaving:     map[string]bool{},
		refusals:    map[string]Refusal{},
		selfSeq:     uint64(time.Now().UnixNano()),
		changes:     make(chan struct{}, 1),
		reconcileCh: make(chan struct{}, 1),
		publishCh:   make(chan struct{}, 1),
		metaCh:      make(chan struct{}, 1),
		shutdownCh:  make(chan struct{}),
	}
	c.det = newDetector(cfg.Keepalive, time.Now())
	c.fsm = newFSM(log.With("component", "fsm"), c.onApplied)
	err := c.startRaft()
	if err == nil {
		err = c.startMembership()
	}
	if err != nil {
		close(c.shutdownCh)
		c.closeRaft()
		c.wg.Wait()
		return nil, err
	}
	c.wg.Add(4)
	go c.monitorLeadership()
	go c.healthLoop()
	go c.publishLoop()
	go c.joinLoop()
	return c, nil
}

func (c *Cluster) startRaft() error {
	dir := filepath.Join(c.cfg.DataDir, "raft")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	hlog := hclogFor(c.log, "raft")
	path := filepath.Join(dir, "raft.db")
	store, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &bbolt.Options{Timeout: 2 * time.Second}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("cluster: raft store %s is locked by another process (another agent using the same data directory?)", path)
	}
	if err != nil {
		return fmt.Errorf("cluster: opening raft store: %w", err)
	}
	c.store = store
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 3, hlog)
	if err != nil {
		return fmt.Errorf("cluster: opening raft snapshots: %w", err)
	}
	logs, err := raft.NewLogCache(512, store)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	advAddr := &net.TCPAddr{IP: net.ParseIP(c.advertise), Port: c.cfg.Port + 2}
	c.stream, err = newStreamLayer(net.JoinHostPort(c.cfg.BindAddr, strconv.Itoa(c.cfg.Port+2)), advAddr,
		c.raftKey, c.log.With("component", "raft-transport"), c.onRaftRefused)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  c.stream,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hlog,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.cfg.Name)
	rc.Logger = hlog
	rc.HeartbeatTimeout = c.raftTiming
	rc.ElectionTimeout = c.raftTiming
	rc.LeaderLeaseTimeout = c.raftTiming
	c.leaderNotify = make(chan bool, 16)
	rc.NotifyCh = c.leaderNotify
	existing, err := raft.HasExistingState(logs, store, snaps)
	if err != nil {
		return fmt.Errorf("cluster: reading raft state: %w", err)
	}
	r, err := raft.NewRaft(rc, c.fsm, logs, store, snaps, c.trans)
	if err != nil {
		return fmt.Errorf("cluster: starting raft: %w", err)
	}
	c.raft = r
	c.raftConfigured.Store(c.hasRaftConfig())
	st := c.fsm.current()
	c.revision.Store(st.Revision)
	if existing {
		c.log.Info("resuming the site's raft state", "revision", st.Revision, "data_dir", c.cfg.DataDir)
	} else {
		c.log.Info("no raft state yet: this server waits for the first apply, or for the master to add it")
	}
	obs := make(chan raft.Observation, 16)
	r.RegisterObserver(raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	}))
	c.wg.Add(1)
	go c.observeLeader(obs)
	return nil
}

func (c *Cluster) closeRaft() {
	if c.raft != nil {
		if err := c.raft.Shutdown().Error(); err != nil {
			c.log.Warn("raft shutdown", "err", err)
		}
	}
	if c.trans != nil {
		c.trans.Close()
	} else if c.stream != nil {
		c.stream.Close()
	}
	if c.store != nil {
		c.store.Close()
	}
}

func (c *Cluster) hasRaftConfig() bool {
	f := c.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	return len(f.Configuration().Servers) > 0
}

// onApplied runs on every committed entry (raft's FSM goroutine).
func (c *Cluster) onApplied(kind string) {
	rev := c.fsm.current().Revision
	if c.revision.Swap(rev) != rev || !c.raftConfigured.Load() {
		c.raftConfigured.Store(true)
		c.signal(c.metaCh)
	}
	if kind == cmdApplySpec {
		c.signal(c.reconcileCh)
	}
	c.notify()
}

func (c *Cluster) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (c *Cluster) notify() { c.signal(c.changes) }

func (c *Cluster) emit(severity spec.Severity, kind, server, msg string) {
	if c.cfg.Events == nil {
		return
	}
	ev := api.Event{Time: time.Now(), Severity: severity, Kind: kind, Server: server, Message: msg}
	if server != c.cfg.Name {
		ev.Observer = c.cfg.Name // a verdict about a peer is this server's view
	}
	c.cfg.Events(ev)
}

// Changes delivers a coalesced notification whenever membership, health,
// status payloads, the master or the committed state change. Read State,
// Members and Leader after receiving.
func (c *Cluster) Changes() <-chan struct{} { return c.changes }

// State is the last committed state applied on this node. It needs no
// quorum, so it stays readable when the site has none.
func (c *Cluster) State() State { return c.fsm.current() }

// ExportKey returns the site's export key (see runtime/evidence), made by
// the first apply and replicated with the state; false before it exists.
func (c *Cluster) ExportKey() (ed25519.PrivateKey, bool) {
	k := c.fsm.siteExportKey()
	return k, k != nil
}

// Stats returns the daily recorded-bytes statistics dated on or after since
// ("2006-01-02"; "" for all), sorted by date, camera and server.
func (c *Cluster) Stats(since string) []DailyStat { return c.fsm.statsSince(since) }

// Members lists every server this node has seen, itself included, sorted by
// name. Servers of the spec never seen are not listed.
func (c *Cluster) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Member, 0, len(c.members)+1)
	out = append(out, Member{
		Name: c.cfg.Name, Addr: c.advertise, APIPort: c.cfg.Port,
		Health: api.HealthAlive, Since: c.start, Version: c.cfg.Version,
		Status: c.statuses[c.cfg.Name].Payload,
	})
	for name, r := range c.members {
		out = append(out, Member{
			Name: name, Addr: r.addr, APIPort: r.apiPort, Health: r.health, Since: r.since,
			Late: r.late, Left: r.left, Heard: r.lastAck, Version: r.version, Status: c.statuses[name].Payload,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// member returns a copy of the named member's record.
func (c *Cluster) member(name string) (memberRec, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.members[name]
	if !ok {
		return memberRec{}, false
	}
	return *r, true
}

// Leader names the master and its API address; "" when none is known.
func (c *Cluster) Leader() (name, apiAddr string) {
	addr, id := c.raft.LeaderWithID()
	if id == "" {
		return "", ""
	}
	name = string(id)
	if name == c.cfg.Name {
		return name, net.JoinHostPort(c.advertise, strconv.Itoa(c.cfg.Port))
	}
	if m, ok := c.member(name); ok {
		return name, net.JoinHostPort(m.addr, strconv.Itoa(m.apiPort))
	}
	// Not seen by membership yet: the API port is the raft port - 2.
	host, port, err := net.SplitHostPort(string(addr))
	if err != nil {
		return name, ""
	}
	p, _ := strconv.Atoi(port)
	return name, net.JoinHostPort(host, strconv.Itoa(p-2))
}

// IsLeader reports whether this server is the master.
func (c *Cluster) IsLeader() bool { return c.raft.State() == raft.Leader }

// Shutdown leaves the site gracefully: a master first hands its role to
// another voter, then the server announces its departure, so peers mark it
// dead at once (Member.Left) instead of after failure detection. The raft
// state stays in DataDir for the next Start.
func (c *Cluster) Shutdown() error {
	if c.IsLeader() && len(c.otherVoters()) > 0 {
		if err := c.raft.LeadershipTransfer().Error(); err != nil {
			c.log.Warn("could not hand over the master role before shutdown", "err", err)
		}
	}
	var err error
	if c.ml != nil {
		c.announceLeave()
		err = c.ml.Leave(2 * c.cfg.Keepalive)
	}
	return errors.Join(err, c.stop())
}

// Kill stops the server without telling anyone, as a crash or power loss
// would: peers find out through failure detection. For tests and drills.
func (c *Cluster) Kill() error { return c.stop() }

func (c *Cluster) stop() error {
	var err error
	c.shutdownOnce.Do(func() {
		close(c.shutdownCh)
		if c.ml != nil {
			err = c.ml.Shutdown()
		}
		c.closeRaft()
		c.wg.Wait()
	})
	return err
}

func (c *Cluster) otherVoters() []raft.Server {
	f := c.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	var out []raft.Server
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != c.cfg.Name {
			out = append(out, s)
		}
	}
	return out
}

// announceLeave tells every live member that this server is shutting down
// on purpose, so that they report it as left rather than failed.
func (c *Cluster) announceLeave() {
	msg := append([]byte{msgLeaving}, c.cfg.Name...)
	for _, n := range c.liveNodes() {
		if err := c.ml.SendReliable(n, msg); err != nil {
			c.log.Debug("announcing shutdown", "to", n.Name, "err", err)
		}
	}
}
