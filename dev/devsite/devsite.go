// Package devsite runs whole vigil sites inside one process: N agents on
// their own loopback addresses (127.0.0.x), recording the camera simulator
// (dev/camsim). It is what `vigil dev` runs, what the benchmarks of plan and
// apply run against, and the in-process site of the agent's, the API's and
// the command's tests. It is a development rig: the agent never imports it.
//
// A site is built in one of two ways. New (tests) allocates random free
// addresses and ports, a token and a site key, and starts camsim with
// Options.Cameras paths; Start then starts agents, and Commit commits a spec
// built with ServerSpec and CameraSpec. Kill stops an agent the way a crash
// would look to its peers, Start brings it back with its data directory
// intact.
//
// Start (a site of a configuration, `vigil dev`) runs the addresses and
// ports the configuration names (or, with Options.Relocate, free random ones
// for tests), a camsim serving the cameras whose URLs it can serve, and every
// agent; Plan and Apply then go through the planner and the API client, the
// way `vigil apply` does.
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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/apply"
	"vigil/runtime/agent"
	"vigil/runtime/api"
	"vigil/runtime/clock"
)

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
	var names []string
	addrs := map[string]string{}
	for _, srv := range site.Servers {
		if srv.Kind == spec.KindVirtual {
			continue
		}
		names = append(names, srv.Name)
		addrs[srv.Name] = net.JoinHostPort(srv.Address, strconv.Itoa(apiPort(srv)))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("site %s has no server to run an agent for", site.Name)
	}
	camAddr, paths, unserved := camsimPlan(site.Cameras)

	if !opts.Relocate {
		if err := checkAddresses(site, camAddr); err != nil {
			return nil, err
		}
	}

	dir, tempDir := opts.Dir, false
	var k kept
	if dir == "" {
		d, err := os.MkdirTemp("", "vigil-dev-")
		if err != nil {
			return nil, err
		}
		dir, tempDir = d, true
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	} else if k, err = keep(dir, site.Name); err != nil {
		return nil, err
	}

	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	keepalive := site.Keepalive
	if keepalive <= 0 {
		keepalive = time.Second
	}
	ho := Options{Name: site.Name, Servers: names, Keepalive: keepalive, Dir: dir, Logger: logger, Version: opts.Version,
		Extend: measureClock(logger), Token: k.Token, Key: k.SiteKey}
	if paths > 0 {
		ho.Cameras = paths + SparePaths
		ho.Camsim.Listen = camAddr
		if opts.Relocate {
			ho.Camsim.Listen = "127.0.0.1:0"
		}
	}
	if !opts.Relocate {
		ho.Addrs = addrs
	}
	s, err := New(ho)
	if err != nil {
		if tempDir {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	s.TempDir, s.kept, s.Applied, s.Unserved = tempDir, k, k.Applied, unserved
	if s.Cams != nil {
		s.CamsimAddr = camAddr
		if opts.Relocate {
			s.camFrom, s.camTo = camAddr, s.Cams.Addr()
		}
	}
	s.CAFile = filepath.Join(s.Dir, "ca.pem")
	if err := os.WriteFile(s.CAFile, s.CA.PEM(), 0o644); err != nil {
		s.Close()
		return nil, err
	}
	if opts.Relocate {
		s.relocated = map[string]serverAddr{}
		for _, srv := range site.Servers {
			if live, ok := addrs[srv.Name]; ok {
				hs := s.Server(srv.Name)
				s.relocated[live] = serverAddr{hs.IP, hs.Port}
			}
		}
	}
	if err := s.Start(); err != nil {
		s.Close()
		return nil, err
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

// client returns a client of a running agent, the first in order.
func (s *Site) client() (*api.Client, error) {
	for _, n := range s.opts.Servers {
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
	if s.relocated == nil && s.camFrom == "" {
		return site
	}
	out := *site
	out.Servers = make([]*spec.Server, len(site.Servers))
	for i, srv := range site.Servers {
		c := *srv
		if live, ok := s.relocated[net.JoinHostPort(srv.Address, strconv.Itoa(apiPort(srv)))]; ok {
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
// applies it with the apply protocol (package planner/apply) as `vigil apply
// -auto-approve` does: the master role moves first when the plan says so,
// the whole spec is committed against the plan's base revision, and Apply
// returns once every live server reports the new revision (or after
// apply.DefaultCatchUp). A site that has no master yet (agents just started) is waited
// for until ctx ends. When the site turns out to be at a newer revision than
// the one planned against (an agent that restarted reports its revision once
// it caught up), Apply plans again, a few times at most. The plan returned is
// the one applied.
func (s *Site) Apply(ctx context.Context, site *spec.Site, opts planner.Options) (*planner.SitePlan, uint64, error) {
	c, err := s.client()
	if err != nil {
		return nil, 0, err
	}
	var applied, last *planner.SitePlan
	res, err := apply.Converge(ctx, c, func(live *api.State) (*apply.Change, error) {
		p, err := planner.Plan(s.Desired(site), live, opts)
		if err != nil {
			return nil, err
		}
		last = p
		if len(p.Errors) > 0 {
			msgs := make([]string, len(p.Errors))
			for i, e := range p.Errors {
				msgs[i] = e.Summary
				if e.Hint != "" {
					msgs[i] += " (" + e.Hint + ")"
				}
			}
			return nil, fmt.Errorf("the plan cannot be applied: %s", strings.Join(msgs, "; "))
		}
		if !p.HasChanges() {
			return nil, nil
		}
		applied = p
		ch := apply.FromPlan(p)
		return &ch, nil
	}, apply.Options{UntilDone: true, CatchUp: apply.DefaultCatchUp}, nil)
	if applied == nil {
		applied = last
	}
	return applied, res.Revision, err
}
