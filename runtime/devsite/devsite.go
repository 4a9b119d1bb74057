// Package devsite runs a whole site of a configuration in one process: the
// camera simulator serving the site's cameras, and every server of the site
// as an agent on its own loopback address. It is what `vigil dev` runs, and
// what the benchmarks of plan and apply run against.
//
// It builds on agenttest (the agents' in-process harness) and adds what a
// configuration needs: the addresses and ports the configuration names (or,
// with Options.Relocate, free random ones for tests), a camsim serving the
// cameras whose URLs it can serve, and plan and apply through the planner and
// the API client, the way `vigil apply` does.
//
// Which cameras camsim serves: camsim serves the paths /cam1 ... /camN on one
// address. Cameras whose URL is rtsp://LOOPBACK:PORT/camN are served, on the
// address most of them name; every other camera is listed in Site.Unserved
// with the reason, and its recorder keeps retrying (with backoff) like it
// would for an unreachable camera. camsim serves SparePaths more paths than
// the configuration needs, so that cameras can be added while the site runs.
package devsite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/agent"
	"vigil/runtime/agent/agenttest"
	"vigil/runtime/api"
	"vigil/runtime/camsim"
	"vigil/runtime/clock"
)

// Options tune a dev site.
type Options struct {
	// Dir holds every server's data directory (<Dir>/<server>). Empty means
	// a new temporary directory; Site.TempDir says so.
	Dir string
	// Relocate runs the servers and camsim on free random loopback
	// addresses and ports instead of the configured ones, and maps the
	// configuration onto them (Site.Desired); for tests and benchmarks that
	// must not clash with each other or with a running `vigil dev`.
	Relocate bool
	// Version is the vigil version the agents run.
	Version string
	// Logger receives the agents' logs (default: discarded).
	Logger *slog.Logger
}

// SparePaths is the number of camsim paths served beyond the highest /camN
// of the configuration.
const SparePaths = 8

// Unserved is a camera that camsim cannot serve.
type Unserved struct {
	Camera string
	// URL is the camera's URL without credentials.
	URL    string
	Reason string
}

// Site is a running dev site.
type Site struct {
	// Name is the site's name.
	Name string
	// Dir holds the servers' data directories; TempDir is true when Start
	// created it.
	Dir     string
	TempDir bool
	// Token authorises changes (VIGIL_TOKEN); the same on every run from
	// one kept data directory.
	Token string
	// Applied says that a configuration was applied to the site in an
	// earlier run from the same data directory: the site's state, with
	// whatever the operator applied since, is what runs now.
	Applied bool
	// Cams is the camera simulator; nil when no camera can be served.
	Cams *camsim.Server
	// CamsimAddr is the address camsim serves (host:port) as the
	// configuration names it; empty when Cams is nil.
	CamsimAddr string
	// Unserved lists the cameras camsim cannot serve.
	Unserved []Unserved

	h     *agenttest.Site
	names []string
	// Relocation: configured server address → live one, and camsim's
	// configured address → live one. Empty when not relocated.
	servers map[string]serverAddr
	camFrom string
	camTo   string
	closed  sync.Once
	kept    kept
}

type serverAddr struct {
	ip   string
	port int
}

// Start checks that the site can run here, starts camsim and one agent per
// server (virtual servers have no agent), and returns once they listen.
// Nothing is applied yet: see Apply.
func Start(site *spec.Site, opts Options) (*Site, error) {
	if site == nil {
		return nil, errors.New("no site to run")
	}
	if site.Virtual {
		return nil, fmt.Errorf("site %s is virtual: it has no servers to run", site.Name)
	}
	s := &Site{Name: site.Name}
	addrs := map[string]string{}
	for _, srv := range site.Servers {
		if srv.Kind == spec.KindVirtual {
			continue
		}
		s.names = append(s.names, srv.Name)
		addrs[srv.Name] = net.JoinHostPort(srv.Address, strconv.Itoa(apiPort(srv)))
	}
	if len(s.names) == 0 {
		return nil, fmt.Errorf("site %s has no server to run an agent for", site.Name)
	}
	camAddr, paths, unserved := camsimPlan(site.Cameras)
	s.Unserved = unserved

	if !opts.Relocate {
		if err := checkAddresses(site, camAddr); err != nil {
			return nil, err
		}
	}

	s.Dir = opts.Dir
	if s.Dir == "" {
		d, err := os.MkdirTemp("", "vigil-dev-")
		if err != nil {
			return nil, err
		}
		s.Dir, s.TempDir = d, true
	} else if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	} else if s.kept, err = keep(s.Dir, site.Name); err != nil {
		return nil, err
	}
	s.Applied = s.kept.Applied
	fail := func(err error) (*Site, error) {
		s.Close()
		return nil, err
	}

	if paths > 0 {
		listen := camAddr
		if opts.Relocate {
			listen = "127.0.0.1:0"
		}
		cams, err := camsim.Start(camsim.Options{Listen: listen, Paths: paths + SparePaths})
		if err != nil {
			return fail(fmt.Errorf("camera simulator on %s: %w", listen, err))
		}
		s.Cams, s.CamsimAddr = cams, camAddr
		if opts.Relocate {
			s.camFrom, s.camTo = camAddr, cams.Addr()
		}
	}

	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	keepalive := site.Keepalive
	if keepalive <= 0 {
		keepalive = time.Second
	}
	ao := agenttest.Options{Name: site.Name, Servers: s.names, Keepalive: keepalive, Dir: s.Dir, Logger: logger, Version: opts.Version,
		Extend: measureClock(logger), Token: s.kept.Token, Key: s.kept.SiteKey}
	if !opts.Relocate {
		ao.Addrs = addrs
	}
	h, err := agenttest.New(ao)
	if err != nil {
		return fail(err)
	}
	s.h, s.Token = h, h.Token
	if opts.Relocate {
		s.servers = map[string]serverAddr{}
		for _, srv := range site.Servers {
			if live, ok := addrs[srv.Name]; ok {
				hs := h.Server(srv.Name)
				s.servers[live] = serverAddr{hs.IP, hs.Port}
			}
		}
	}
	if err := h.Start(); err != nil {
		return fail(err)
	}
	return s, nil
}

// measureClock runs what vigil agent runs to measure each server's clock
// offset to the master (the servers share this machine's clock, so the
// figures show the measurement's own error).
func measureClock(logger *slog.Logger) func(*agent.Agent, agent.Config) (func(), error) {
	return func(a *agent.Agent, cfg agent.Config) (func(), error) {
		srv, err := clock.Serve(net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Port)), cfg.SiteKey)
		if err != nil {
			return nil, err
		}
		m, err := clock.Start(a, clock.Options{Key: cfg.SiteKey, Registerer: a.Registry(), Logger: logger})
		if err != nil {
			srv.Close()
			return nil, err
		}
		a.SetClockOffset(m.Offset)
		return func() { m.Close(); srv.Close() }, nil
	}
}

func apiPort(srv *spec.Server) int {
	if srv.Port == 0 {
		return spec.DefaultAPIPort
	}
	return srv.Port
}

// camsimPlan picks camsim's address and number of paths: the loopback
// address most rtsp://HOST:PORT/camN URLs name.
func camsimPlan(cams []*spec.Camera) (addr string, paths int, unserved []Unserved) {
	type cand struct {
		cam  *spec.Camera
		addr string
		n    int
	}
	var cands []cand
	count := map[string]int{}
	for _, c := range cams {
		u, err := url.Parse(c.URL)
		if err != nil {
			unserved = append(unserved, Unserved{c.Name, c.URL, "the URL does not parse"})
			continue
		}
		u.User = nil
		shown := u.String()
		n, _ := strconv.Atoi(strings.TrimPrefix(u.Path, "/cam"))
		ip := net.ParseIP(u.Hostname())
		switch {
		case u.Scheme != "rtsp":
			unserved = append(unserved, Unserved{c.Name, shown, "camsim serves rtsp:// only"})
		case ip == nil || !ip.IsLoopback():
			unserved = append(unserved, Unserved{c.Name, shown, "its host is not a loopback address (127.0.0.x)"})
		case !strings.HasPrefix(u.Path, "/cam") || n < 1 || "/cam"+strconv.Itoa(n) != u.Path:
			unserved = append(unserved, Unserved{c.Name, shown, "camsim serves the paths /cam1 ... /camN only"})
		case u.Port() == "":
			unserved = append(unserved, Unserved{c.Name, shown, "the URL names no port"})
		default:
			cands = append(cands, cand{c, u.Host, n})
			count[u.Host]++
		}
	}
	for a, n := range count {
		if n > count[addr] || n == count[addr] && a < addr {
			addr = a
		}
	}
	for _, c := range cands {
		if c.addr != addr {
			unserved = append(unserved, Unserved{c.cam.Name, c.cam.URL, "camsim serves " + addr + " only"})
			continue
		}
		paths = max(paths, c.n)
	}
	slices.SortFunc(unserved, func(a, b Unserved) int { return strings.Compare(a.Camera, b.Camera) })
	return addr, paths, unserved
}

// checkAddresses tells, before anything starts, which configured address
// cannot be used on this machine.
func checkAddresses(site *spec.Site, camAddr string) error {
	for _, srv := range site.Servers {
		if srv.Kind == spec.KindVirtual {
			continue
		}
		ip := net.ParseIP(srv.Address)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("server %s has address %q, which is not a loopback address: vigil dev runs every server on this machine, so give them addresses 127.0.0.x", srv.Name, srv.Address)
		}
		port := apiPort(srv)
		for i, what := range []string{"API", "membership", "raft"} {
			if err := portFree("tcp", srv.Address, port+i, srv.Name+"'s "+what); err != nil {
				return err
			}
		}
		if err := portFree("udp", srv.Address, port+1, srv.Name+"'s membership, UDP"); err != nil {
			return err
		}
	}
	if camAddr != "" {
		host, port, _ := net.SplitHostPort(camAddr)
		p, _ := strconv.Atoi(port)
		if err := portFree("tcp", host, p, "the camera simulator"); err != nil {
			return err
		}
	}
	return nil
}

// PortInUseError is Start's error when a configured port is taken.
type PortInUseError struct {
	Host string
	Port int
	// For says what needs the port: "srv-1's API", "the camera simulator".
	For string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d on %s (%s) is in use: is another vigil dev, vigil agent or vigil camsim running?", e.Port, e.Host, e.For)
}

func portFree(network, host string, port int, what string) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var c io.Closer
	var err error
	if network == "udp" {
		c, err = net.ListenPacket("udp", addr)
	} else {
		c, err = net.Listen("tcp", addr)
	}
	if err == nil {
		c.Close()
		return nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return &PortInUseError{Host: host, Port: port, For: what}
	}
	return fmt.Errorf("%s: cannot listen on %s: %v (on macOS, add the address first: sudo ifconfig lo0 alias %s)", what, addr, err, host)
}

// Servers lists the servers that run an agent, in the configuration's order.
func (s *Site) Servers() []string { return slices.Clone(s.names) }

// Has reports whether name is a server of the site with an agent.
func (s *Site) Has(name string) bool { return slices.Contains(s.names, name) }

// Running reports whether the server's agent runs.
func (s *Site) Running(name string) bool { return s.h.Server(name).Agent() != nil }

// Addr is the API base URL of a server.
func (s *Site) Addr(name string) string { return s.h.Server(name).Addr() }

// Client returns an API client for a server, with the site's token.
func (s *Site) Client(name string) *api.Client { return s.h.Client(name) }

// Start starts a stopped server's agent again, with its data intact.
func (s *Site) Start(name string) error { return s.h.Start(name) }

// Stop stops a server's agent gracefully: it leaves the site and its peers
// take its cameras over at once.
func (s *Site) Stop(name string) error { return s.h.Stop(name) }

// Kill stops a server's agent as a crash would: its peers notice by failure
// detection, after a few keepalives.
func (s *Site) Kill(name string) error { return s.h.Kill(name) }

// client returns a client of a running agent, the first in order.
func (s *Site) client() (*api.Client, error) {
	for _, n := range s.names {
		if s.Running(n) {
			return s.Client(n), nil
		}
	}
	return nil, errors.New("no server of the site is running: start one first")
}

// State is the site's state as the first running server sees it.
func (s *Site) State(ctx context.Context) (*api.State, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	return c.State(ctx)
}

// WaitState polls the site's state until cond holds, and returns it.
func (s *Site) WaitState(ctx context.Context, cond func(*api.State) bool) (*api.State, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	return c.WaitState(ctx, 100*time.Millisecond, cond)
}

// Desired maps a site of the configuration onto the running site: with
// Options.Relocate, the servers' addresses and ports and the URLs of the
// cameras camsim serves change to where they really run. Without it, site is
// returned as it is. The configuration is not modified.
func (s *Site) Desired(site *spec.Site) *spec.Site {
	if s.servers == nil && s.camFrom == "" {
		return site
	}
	out := *site
	out.Servers = make([]*spec.Server, len(site.Servers))
	for i, srv := range site.Servers {
		c := *srv
		if live, ok := s.servers[net.JoinHostPort(srv.Address, strconv.Itoa(apiPort(srv)))]; ok {
			c.Address, c.Port = live.ip, live.port
		}
		out.Servers[i] = &c
	}
	out.Cameras = make([]*spec.Camera, len(site.Cameras))
	for i, cam := range site.Cameras {
		c := *cam
		if u, err := url.Parse(cam.URL); err == nil && s.camFrom != "" && u.Host == s.camFrom {
			u.Host = s.camTo
			c.URL = u.String()
		}
		out.Cameras[i] = &c
	}
	return &out
}

// Plan plans a site of the configuration (mapped with Desired) against the
// live state of the first running server, as `vigil plan` does.
func (s *Site) Plan(ctx context.Context, site *spec.Site, opts planner.Options) (*planner.SitePlan, error) {
	c, err := s.client()
	if err != nil {
		return nil, err
	}
	live, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	return planner.Plan(s.Desired(site), live, opts)
}

// Apply plans site (see Plan) and, when the plan has changes and no errors,
// commits it as `vigil apply -auto-approve` does: the master role moves first
// when the plan says so, then the whole spec is applied against the plan's
// base revision, and Apply returns once the server it talked to has the new
// revision. A site that has no master yet (agents just started) is waited
// for until ctx ends. When the site turns out to be at a newer revision than
// the one planned against (an agent that restarted reports its revision once
// it caught up), Apply plans again, a few times at most.
func (s *Site) Apply(ctx context.Context, site *spec.Site, opts planner.Options) (*planner.SitePlan, uint64, error) {
	c, err := s.client()
	if err != nil {
		return nil, 0, err
	}
	var first *planner.SitePlan
	for attempt := 1; ; attempt++ {
		p, rev, err := s.applyOnce(ctx, c, site, opts)
		if first == nil {
			first = p
		} else if err == nil && !p.HasChanges() {
			// An earlier attempt was committed after all (its answer was
			// lost to a master change): report what it applied.
			return first, rev, nil
		}
		var stale *api.StaleError
		if !errors.As(err, &stale) || attempt == 3 {
			return p, rev, err
		}
		if err := waitRevision(ctx, c, stale.Revision); err != nil {
			return p, 0, err
		}
	}
}

func (s *Site) applyOnce(ctx context.Context, c *api.Client, site *spec.Site, opts planner.Options) (*planner.SitePlan, uint64, error) {
	live, err := c.State(ctx)
	if err != nil {
		return nil, 0, err
	}
	p, err := planner.Plan(s.Desired(site), live, opts)
	if err != nil {
		return nil, 0, err
	}
	if len(p.Errors) > 0 {
		msgs := make([]string, len(p.Errors))
		for i, e := range p.Errors {
			msgs[i] = e.Summary
			if e.Hint != "" {
				msgs[i] += " (" + e.Hint + ")"
			}
		}
		return p, 0, fmt.Errorf("the plan cannot be applied: %s", strings.Join(msgs, "; "))
	}
	if !p.HasChanges() {
		return p, p.BaseRevision, nil
	}
	for _, ch := range p.Changes {
		if ch.Action == planner.TransferMaster {
			if _, err := c.TransferMaster(ctx, ch.To); err != nil {
				return p, 0, fmt.Errorf("transferring the master role to %s: %w", ch.To, err)
			}
		}
	}
	for {
		resp, err := c.Apply(ctx, api.ApplyRequest{Spec: *p.Desired, BaseRevision: p.BaseRevision})
		if err == nil {
			return p, resp.Revision, waitRevision(ctx, c, resp.Revision)
		}
		if !errors.Is(err, api.ErrUnavailable) {
			// A stale error after a retry may be the earlier attempt,
			// committed after all: Apply plans again and finds no changes.
			return p, 0, err
		}
		select {
		case <-ctx.Done():
			return p, 0, fmt.Errorf("%w (the site has no master yet)", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitRevision(ctx context.Context, c *api.Client, rev uint64) error {
	if _, err := c.WaitState(ctx, 20*time.Millisecond, func(st *api.State) bool { return st.Revision >= rev }); err != nil {
		return fmt.Errorf("waiting for %s to reach revision %d: %w", c.Address(), rev, err)
	}
	return nil
}

// Close stops every agent (closing their segments) and camsim, and removes
// the data directory when Start created it.
func (s *Site) Close() {
	s.closed.Do(func() {
		if s.h != nil {
			// In parallel: a site stopping as a whole needs no takeovers.
			var wg sync.WaitGroup
			for _, n := range s.names {
				wg.Go(func() { s.h.Kill(n) })
			}
			wg.Wait()
			s.h.Close()
		}
		if s.Cams != nil {
			s.Cams.Close()
		}
		if s.TempDir {
			os.RemoveAll(s.Dir)
		}
	})
}
