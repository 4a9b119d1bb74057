package devsite

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"vigil/dev/camsim"
	"vigil/hcl/spec"
	"vigil/planner/apply"
	"vigil/runtime/agent"
	"vigil/runtime/api"
	"vigil/runtime/siteca"
)

// Options describe a site. New reads them all; Start (a site of a
// configuration) reads Dir, Relocate, Version and Logger, and fills in the
// rest from the configuration.
type Options struct {
	// Name is the site's name (default "test").
	Name string
	// Servers names the servers, in order; every one gets its own agent.
	Servers []string
	// Cameras is the number of simulated cameras (camsim paths cam1...camN).
	Cameras int
	// Keepalive is the membership probe interval (default 1s).
	Keepalive time.Duration
	// Dir holds the servers' data directories, <Dir>/<server> (default: a
	// new temporary directory, removed by Close; Site.TempDir says so).
	Dir string
	// Relocate (Start only) runs the servers and camsim on free random
	// loopback addresses and ports instead of the configured ones, and maps
	// the configuration onto them (Site.Desired); for tests and benchmarks
	// that must not clash with each other or with a running `vigil dev`.
	Relocate bool
	// Logger receives every agent's log (default: discarded).
	Logger *slog.Logger
	// Version is the vigil version the agents run (default "test").
	Version string
	// Camsim adjusts the simulator's options (Paths is set; Listen defaults
	// to a random port on 127.0.0.1).
	Camsim camsim.Options
	// StatsInterval is how often the master gathers recording statistics
	// (default: the agent's default).
	StatsInterval time.Duration
	// Addrs fixes a server's address as "ip:port" (vigil dev runs the
	// addresses of a configuration); servers not listed get a random free
	// loopback address. Fixed addresses are not checked for being free.
	Addrs map[string]string
	// Token and Key, when set, are the site's API token and site key
	// instead of new random ones (vigil dev -data keeps them across runs).
	Token string
	Key   []byte
	// Extend, when set, runs after each agent starts (vigil dev measures
	// clock offsets with it); the function it returns runs when the agent
	// stops.
	Extend func(a *agent.Agent, cfg agent.Config) (stop func(), err error)
}

// Site is a running in-process site.
type Site struct {
	// Name is the site's name.
	Name string
	// Token authorises changes (VIGIL_TOKEN); from a kept data directory
	// (Start), the same on every run.
	Token string
	Key   []byte
	// CA is the site's certificate authority (derived from Key), which
	// the agents' HTTPS is verified with: Client and HTTPClient trust it.
	CA *siteca.CA
	// Cams is the camera simulator, nil when it serves no camera; camera i
	// (1-based) is at Cams.URL(i).
	Cams      *camsim.Server
	Keepalive time.Duration
	// Dir holds the servers' data directories; TempDir is true when the
	// site created it (Close removes it).
	Dir     string
	TempDir bool

	// Set by Start (a site of a configuration):

	// Applied says that a configuration was applied to the site in an
	// earlier run from the same data directory: the site's state, with
	// whatever the operator applied since, is what runs now.
	Applied bool
	// CamsimAddr is the address camsim serves (host:port) as the
	// configuration names it; empty when Cams is nil.
	CamsimAddr string
	// Unserved lists the cameras camsim cannot serve.
	Unserved []Unserved
	// CAFile (ca.pem in Dir) holds the certificate of CA, for VIGIL_CACERT
	// and browsers.
	CAFile string
	// Relocation: configured server address → live one, and camsim's
	// configured address → live one. Empty when not relocated.
	relocated map[string]serverAddr
	camFrom   string
	camTo     string
	kept      kept

	opts   Options
	closed sync.Once

	mu      sync.Mutex
	servers map[string]*Server
}

// Server is one server of the site and, while it runs, its agent.
type Server struct {
	Name string
	IP   string
	Port int
	// Config is the agent configuration Start uses.
	Config agent.Config

	mu     sync.Mutex
	agent  *agent.Agent
	unwind func() // what Options.Extend started
}

// Agent is the running agent, or nil.
func (s *Server) Agent() *agent.Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agent
}

// Addr is the server's API base URL.
func (s *Server) Addr() string { return "https://" + net.JoinHostPort(s.IP, strconv.Itoa(s.Port)) }

// New prepares a site: addresses, ports, secrets, data directories and the
// camera simulator. No agent runs yet.
func New(opts Options) (*Site, error) {
	if opts.Name == "" {
		opts.Name = "test"
	}
	if opts.Keepalive <= 0 {
		opts.Keepalive = time.Second
	}
	if opts.Version == "" {
		opts.Version = "test"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Site{Name: opts.Name, Keepalive: opts.Keepalive, opts: opts, Dir: opts.Dir, servers: map[string]*Server{}}
	if s.Dir == "" {
		d, err := os.MkdirTemp("", "vigil-site-")
		if err != nil {
			return nil, err
		}
		s.Dir, s.TempDir = d, true
	}
	s.Key, s.Token = opts.Key, opts.Token
	if s.Key == nil {
		s.Key = make([]byte, 32)
		rand.Read(s.Key)
	}
	if s.Token == "" {
		tok := make([]byte, 18)
		rand.Read(tok)
		s.Token = base64.RawURLEncoding.EncodeToString(tok)
	}
	ca, err := siteca.New(s.Name, s.Key)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.CA = ca

	if opts.Cameras > 0 {
		co := opts.Camsim
		co.Paths = opts.Cameras
		if co.Listen == "" {
			co.Listen = "127.0.0.1:0"
		}
		cams, err := camsim.Start(co)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("camera simulator on %s: %w", co.Listen, err)
		}
		s.Cams = cams
	}

	used := map[string]bool{}
	for _, name := range opts.Servers {
		if hp, ok := opts.Addrs[name]; ok {
			host, p, err := net.SplitHostPort(hp)
			port, perr := strconv.Atoi(p)
			if err != nil || perr != nil {
				s.Close()
				return nil, fmt.Errorf("address of %s: %q is not ip:port", name, hp)
			}
			used[host] = true
			s.servers[name] = &Server{Name: name, IP: host, Port: port}
			continue
		}
		ip, port, err := freeAddr(used)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.servers[name] = &Server{Name: name, IP: ip, Port: port}
	}
	for _, name := range opts.Servers {
		srv := s.servers[name]
		var join []string
		for _, other := range opts.Servers {
			if other != name {
				o := s.servers[other]
				join = append(join, net.JoinHostPort(o.IP, strconv.Itoa(o.Port)))
			}
		}
		srv.Config = agent.Config{
			Server:    name,
			Site:      opts.Name,
			DataDir:   filepath.Join(s.Dir, name),
			Bind:      srv.IP,
			Port:      srv.Port,
			Join:      join,
			Token:     s.Token,
			SiteKey:   s.Key,
			Version:   opts.Version,
			Logger:    opts.Logger,
			Keepalive: opts.Keepalive,

			StatsInterval: opts.StatsInterval,
		}
	}
	return s, nil
}

// freeAddr picks a loopback address 127.0.0.x and a port P such that P,
// P+1 (TCP and UDP) and P+2 are free on it.
func freeAddr(used map[string]bool) (string, int, error) {
	for range 200 {
		ip := fmt.Sprintf("127.0.%d.%d", mrand.IntN(250)+1, mrand.IntN(250)+2)
		port := 20000 + mrand.IntN(40000)
		if used[ip] || !portsFree(ip, port) {
			continue
		}
		used[ip] = true
		return ip, port, nil
	}
	return "", 0, errors.New("no free loopback address and port found")
}

func portsFree(ip string, port int) bool {
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for p := port; p <= port+2; p++ {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return false
		}
		closers = append(closers, l)
	}
	u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port+1)))
	if err != nil {
		return false
	}
	closers = append(closers, u)
	return true
}

// Server returns the named server; it panics on an unknown name, which is a
// bug in the test.
func (s *Site) Server(name string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, ok := s.servers[name]
	if !ok {
		panic("devsite: no server " + name)
	}
	return srv
}

// DataDir is the named server's data directory.
func (s *Site) DataDir(name string) string { return s.Server(name).Config.DataDir }

// Names lists the servers that run an agent, in the order of
// Options.Servers (of the configuration, for Start).
func (s *Site) Names() []string { return slices.Clone(s.opts.Servers) }

// Has reports whether name is a server of the site with an agent.
func (s *Site) Has(name string) bool { return slices.Contains(s.opts.Servers, name) }

// Running reports whether the server's agent runs.
func (s *Site) Running(name string) bool { return s.Server(name).Agent() != nil }

// Addr is the API base URL of a server.
func (s *Site) Addr(name string) string { return s.Server(name).Addr() }

// Start starts the named servers' agents (all of them when none is named);
// a stopped server starts again with its data intact.
func (s *Site) Start(names ...string) error {
	if len(names) == 0 {
		names = s.opts.Servers
	}
	for _, n := range names {
		srv := s.Server(n)
		srv.mu.Lock()
		if srv.agent != nil {
			srv.mu.Unlock()
			continue
		}
		a, err := agent.Start(srv.Config)
		if err == nil && s.opts.Extend != nil {
			if srv.unwind, err = s.opts.Extend(a, srv.Config); err != nil {
				a.Kill()
			}
		}
		if err == nil {
			srv.agent = a
		}
		srv.mu.Unlock()
		if err != nil {
			return fmt.Errorf("starting %s: %w", n, err)
		}
	}
	return nil
}

// Kill stops a server's agent as a crash would (no goodbye to its peers):
// they notice by failure detection, after a few keepalives.
func (s *Site) Kill(name string) error { return s.stop(name, true) }

// Stop stops a server's agent gracefully: it leaves the site and its peers
// take its cameras over at once.
func (s *Site) Stop(name string) error { return s.stop(name, false) }

func (s *Site) stop(name string, hard bool) error {
	srv := s.Server(name)
	srv.mu.Lock()
	a, unwind := srv.agent, srv.unwind
	srv.agent, srv.unwind = nil, nil
	srv.mu.Unlock()
	if a == nil {
		return nil
	}
	if unwind != nil {
		unwind()
	}
	if hard {
		return a.Kill()
	}
	return a.Close()
}

// Client returns an API client for the named server's agent, with the
// site's token.
func (s *Site) Client(name string) *api.Client {
	return api.NewClient(s.Server(name).Addr(), s.Token, api.WithCA(s.CA.Pool()))
}

// ServerSpec returns the spec of a recording server of the site, with its
// address and port filled in and one storage "recordings" (relative, so
// under the server's data directory).
func (s *Site) ServerSpec(name string) *spec.Server {
	srv := s.Server(name)
	return &spec.Server{Name: name, Address: srv.IP, Port: srv.Port, Kind: spec.KindRecording,
		Storage: []*spec.Storage{{Name: "main", Path: "recordings"}}}
}

// CameraSpec returns the spec of simulated camera i (1-based), named
// "cam<i>", recorded by server with the given backups. Segments are short
// (2s) so that tests see files quickly.
func (s *Site) CameraSpec(i int, server string, backup ...string) *spec.Camera {
	return &spec.Camera{
		Name:            "cam" + strconv.Itoa(i),
		URL:             s.Cams.URL(i),
		Server:          server,
		Backup:          backup,
		Redundancy:      spec.RedundancyNormal,
		Transport:       "tcp",
		SegmentDuration: 2 * time.Second,
		StallTimeout:    3 * time.Second,
		Balance:         true,
	}
}

// Spec returns a site spec with every server of the site (as ServerSpec)
// and the given cameras, with the site's keepalive and failback on.
func (s *Site) Spec(cameras ...*spec.Camera) spec.Site {
	spec := spec.Site{Name: s.Name, Keepalive: s.Keepalive, Failback: true, TimeZone: "UTC", Cameras: cameras}
	for _, n := range s.opts.Servers {
		spec.Servers = append(spec.Servers, s.ServerSpec(n))
	}
	return spec
}

// Commit commits spec through the first running agent, against the
// revision that agent reports, with no plan (see CommitVia; Apply is the way
// `vigil apply` does it).
func (s *Site) Commit(ctx context.Context, spec spec.Site) (uint64, error) {
	for _, n := range s.opts.Servers {
		if s.Server(n).Agent() != nil {
			return s.CommitVia(ctx, n, spec)
		}
	}
	return 0, errors.New("no agent is running")
}

// CommitVia commits spec through the named server's agent with the apply
// protocol (package planner/apply), planned against the revision that agent
// reports, as hot reload does: a site without a master yet (agents just
// started) is waited for until ctx ends, a stale answer is planned again,
// and it returns once every live server reports the new revision (at most
// after apply.DefaultCatchUp).
func (s *Site) CommitVia(ctx context.Context, server string, spec spec.Site) (uint64, error) {
	res, err := apply.Converge(ctx, s.Client(server), func(st *api.State) (*apply.Change, error) {
		return &apply.Change{Spec: &spec, BaseRevision: st.Revision}, nil
	}, apply.Options{UntilDone: true, CatchUp: apply.DefaultCatchUp}, nil)
	return res.Revision, err
}

// Wait polls the named server's /v1/state until cond holds, and returns
// that state. It fails when ctx ends, with the last state in the error.
func (s *Site) Wait(ctx context.Context, name string, cond func(*api.State) bool) (*api.State, error) {
	return Wait(ctx, s.Client(name), name, 50*time.Millisecond, cond)
}

// Wait polls the /v1/state of server name through c every poll until cond
// holds, and returns that state. When ctx ends it returns the last state
// and an error that summarises it (see Mismatch). The in-process site and
// the proving ground's site both wait with it.
func Wait(ctx context.Context, c *api.Client, name string, poll time.Duration, cond func(*api.State) bool) (*api.State, error) {
	st, err := c.WaitState(ctx, poll, cond)
	switch {
	case err == nil:
		return st, nil
	case st != nil:
		return st, fmt.Errorf("waiting on %s: %w; %s", name, err, Mismatch(st, nil))
	default:
		return nil, fmt.Errorf("waiting on %s: %w", name, err)
	}
}

// Close stops every agent (hard, closing their segments) and the
// simulator, and removes a temporary data directory.
func (s *Site) Close() {
	s.closed.Do(func() {
		// In parallel: a site stopping as a whole needs no takeovers.
		s.mu.Lock()
		names := slices.Collect(maps.Keys(s.servers))
		s.mu.Unlock()
		var wg sync.WaitGroup
		for _, n := range names {
			wg.Go(func() { s.Kill(n) })
		}
		wg.Wait()
		if s.Cams != nil {
			s.Cams.Close()
		}
		if s.TempDir {
			os.RemoveAll(s.Dir)
		}
	})
}

// Recorders returns, from a state, the servers recording camera (sessions
// in state recording), in the order the state lists them.
func Recorders(st *api.State, camera string) []string {
	var out []string
	for _, c := range st.Cameras {
		if c.Name != camera {
			continue
		}
		for _, r := range c.Recorders {
			if r.State == "recording" {
				out = append(out, r.Server)
			}
		}
	}
	return out
}

// RecordedBy reports whether, in st, every camera of want is recorded by
// exactly the listed servers (in any order).
func RecordedBy(st *api.State, want map[string][]string) bool {
	for cam, servers := range want {
		if !sameSet(Recorders(st, cam), servers) {
			return false
		}
	}
	return true
}

// Mismatch describes the first cameras of st whose recorders differ from
// want ("" when none do; cameras of want that st does not list are not
// compared, unless st lists no camera at all). With want nil it summarises
// st: who answered, the revision, the master and each server's health.
func Mismatch(st *api.State, want map[string][]string) string {
	if want == nil {
		var b strings.Builder
		fmt.Fprintf(&b, "state from %s rev %d master %q:", st.Answering, st.Revision, st.Master)
		for _, ss := range st.Servers {
			fmt.Fprintf(&b, " %s=%s(%d)", ss.Name, ss.Health, ss.Recording)
		}
		return b.String()
	}
	var bad []string
	for _, c := range st.Cameras {
		w, ok := want[c.Name]
		if !ok {
			continue
		}
		got := Recorders(st, c.Name)
		if !sameSet(got, w) {
			bad = append(bad, fmt.Sprintf("%s recorded by %v, want %v (%s: %s)", c.Name, got, w, c.State, c.Reason))
		}
	}
	if len(st.Cameras) == 0 && len(want) > 0 {
		return "no cameras in the state yet"
	}
	if len(bad) > 3 {
		bad = append(bad[:3], fmt.Sprintf("and %d more", len(bad)-3))
	}
	return strings.Join(bad, "; ")
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}

// HTTPClient is an HTTP client that trusts the site's CA, for tests that
// speak to the agents' API without the api package.
func (s *Site) HTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: s.CA.Pool()}
	return &http.Client{Transport: t}
}
