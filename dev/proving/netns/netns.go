// Package netns builds small throw-away networks out of Linux network
// namespaces for multi-host tests: a "switch" namespace holding bridges, and
// hosts (one namespace each) joined to them by veth pairs, with addresses in
// a private range that exists only inside those namespaces.
//
// Nothing is created in the root namespace: veth pairs are made inside a
// host namespace with their peer placed in the switch namespace directly.
// Every namespace of a Lab carries the Lab's prefix; Sweep removes leftovers
// of crashed runs by that prefix.
//
// Everything is done with the ip and tc commands of iproute2, so that what a
// test did can be repeated by hand. The test process itself stays in the root
// namespace; it reaches a host through Dial, which opens sockets inside the
// host's namespace.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netns"
)

// Available reports why namespaces cannot be used here, or nil: the
// process must be root and have the ip and tc commands.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("not root: network namespaces need root")
	}
	for _, c := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(c); err != nil {
			return fmt.Errorf("%s (iproute2) not installed", c)
		}
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns unusable: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Lab is a set of namespaces joined by bridges that live in one "switch"
// namespace.
type Lab struct {
	// Prefix starts the name of every namespace of the lab.
	Prefix string

	sw string

	mu     sync.Mutex
	hosts  []*Host
	nlinks int
}

// Host is one namespace.
type Host struct {
	Name string // namespace name
	lab  *Lab
}

// Link is a host's port on a bridge: a veth pair whose host end (Name) is in
// the host namespace and whose other end (Name+"p") is a port of the bridge.
type Link struct {
	Name string
	IP   string
	host *Host
}

// New creates the switch namespace. prefix must be short (interface names
// are limited to 15 bytes): "vgp12345" is typical.
func New(prefix string) (*Lab, error) {
	l := &Lab{Prefix: prefix, sw: prefix + "-sw"}
	if err := run("ip", "netns", "add", l.sw); err != nil {
		return nil, err
	}
	if err := run("ip", "-n", l.sw, "link", "set", "lo", "up"); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// AddBridge creates a bridge (a network segment) in the switch namespace.
func (l *Lab) AddBridge(name string) error {
	if err := run("ip", "-n", l.sw, "link", "add", name, "type", "bridge"); err != nil {
		return err
	}
	return run("ip", "-n", l.sw, "link", "set", name, "up")
}

// AddHost creates a namespace named Prefix+"-"+name with its loopback up.
func (l *Lab) AddHost(name string) (*Host, error) {
	h := &Host{Name: l.Prefix + "-" + name, lab: l}
	if err := run("ip", "netns", "add", h.Name); err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	if err := run("ip", "-n", h.Name, "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return h, nil
}

// Attach connects the host to bridge with address cidr ("10.231.1.5/24").
func (h *Host) Attach(bridge, cidr string) (*Link, error) {
	ip, _, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	l := h.lab
	l.mu.Lock()
	l.nlinks++
	k := &Link{Name: fmt.Sprintf("%sv%d", l.Prefix, l.nlinks), IP: ip.String(), host: h}
	l.mu.Unlock()
	if len(k.Name)+1 > 15 {
		return nil, fmt.Errorf("netns: prefix %q too long for interface names", l.Prefix)
	}
	// The pair is created inside the host namespace with its peer placed in
	// the switch namespace at once: nothing appears in the root namespace.
	for _, args := range [][]string{
		{"-n", h.Name, "link", "add", k.Name, "type", "veth", "peer", "name", k.Name + "p", "netns", l.sw},
		{"-n", l.sw, "link", "set", k.Name + "p", "master", bridge},
		{"-n", l.sw, "link", "set", k.Name + "p", "up"},
		{"-n", h.Name, "addr", "add", cidr, "dev", k.Name},
		{"-n", h.Name, "link", "set", k.Name, "up"},
	} {
		if err := run("ip", args...); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Command returns a command that runs inside the host's namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Cut takes the link off its bridge (the switch port goes down, so the host
// sees no carrier and nothing crosses); Heal undoes it.
func (k *Link) Cut() error { return run("ip", "-n", k.host.lab.sw, "link", "set", k.Name+"p", "down") }

// Heal puts the link back after Cut.
func (k *Link) Heal() error { return run("ip", "-n", k.host.lab.sw, "link", "set", k.Name+"p", "up") }

// Slow limits what the bridge delivers to the host over this link to rate
// (tc syntax, e.g. "2mbit") with a token bucket; Slow("") removes the
// limit. (tbf rather than netem: netem is not built into every kernel.)
func (k *Link) Slow(rate string) error {
	sw := k.host.lab.sw
	_ = run("tc", "-n", sw, "qdisc", "del", "dev", k.Name+"p", "root")
	if rate == "" {
		return nil
	}
	return run("tc", "-n", sw, "qdisc", "add", "dev", k.Name+"p", "root", "tbf", "rate", rate, "burst", "64kb", "latency", "500ms")
}

// Dial opens a connection from inside the host's namespace. The socket is
// created on an OS thread switched into the namespace; once created it
// belongs to that namespace whatever thread uses it.
func (h *Host) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.do(func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listener inside the host's namespace (see Dial).
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := h.do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// do runs fn on an OS thread that is inside the host's namespace.
func (h *Host) do(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(h.Name)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("namespace %s: %w", h.Name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			ch <- err
			return
		}
		err = fn()
		if netns.Set(orig) == nil {
			// Only a thread back in its own namespace may serve other
			// goroutines; otherwise it ends with this goroutine.
			runtime.UnlockOSThread()
		}
		ch <- err
	}()
	return <-ch
}

// Close removes every namespace of the lab (which removes their links).
// It returns the first error but tries everything.
func (l *Lab) Close() error {
	l.mu.Lock()
	hosts := l.hosts
	l.hosts = nil
	l.mu.Unlock()
	var first error
	for _, h := range hosts {
		if err := run("ip", "netns", "del", h.Name); err != nil && first == nil {
			first = err
		}
	}
	if err := run("ip", "netns", "del", l.sw); err != nil && first == nil {
		first = err
	}
	return first
}

// Sweep removes every namespace whose name starts with prefix (leftovers of
// an interrupted run) and returns their names. Processes still running in
// them keep them alive until they end; Sweep does not kill them.
func Sweep(prefix string) ([]string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var removed []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		if err := run("ip", "netns", "del", f[0]); err != nil {
			return removed, err
		}
		removed = append(removed, f[0])
	}
	return removed, nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
