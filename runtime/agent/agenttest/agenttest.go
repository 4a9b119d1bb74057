// Package agenttest runs whole vigil sites inside one process: N agents on
// their own loopback addresses (127.0.0.x) with random ports, recording a
// camera simulator. Tests of the agent, the planner and `vigil dev` use it.
//
// A Site is built in three steps: New allocates addresses, ports, a token and
// a site key and starts the camera simulator; Start starts agents; Apply
// commits a spec built with ServerSpec and CameraSpec. Kill stops an agent
// the way a crash would look to its peers, Start brings it back with its
// data directory intact.
package agenttest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/agent"
	"vigil/runtime/api"
	"vigil/runtime/camsim"
)

// Options describe a site.
type Options struct {
	// Name is the site's name (default "test").
	Name string
	// Servers names the servers, in order; every one gets its own agent.
	Servers []string
	// Cameras is the number of simulated cameras (camsim paths cam1...camN).
	Cameras int
	// Keepalive is the membership probe interval (default 1s).
	Keepalive time.Duration
	// Dir holds the servers' data directories (default: a new temporary
	// directory, removed by Close).
	Dir string
	// Logger receives every agent's log (default: discarded).
	Logger *slog.Logger
	// Version is the vigil version the agents run (default "test").
	Version string
	// Camsim adjusts the simulator's options (Paths and Listen are set).
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
	Name  string
	Token string
	Key   []byte
	// Cams is the camera simulator; camera i (1-based) is at Cams.URL(i).
	Cams      *camsim.Server
	Keepalive time.Duration

	opts    Options
	dir     string
	tempDir bool

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
func (s *Server) Addr() string { return "http://" + net.JoinHostPort(s.IP, strconv.Itoa(s.Port)) }

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
	s := &Site{Name: opts.Name, Keepalive: opts.Keepalive, opts: opts, dir: opts.Dir, servers: map[string]*Server{}}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "vigil-site-")
		if err != nil {
			return nil, err
		}
		s.dir, s.tempDir = d, true
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

	if opts.Cameras > 0 {
		co := opts.Camsim
		co.Paths = opts.Cameras
		co.Listen = "127.0.0.1:0"
		cams, err := camsim.Start(co)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("camera simulator: %w", err)
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
			DataDir:   filepath.Join(s.dir, name),
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
		panic("agenttest: no server " + name)
	}
	return srv
}

// DataDir is the named server's data directory.
func (s *Site) DataDir(name string) string { return s.Server(name).Config.DataDir }

// Names lists the servers in the order of Options.Servers.
func (s *Site) Names() []string { return slices.Clone(s.opts.Servers) }

// Start starts the named servers' agents (all of them when none is named).
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

// Kill stops a server's agent as a crash would (no goodbye to its peers).
func (s *Site) Kill(name string) error { return s.stop(name, true) }

// Stop stops a server's agent gracefully (it leaves the site).
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

// Client returns an API client for the named server's agent.
func (s *Site) Client(name string) *api.Client {
	return api.NewClient(s.Server(name).Addr(), s.Token)
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

// Apply commits spec through the first running agent, planned against the
// revision that agent reports.
func (s *Site) Apply(ctx context.Context, spec spec.Site) (uint64, error) {
	for _, n := range s.opts.Servers {
		if s.Server(n).Agent() == nil {
			continue
		}
		c := s.Client(n)
		st, err := c.State(ctx)
		if err != nil {
			return 0, err
		}
		resp, err := c.Apply(ctx, api.ApplyRequest{Spec: spec, BaseRevision: st.Revision})
		if err != nil {
			return 0, err
		}
		return resp.Revision, nil
	}
	return 0, errors.New("no agent is running")
}

// Wait polls the named server's /v1/state until cond holds, and returns
// that state. It fails when ctx ends, with the last state in the error.
func (s *Site) Wait(ctx context.Context, name string, cond func(*api.State) bool) (*api.State, error) {
	st, err := s.Client(name).WaitState(ctx, 50*time.Millisecond, cond)
	if err != nil {
		return st, fmt.Errorf("waiting on %s: %w", name, err)
	}
	return st, nil
}

// Close stops every agent (hard), the simulator, and removes a temporary
// directory.
func (s *Site) Close() {
	for _, n := range s.opts.Servers {
		s.Kill(n)
	}
	if s.Cams != nil {
		s.Cams.Close()
	}
	if s.tempDir {
		os.RemoveAll(s.dir)
	}
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
		got := Recorders(st, cam)
		if len(got) != len(servers) {
			return false
		}
		for _, s := range servers {
			if !slices.Contains(got, s) {
				return false
			}
		}
	}
	return true
}
