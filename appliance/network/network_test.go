package network

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

var nsCount atomic.Int32

// newNS creates a network namespace for the test (removed at cleanup) and
// returns it with a netlink handle in it.
func newNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	name := fmt.Sprintf("vgnet-%d-%d", os.Getpid(), nsCount.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ns, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return ns, h
}

// addLink adds a link named name to the namespace: one end of a veth pair
// whose other end (name+"p") stays there too (dummy links need a kernel
// module that containers often lack).
func addLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}); err != nil {
		t.Fatalf("adding %s: %v", name, err)
	}
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func addrs(t *testing.T, h *netlink.Handle, link string) []string {
	t.Helper()
	l, err := h.LinkByName(link)
	if err != nil {
		t.Fatal(err)
	}
	as, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	slices.Sort(out)
	return out
}

func routes(t *testing.T, h *netlink.Handle) []string {
	t.Helper()
	rs, err := h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		if r.Dst != nil && r.Protocol != unix.RTPROT_KERNEL {
			s := r.Dst.String()
			if r.Gw != nil {
				s += " via " + r.Gw.String()
			}
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func TestApplyAndRemove(t *testing.T) {
	ns, h := newNS(t)
	vd0 := addLink(t, h, "vd0")
	// An address vigil did not add: it must survive every change.
	other, _ := netlink.ParseAddr("10.50.0.9/24")
	if err := h.AddrAdd(vd0, other); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m, err := New(ns, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	block := &spec.Network{
		Interfaces: []*spec.Interface{{Name: "vd0", Addresses: []string{"10.50.0.2/24", "10.50.0.9/24"}, MTU: 1400}},
		Routes: []*spec.Route{
			{Destination: "10.60.0.0/16", Gateway: "10.50.0.1"},
			{Destination: "10.70.0.0/16", Interface: "vd0"},
		},
	}
	rep, err := m.Apply(block)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Risky {
		// The MTU change is risky; additions alone are not.
		t.Errorf("an MTU change was not risky: %+v", rep)
	}
	l, _ := h.LinkByName("vd0")
	if l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().MTU != 1400 {
		t.Errorf("vd0: flags %v, mtu %d", l.Attrs().Flags, l.Attrs().MTU)
	}
	if got, want := addrs(t, h, "vd0"), []string{"10.50.0.2/24", "10.50.0.9/24"}; !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v", got, want)
	}
	if got, want := routes(t, h), []string{"10.60.0.0/16 via 10.50.0.1", "10.70.0.0/16"}; !slices.Equal(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
	if rec := m.Record(); len(rec.Addresses) != 1 || rec.Addresses[0].CIDR != "10.50.0.2/24" || rec.MTU["vd0"] != 1500 {
		t.Errorf("record %+v", rec)
	}
	// Applying the same block again changes nothing.
	if rep, err := m.Apply(block); err != nil || len(rep.Changes) != 0 {
		t.Errorf("second apply: %+v, %v", rep, err)
	}

	// A new block: one address replaced, the MTU and a route dropped.
	block2 := &spec.Network{
		Interfaces: []*spec.Interface{{Name: "vd0", Addresses: []string{"10.50.0.3/24"}}},
		Routes:     []*spec.Route{{Destination: "10.70.0.0/16", Interface: "vd0"}},
	}
	rep, err = m.Apply(block2)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Risky {
		t.Errorf("removing an address was not risky: %+v", rep)
	}
	if got, want := addrs(t, h, "vd0"), []string{"10.50.0.3/24", "10.50.0.9/24"}; !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v (10.50.0.9 was not vigil's)", got, want)
	}
	if got, want := routes(t, h), []string{"10.70.0.0/16"}; !slices.Equal(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
	if l, _ := h.LinkByName("vd0"); l.Attrs().MTU != 1500 {
		t.Errorf("mtu %d, want the original 1500 back", l.Attrs().MTU)
	}

	// The record survives a restart: a new Manager removes what the old
	// one added when the block goes away.
	m2, err := New(ns, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if _, err := m2.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if got, want := addrs(t, h, "vd0"), []string{"10.50.0.9/24"}; !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v", got, want)
	}
	if got := routes(t, h); len(got) != 0 {
		t.Errorf("routes %v, want none", got)
	}
}

func TestUnknownInterface(t *testing.T) {
	ns, _ := newNS(t)
	m, err := New(ns, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Apply(&spec.Network{Interfaces: []*spec.Interface{{Name: "eth9", Addresses: []string{"10.1.0.1/24"}}}})
	if err == nil || err.Error() != "interface eth9: Link not found" {
		t.Errorf("err = %v", err)
	}
}

// fakeAgent records events.
type fakeAgent struct {
	name string
	mu   sync.Mutex
	evs  []api.Event
}

func (f *fakeAgent) Name() string                     { return f.name }
func (f *fakeAgent) State() api.State                 { return api.State{} }
func (f *fakeAgent) LeaderLoop(func(context.Context)) {}
func (f *fakeAgent) PeerHTTP() *http.Client           { return http.DefaultClient }
func (f *fakeAgent) Emit(ev api.Event)                { f.mu.Lock(); f.evs = append(f.evs, ev); f.mu.Unlock() }
func (f *fakeAgent) kinds() (k []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.evs {
		k = append(k, e.Kind)
	}
	return k
}

func TestTryModeReverts(t *testing.T) {
	ns, h := newNS(t)
	addLink(t, h, "vd0")
	m, err := New(ns, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	fa := &fakeAgent{name: "s1"}
	reachable := true
	c := &Controller{a: fa, m: m, log: slog.New(slog.NewTextHandler(io.Discard, nil)), o: Options{
		TryTimeout: 1500 * time.Millisecond,
		Reachable: func(context.Context, *api.State) error {
			if reachable {
				return nil
			}
			return fmt.Errorf("no peer answers")
		},
	}}
	good := &spec.Network{Interfaces: []*spec.Interface{{Name: "vd0", Addresses: []string{"10.50.0.2/24"}}},
		Routes: []*spec.Route{{Destination: "0.0.0.0/0", Gateway: "10.50.0.1"}}}
	if !c.change(t.Context(), &api.State{}, nil, good) {
		t.Fatal("the first block was not applied")
	}
	// A change that loses the site: new address, new gateway.
	reachable = false
	bad := &spec.Network{Interfaces: []*spec.Interface{{Name: "vd0", Addresses: []string{"10.51.0.2/24"}}},
		Routes: []*spec.Route{{Destination: "0.0.0.0/0", Gateway: "10.51.0.1"}}}
	if c.change(t.Context(), &api.State{}, good, bad) {
		t.Fatal("a change that cut the server off was kept")
	}
	if got, want := addrs(t, h, "vd0"), []string{"10.50.0.2/24"}; !slices.Equal(got, want) {
		t.Errorf("addresses after the undo %v, want %v", got, want)
	}
	if got, want := routes(t, h), []string{"0.0.0.0/0 via 10.50.0.1"}; !slices.Equal(got, want) {
		t.Errorf("routes after the undo %v, want %v", got, want)
	}
	if k := fa.kinds(); !slices.Contains(k, "network.reverted") {
		t.Errorf("events %v", k)
	}
	// The same change with the site reachable stays.
	reachable = true
	if !c.change(t.Context(), &api.State{}, good, bad) {
		t.Fatal("a change that kept the site reachable was undone")
	}
	if got, want := addrs(t, h, "vd0"), []string{"10.51.0.2/24"}; !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v", got, want)
	}
}

func TestGratuitousARP(t *testing.T) {
	nsA, hA := newNS(t)
	nsB, hB := newNS(t)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(nsB)}
	if err := hA.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	la, _ := hA.LinkByName("va")
	lb, err := hB.LinkByName("vb")
	if err != nil {
		t.Fatal(err)
	}
	hA.LinkSetUp(la)
	hB.LinkSetUp(lb)
	la, _ = hA.LinkByName("va")

	mA, err := New(nsA, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer mA.Close()
	mB, err := New(nsB, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer mB.Close()
	fd, err := mB.packetSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 3})

	vip, _ := ParseVIP("10.80.0.10/24")
	if err := mA.AddVIP(la, vip); err != nil {
		t.Fatal(err)
	}
	if got := addrs(t, hA, "va"); !slices.Contains(got, "10.80.0.10/24") {
		t.Fatalf("va addresses %v", got)
	}
	buf := make([]byte, 1500)
	var ops []int
	for len(ops) < 2 {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			t.Fatalf("no gratuitous ARP received (%v); got ops %v", err, ops)
		}
		p := buf[:n]
		if n >= 42 && net.IP(p[28:32]).Equal(vip.IP) && net.IP(p[38:42]).Equal(vip.IP) && net.HardwareAddr(p[22:28]).String() == la.Attrs().HardwareAddr.String() {
			ops = append(ops, int(p[21]))
		}
	}
	if !slices.Equal(ops, []int{1, 2}) {
		t.Errorf("ARP operations %v, want request then reply", ops)
	}
	if err := mA.DelVIP(la, vip); err != nil {
		t.Fatal(err)
	}
	if got := addrs(t, hA, "va"); slices.Contains(got, "10.80.0.10/24") {
		t.Errorf("virtual IP still on va: %v", got)
	}
}

// TestVIPFailover runs a three-server site in one process, each agent's
// network operations in its own namespace (where a link holds the server's
// address): every server applies its network block from the committed
// spec, the master holds the virtual IP, and when the master is killed the
// virtual IP leaves with it and appears on the new master.
func TestVIPFailover(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	site, err := devsite.New(devsite.Options{Servers: []string{"s1", "s2", "s3"}})
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close()
	if err := site.Start(); err != nil {
		t.Fatal(err)
	}
	hs := map[string]*netlink.Handle{}
	ctrls := map[string]*Controller{}
	for _, n := range site.Names() {
		ns, h := newNS(t)
		l := addLink(t, h, "eth0")
		a, _ := netlink.ParseAddr(site.Server(n).IP + "/32")
		if err := h.AddrAdd(l, a); err != nil {
			t.Fatal(err)
		}
		h.LinkSetUp(l)
		m, err := New(ns, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		hs[n] = h
		ctrls[n] = Start(site.Server(n).Agent(), m, Options{Block: true, Interval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		defer ctrls[n].Close()
	}
	siteSpec := site.Spec()
	siteSpec.VirtualIP = "10.90.0.10/24"
	for i, s := range siteSpec.Servers { // each server's network block
		s.Network = &spec.Network{Interfaces: []*spec.Interface{{Name: "eth0", Addresses: []string{fmt.Sprintf("10.91.0.%d/24", i+1)}}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := site.Commit(ctx, siteSpec); err != nil {
		t.Fatal(err)
	}
	holders := func() []string {
		var out []string
		for _, n := range site.Names() {
			if slices.Contains(addrs(t, hs[n], "eth0"), "10.90.0.10/24") {
				out = append(out, n)
			}
		}
		return out
	}
	waitHolder := func(not string) string {
		for ctx.Err() == nil {
			if h := holders(); len(h) == 1 && h[0] != not {
				return h[0]
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("virtual IP held by %v", holders())
		return ""
	}
	master := waitHolder("")
	for i, n := range site.Names() {
		want := fmt.Sprintf("10.91.0.%d/24", i+1)
		for !slices.Contains(addrs(t, hs[n], "eth0"), want) {
			if ctx.Err() != nil {
				t.Fatalf("%s: network block not applied: %v", n, addrs(t, hs[n], "eth0"))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	st, err := site.Client(master).State(ctx)
	if err != nil || st.Master != master {
		t.Fatalf("the virtual IP is on %s but the master is %q (%v)", master, st.Master, err)
	}
	killed := time.Now()
	if err := site.Kill(master); err != nil {
		t.Fatal(err)
	}
	next := waitHolder(master)
	t.Logf("virtual IP moved from %s to %s %v after the master was killed (keepalive %v)", master, next, time.Since(killed).Round(10*time.Millisecond), site.Keepalive)
	var survivor string
	for _, n := range site.Names() {
		if n != master {
			survivor = n
		}
	}
	if st, err := site.Client(survivor).State(ctx); err != nil || st.Master != next {
		t.Errorf("the virtual IP is on %s but %s sees master %q (%v)", next, survivor, st.Master, err)
	}

	// A virtual IP left on a server that is not the master (the agent
	// crashed while master; the kernel kept the address) is removed.
	var other string
	for _, n := range site.Names() {
		if n != master && n != next {
			other = n
		}
	}
	l, _ := hs[other].LinkByName("eth0")
	stale, _ := netlink.ParseAddr("10.90.0.10/24")
	if err := hs[other].AddrAdd(l, stale); err != nil {
		t.Fatal(err)
	}
	if h := waitHolder(other); h != next {
		t.Errorf("virtual IP on %s, want %s", h, next)
	}
}

func TestPeersAnswer(t *testing.T) {
	peer := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer peer.Close()
	host, port, _ := net.SplitHostPort(peer.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	spec := func(ports ...int) *api.State {
		s := &spec.Site{Servers: []*spec.Server{{Name: "self", Address: "127.0.0.1", Port: 1}}}
		for i, p := range ports {
			s.Servers = append(s.Servers, &spec.Server{Name: fmt.Sprintf("peer%d", i), Address: host, Port: p})
		}
		return &api.State{Spec: s}
	}
	check := peersAnswer("self", peer.Client())
	if err := check(t.Context(), spec(deadPort, p)); err != nil {
		t.Errorf("one live peer: %v", err)
	}
	if err := check(t.Context(), spec(deadPort)); err == nil {
		t.Error("no live peer, but reachable")
	}
	if err := check(t.Context(), spec()); err != nil {
		t.Errorf("a site of one server: %v", err)
	}
}
