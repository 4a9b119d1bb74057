// Package network applies an appliance's declarative network configuration
// (a server's `network` block) and holds the site's virtual IP on the
// master, through netlink.
//
// A Manager works on one network namespace through a netlink handle, so
// tests run several "machines" in namespaces of one host. It keeps a record
// of what it added (addresses, routes, the original MTU of the links it
// changed) in <data_dir>/network.json and only ever removes what that record
// lists: addresses set by DHCP, by the image or by hand are left alone.
//
// What Apply does for each interface of the block: the link is set up, its
// MTU set when the block names one (and restored when the block stops
// naming it), the addresses added; then routes are added or replaced, and
// addresses and routes vigil added that the block no longer lists are
// removed. `dhcp = true` is left to the image's DHCP client: vigil neither
// starts nor stops it.
//
// The Controller follows the agent: it applies the block of this server from
// the committed spec whenever it changes, in try mode when the change can
// cut the server off (something is removed or replaced, or an MTU changes):
// if no peer of the site answers within the try timeout, the previous block
// is applied again (Talos's `apply-config --mode=try` is the model). It also
// holds the site's virtual_ip while this server is the master.
package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"vigil/hcl/spec"
)

// RecordFile is the name, in the agent's data directory, of the record of
// what vigil added to the network.
const RecordFile = "network.json"

// Record is what vigil added to the network, so that it removes nothing else.
type Record struct {
	Addresses []AddrRecord `json:"addresses,omitempty"`
	Routes    []RouteKey   `json:"routes,omitempty"`
	// MTU is the original MTU of each link whose MTU vigil changed.
	MTU map[string]int `json:"mtu,omitempty"`
}

// AddrRecord is an address vigil added to a link.
type AddrRecord struct {
	Link string `json:"link"`
	CIDR string `json:"cidr"`
}

// RouteKey identifies a route vigil added.
type RouteKey struct {
	Destination string `json:"destination"`
	Gateway     string `json:"gateway,omitempty"`
	Link        string `json:"link,omitempty"`
}

// Manager applies network blocks in one network namespace. Its methods are
// safe for concurrent use (the Controller applies blocks and holds the
// virtual IP at the same time).
type Manager struct {
	mu     sync.Mutex
	h      *netlink.Handle
	ns     netns.NsHandle // the namespace, or netns.None() for the current one
	record string
	rec    Record
}

// New returns a Manager for the namespace ns (netns.None(): the process's
// own) that keeps its record in dataDir.
func New(ns netns.NsHandle, dataDir string) (*Manager, error) {
	var h *netlink.Handle
	var err error
	if ns.IsOpen() {
		h, err = netlink.NewHandleAt(ns)
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return nil, fmt.Errorf("network: opening netlink: %w", err)
	}
	m := &Manager{h: h, ns: ns, record: filepath.Join(dataDir, RecordFile)}
	b, err := os.ReadFile(m.record)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		h.Close()
		return nil, fmt.Errorf("network: %w", err)
	default:
		if err := json.Unmarshal(b, &m.rec); err != nil {
			h.Close()
			return nil, fmt.Errorf("network: %s is damaged (%v): remove it only after removing by hand the addresses and routes vigil added", m.record, err)
		}
	}
	return m, nil
}

// Close releases the netlink handle.
func (m *Manager) Close() { m.h.Close() }

// Record returns a copy of what vigil added.
func (m *Manager) Record() Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.rec
	r.Addresses = slices.Clone(r.Addresses)
	r.Routes = slices.Clone(r.Routes)
	return r
}

// Report says what an Apply changed.
type Report struct {
	// Changes are one line each, e.g. "eth0: added 10.0.0.11/24".
	Changes []string
	// Risky is true when something was removed or replaced, or an MTU
	// changed: the kind of change that can cut the server off.
	Risky bool
	// Notes are things the block asks for that vigil leaves to others.
	Notes []string
}

func (r *Report) add(risky bool, format string, args ...any) {
	r.Changes = append(r.Changes, fmt.Sprintf(format, args...))
	r.Risky = r.Risky || risky
}

// Apply makes the namespace's network follow n (nil: vigil manages
// nothing, and removes what it added). It returns what it changed; on an
// error, the changes made so far stay and are recorded.
func (m *Manager) Apply(n *spec.Network) (Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var rep Report
	err := m.apply(n, &rep)
	if serr := m.save(); serr != nil && err == nil {
		err = serr
	}
	return rep, err
}

func (m *Manager) apply(n *spec.Network, rep *Report) error {
	if n == nil {
		n = &spec.Network{}
	}
	if m.rec.MTU == nil {
		m.rec.MTU = map[string]int{}
	}
	wantAddr := map[AddrRecord]bool{}
	for _, i := range n.Interfaces {
		link, err := m.h.LinkByName(i.Name)
		if err != nil {
			return fmt.Errorf("interface %s: %w", i.Name, err)
		}
		if i.DHCP {
			rep.Notes = append(rep.Notes, i.Name+": dhcp is left to the image's DHCP client")
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			if err := m.h.LinkSetUp(link); err != nil {
				return fmt.Errorf("interface %s: setting it up: %w", i.Name, err)
			}
			rep.add(false, "%s: up", i.Name)
		}
		if err := m.setMTU(link, i.MTU, rep); err != nil {
			return err
		}
		have, err := m.h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("interface %s: listing addresses: %w", i.Name, err)
		}
		for _, cidr := range i.Addresses {
			a, err := netlink.ParseAddr(cidr)
			if err != nil {
				return fmt.Errorf("interface %s: address %q: %w", i.Name, cidr, err)
			}
			key := AddrRecord{Link: i.Name, CIDR: a.IPNet.String()}
			wantAddr[key] = true
			if hasAddr(have, a) {
				continue // present: ours if recorded, someone else's otherwise
			}
			if err := m.h.AddrAdd(link, a); err != nil {
				return fmt.Errorf("interface %s: adding %s: %w", i.Name, cidr, err)
			}
			m.rec.Addresses = append(m.rec.Addresses, key)
			rep.add(false, "%s: added %s", i.Name, key.CIDR)
		}
	}
	// Links vigil changed the MTU of that the block no longer sets.
	for name := range m.rec.MTU {
		if !slices.ContainsFunc(n.Interfaces, func(i *spec.Interface) bool { return i.Name == name && i.MTU > 0 }) {
			if link, err := m.h.LinkByName(name); err == nil {
				if err := m.setMTU(link, 0, rep); err != nil {
					return err
				}
			} else {
				delete(m.rec.MTU, name) // the link is gone
			}
		}
	}

	type wanted struct {
		r   *spec.Route
		nr  *netlink.Route
		key RouteKey
	}
	routes := make([]wanted, 0, len(n.Routes)) // in the block's order
	wantRoute := map[RouteKey]bool{}
	for _, r := range n.Routes {
		nr, key, err := m.route(r)
		if err != nil {
			return err
		}
		routes = append(routes, wanted{r, nr, key})
		wantRoute[key] = true
	}
	var keepRoutes []RouteKey
	for _, k := range m.rec.Routes {
		if wantRoute[k] {
			keepRoutes = append(keepRoutes, k)
			continue
		}
		nr, _, err := m.route(&spec.Route{Destination: k.Destination, Gateway: k.Gateway, Interface: k.Link})
		if err == nil {
			err = m.h.RouteDel(nr)
		}
		if err != nil && !isGone(err) {
			m.rec.Routes = keepRoutes
			return fmt.Errorf("removing route %s: %w", k.Destination, err)
		}
		rep.add(true, "removed route %s", routeText(k))
	}
	m.rec.Routes = keepRoutes

	var keepAddrs []AddrRecord
	for i, k := range m.rec.Addresses {
		if wantAddr[k] {
			keepAddrs = append(keepAddrs, k)
			continue
		}
		link, err := m.h.LinkByName(k.Link)
		if err == nil {
			var a *netlink.Addr
			if a, err = netlink.ParseAddr(k.CIDR); err == nil {
				err = m.h.AddrDel(link, a)
			}
		}
		if err != nil && !isGone(err) {
			m.rec.Addresses = append(keepAddrs, m.rec.Addresses[i:]...)
			return fmt.Errorf("interface %s: removing %s: %w", k.Link, k.CIDR, err)
		}
		rep.add(true, "%s: removed %s", k.Link, k.CIDR)
	}
	m.rec.Addresses = keepAddrs

	for _, w := range routes {
		nr, key := w.nr, w.key
		existing, err := m.h.RouteListFiltered(familyOf(nr), &netlink.Route{Dst: nr.Dst, Table: nr.Table}, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
		if err != nil {
			return fmt.Errorf("route %s: %w", w.r.Destination, err)
		}
		same, replaced := false, len(existing) > 0
		for _, e := range existing {
			if e.Gw.Equal(nr.Gw) && (nr.LinkIndex == 0 || e.LinkIndex == nr.LinkIndex) {
				same = true
			}
		}
		if same {
			continue
		}
		if err := m.h.RouteReplace(nr); err != nil {
			return fmt.Errorf("route %s: %w", routeText(key), err)
		}
		if !slices.Contains(m.rec.Routes, key) {
			m.rec.Routes = append(m.rec.Routes, key)
		}
		if replaced {
			rep.add(true, "replaced route %s", routeText(key))
		} else {
			rep.add(false, "added route %s", routeText(key))
		}
	}
	return nil
}

// setMTU sets a link's MTU (0: back to the original vigil recorded).
func (m *Manager) setMTU(link netlink.Link, mtu int, rep *Report) error {
	name := link.Attrs().Name
	orig, changed := m.rec.MTU[name]
	if mtu == 0 {
		if !changed {
			return nil
		}
		mtu = orig
	}
	cur := link.Attrs().MTU
	if cur != mtu {
		if err := m.h.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("interface %s: setting MTU %d: %w", name, mtu, err)
		}
		rep.add(true, "%s: mtu %d -> %d", name, cur, mtu)
	}
	switch {
	case mtu == orig && changed:
		delete(m.rec.MTU, name)
	case !changed && cur != mtu:
		m.rec.MTU[name] = cur
	}
	return nil
}

// route turns a route of the block into a netlink route and its key.
func (m *Manager) route(r *spec.Route) (*netlink.Route, RouteKey, error) {
	_, dst, err := net.ParseCIDR(r.Destination)
	if err != nil {
		return nil, RouteKey{}, fmt.Errorf("route %q: %w", r.Destination, err)
	}
	key := RouteKey{Destination: dst.String(), Gateway: r.Gateway, Link: r.Interface}
	nr := &netlink.Route{Dst: dst, Table: 254 /* main */}
	if r.Gateway != "" {
		if nr.Gw = net.ParseIP(r.Gateway); nr.Gw == nil {
			return nil, key, fmt.Errorf("route %s: gateway %q is not an IP address", r.Destination, r.Gateway)
		}
	}
	if r.Interface != "" {
		link, err := m.h.LinkByName(r.Interface)
		if err != nil {
			return nil, key, fmt.Errorf("route %s: interface %s: %w", r.Destination, r.Interface, err)
		}
		nr.LinkIndex = link.Attrs().Index
	}
	if nr.Gw == nil && nr.LinkIndex == 0 {
		return nil, key, fmt.Errorf("route %s: needs a gateway or an interface", r.Destination)
	}
	return nr, key, nil
}

func familyOf(r *netlink.Route) int {
	if r.Dst.IP.To4() != nil {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func routeText(k RouteKey) string {
	s := k.Destination
	if k.Gateway != "" {
		s += " via " + k.Gateway
	}
	if k.Link != "" {
		s += " dev " + k.Link
	}
	return s
}

func hasAddr(have []netlink.Addr, a *netlink.Addr) bool {
	for _, h := range have {
		if h.IPNet.String() == a.IPNet.String() {
			return true
		}
	}
	return false
}

// isGone reports a removal of something already gone: the goal is reached.
func isGone(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.EADDRNOTAVAIL) || errors.As(err, &lnf)
}

// save writes the record atomically.
func (m *Manager) save() error {
	b, err := json.MarshalIndent(m.rec, "", "  ")
	if err != nil {
		return err
	}
	tmp := m.record + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return fmt.Errorf("network: saving what vigil added: %w", err)
	}
	if err := os.Rename(tmp, m.record); err != nil {
		return fmt.Errorf("network: saving what vigil added: %w", err)
	}
	return nil
}
