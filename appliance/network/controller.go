package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// Agent is what the Controller needs of the running agent (*agent.Agent).
type Agent interface {
	Name() string
	State() api.State
	Emit(api.Event)
	LeaderLoop(fn func(ctx context.Context))
	// PeerHTTP is the HTTP client the agent calls its peers with (HTTPS
	// verified with the site's CA).
	PeerHTTP() *http.Client
}

// Options tune a Controller.
type Options struct {
	// Block applies this server's network block (vigil agent
	// -manage-network); false leaves the network alone and only holds the
	// virtual IP.
	Block bool
	// TryTimeout is how long a risky change has to let the server reach
	// the site again before it is undone (default 30 s).
	TryTimeout time.Duration
	// Interval is how often the committed spec is looked at (default 1 s).
	Interval time.Duration
	// Reachable reports whether the server reaches its site; the default
	// asks every peer of the committed spec for /v1/health and is
	// satisfied by one answer (a site of one server is always reachable).
	Reachable func(ctx context.Context, st *api.State) error
	Logger    *slog.Logger
}

// Controller applies the server's network block from the committed spec and
// holds the site's virtual IP while the server is the master.
type Controller struct {
	a   Agent
	m   *Manager
	o   Options
	log *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
	// holding is true while holdVIP runs (this server is the master).
	holding atomic.Bool
}

// Start starts following the agent. Close stops it; it removes the virtual
// IP if held, and leaves the network block's configuration in place. A
// virtual IP found on this server while another server is the master (left
// by a crash) is removed.
func Start(a Agent, m *Manager, o Options) *Controller {
	if o.TryTimeout <= 0 {
		o.TryTimeout = 30 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Reachable == nil {
		o.Reachable = peersAnswer(a.Name(), a.PeerHTTP())
	}
	c := &Controller{a: a, m: m, o: o, log: o.Logger.With("component", "network"), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.follow(ctx)
	a.LeaderLoop(func(lctx context.Context) { c.holdVIP(lctx, ctx) })
	return c
}

// Close stops the controller.
func (c *Controller) Close() {
	c.cancel()
	<-c.done
}

// follow applies the block each time the committed one changes (with
// Options.Block), and removes a stale virtual IP.
func (c *Controller) follow(ctx context.Context) {
	defer close(c.done)
	var applied []byte // JSON of the block last applied; nil: none yet
	var prev *spec.Network
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	for {
		st := c.a.State()
		c.dropStaleVIP(&st)
		if st.Spec != nil && c.o.Block {
			var block *spec.Network
			if s := st.Spec.Server(c.a.Name()); s != nil {
				block = s.Network
			}
			b, _ := json.Marshal(block)
			if applied == nil || string(b) != string(applied) {
				if c.change(ctx, &st, prev, block) {
					applied, prev = b, block
				} else {
					applied = b // failed or undone: wait for the next change
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// change applies block; a risky change must let the server reach its site
// within the try timeout or it is undone. It reports whether block is in
// force.
func (c *Controller) change(ctx context.Context, st *api.State, prev, block *spec.Network) bool {
	rep, err := c.m.Apply(block)
	for _, n := range rep.Notes {
		c.log.Info(n)
	}
	if err != nil {
		msg := fmt.Sprintf("applying the network block: %v", err)
		if len(rep.Changes) > 0 {
			msg += " (applied before the error: " + strings.Join(rep.Changes, "; ") + ")"
		}
		c.log.Error(msg)
		c.a.Emit(api.Event{Severity: spec.SeverityError, Kind: spec.EventNetworkFailed, Server: c.a.Name(), Message: msg})
		return false
	}
	if len(rep.Changes) == 0 {
		return true
	}
	summary := strings.Join(rep.Changes, "; ")
	if !rep.Risky {
		c.log.Info("network block applied", "changes", summary)
		c.a.Emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventNetworkApplied, Server: c.a.Name(), Message: summary})
		return true
	}
	c.log.Info("network block applied in try mode: checking that the site is still reachable", "changes", summary, "timeout", c.o.TryTimeout)
	tctx, cancel := context.WithTimeout(ctx, c.o.TryTimeout)
	defer cancel()
	var last error
	for {
		if last = c.o.Reachable(tctx, st); last == nil {
			c.a.Emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventNetworkApplied, Server: c.a.Name(), Message: summary + " (the site is reachable)"})
			return true
		}
		select {
		case <-tctx.Done():
		case <-time.After(time.Second):
			continue
		}
		break
	}
	if ctx.Err() != nil {
		return false // stopping: leave it to the next start
	}
	back, err := c.m.Apply(prev)
	msg := fmt.Sprintf("network change undone: the site was not reachable within %s (%v); the previous network is back (%s)", c.o.TryTimeout, last, strings.Join(back.Changes, "; "))
	if err != nil {
		msg = fmt.Sprintf("network change cut the server off (%v) and restoring the previous network failed: %v", last, err)
	}
	c.log.Error(msg)
	c.a.Emit(api.Event{Severity: spec.SeverityError, Kind: spec.EventNetworkReverted, Server: c.a.Name(), Message: msg})
	return false
}

// holdVIP runs while this server is the master: it keeps the site's
// virtual_ip on the interface holding the server's address, following
// changes of the spec, and removes it when the role is lost.
func (c *Controller) holdVIP(lctx, ctx context.Context) {
	c.holding.Store(true)
	defer c.holding.Store(false)
	type held struct {
		vip, link string
	}
	var cur *held
	release := func() {
		if cur == nil {
			return
		}
		vip, _ := ParseVIP(cur.vip)
		link, err := c.m.LinkByName(cur.link)
		if err == nil {
			err = c.m.DelVIP(link, vip)
		}
		if err != nil {
			c.log.Error("releasing the virtual IP", "err", err)
		} else {
			c.log.Info("virtual IP released", "vip", cur.vip, "link", cur.link)
			c.a.Emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventVIPReleased, Server: c.a.Name(), Message: fmt.Sprintf("virtual IP %s removed from %s", cur.vip, cur.link)})
		}
		cur = nil
	}
	defer release()
	t := time.NewTicker(c.o.Interval)
	defer t.Stop()
	var lastErr string
	// fail reports err once, not on every tick while it lasts.
	fail := func(err error) {
		if err.Error() != lastErr {
			c.log.Error("virtual IP", "err", err)
			c.a.Emit(api.Event{Severity: spec.SeverityError, Kind: spec.EventVIPFailed, Server: c.a.Name(), Message: err.Error()})
		}
		lastErr = err.Error()
	}
	for {
		want, link, err := c.wantVIP()
		switch {
		case err != nil:
			fail(err)
		case cur != nil && cur.vip == want && cur.link == link && c.present(want):
		default:
			release()
			if want != "" {
				vip, _ := ParseVIP(want)
				l, err := c.m.LinkByName(link)
				if err == nil {
					err = c.m.AddVIP(l, vip)
				}
				if err != nil {
					fail(err)
					break
				}
				cur, lastErr = &held{want, link}, ""
				c.log.Info("virtual IP added: this server is the master", "vip", want, "link", link)
				c.a.Emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventVIPAcquired, Server: c.a.Name(), Message: fmt.Sprintf("virtual IP %s added to %s", want, link)})
			}
		}
		select {
		case <-lctx.Done():
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// present reports whether the virtual IP is on one of this server's links.
func (c *Controller) present(vip string) bool {
	a, err := ParseVIP(vip)
	if err != nil {
		return false
	}
	_, err = c.m.LinkWithAddress(a.IP.String())
	return err == nil
}

// dropStaleVIP removes the site's virtual IP from this server when it is
// not the master: after the agent crashed while master, the kernel kept the
// address, and two servers holding it would split the site's clients.
func (c *Controller) dropStaleVIP(st *api.State) {
	if c.holding.Load() || st.Spec == nil || st.Spec.VirtualIP == "" || st.Master == "" || st.Master == c.a.Name() {
		return
	}
	vip, err := ParseVIP(st.Spec.VirtualIP)
	if err != nil {
		return
	}
	l, err := c.m.LinkWithAddress(vip.IP.String())
	if err != nil {
		return // not here
	}
	if err := c.m.DelVIP(l, vip); err != nil {
		c.log.Error("removing a stale virtual IP", "err", err)
		return
	}
	msg := fmt.Sprintf("virtual IP %s removed from %s: %s is the master", st.Spec.VirtualIP, l.Attrs().Name, st.Master)
	c.log.Warn(msg)
	c.a.Emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventVIPReleased, Server: c.a.Name(), Message: msg})
}

// wantVIP is the site's virtual_ip and the link it goes on ("" when the
// site has none).
func (c *Controller) wantVIP() (vip, link string, err error) {
	st := c.a.State()
	if st.Spec == nil || st.Spec.VirtualIP == "" {
		return "", "", nil
	}
	if _, err := ParseVIP(st.Spec.VirtualIP); err != nil {
		return "", "", err
	}
	self := st.Spec.Server(c.a.Name())
	if self == nil {
		return "", "", errors.New("virtual IP: this server is not in the committed spec")
	}
	l, err := c.m.LinkWithAddress(self.Address)
	if err != nil {
		return "", "", fmt.Errorf("virtual IP %s: %w", st.Spec.VirtualIP, err)
	}
	return st.Spec.VirtualIP, l.Attrs().Name, nil
}

// peersAnswer is the default reachability check: some peer of the
// committed spec answers GET /v1/health.
func peersAnswer(self string, peer *http.Client) func(ctx context.Context, st *api.State) error {
	hc := *peer
	hc.Timeout = 2 * time.Second
	return func(ctx context.Context, st *api.State) error {
		if st.Spec == nil {
			return nil
		}
		var errs []error
		for _, s := range st.Spec.Servers {
			if s.Name == self || s.Kind == spec.KindVirtual {
				continue
			}
			addr := "https://" + net.JoinHostPort(s.Address, fmt.Sprint(s.Port)) + "/v1/health"
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
			if err != nil {
				return err
			}
			resp, err := hc.Do(req)
			if err == nil {
				resp.Body.Close()
				return nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
		}
		if len(errs) == 0 {
			return nil // no peer to lose
		}
		return fmt.Errorf("no peer answers: %w", errors.Join(errs...))
	}
}
