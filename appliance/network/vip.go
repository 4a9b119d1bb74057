package network

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ParseVIP turns a site's virtual_ip ("10.0.0.10/24", or a bare address,
// taken as a host address) into a netlink address.
func ParseVIP(vip string) (*netlink.Addr, error) {
	if !strings.Contains(vip, "/") {
		ip := net.ParseIP(vip)
		if ip == nil {
			return nil, fmt.Errorf("virtual_ip %q is not an IP address", vip)
		}
		bits := 32
		if ip.To4() == nil {
			bits = 128
		}
		vip = fmt.Sprintf("%s/%d", vip, bits)
	}
	a, err := netlink.ParseAddr(vip)
	if err != nil {
		return nil, fmt.Errorf("virtual_ip %q: %w", vip, err)
	}
	return a, nil
}

// LinkWithAddress is the link that holds ip: the master's interface, on
// which the virtual IP goes.
func (m *Manager) LinkWithAddress(ip string) (netlink.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := net.ParseIP(ip)
	if want == nil {
		return nil, fmt.Errorf("%q is not an IP address", ip)
	}
	links, err := m.h.LinkList()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		addrs, err := m.h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if a.IP.Equal(want) {
				return l, nil
			}
		}
	}
	return nil, fmt.Errorf("no interface holds the server's address %s", ip)
}

// AddVIP adds the virtual IP to link (unless it is there already) and
// announces it with gratuitous ARP (IPv4), so that peers and switches send
// its traffic here at once instead of to the previous master.
func (m *Manager) AddVIP(link netlink.Link, vip *netlink.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	have, err := m.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return err
	}
	if !hasAddr(have, vip) {
		a := *vip
		if err := m.h.AddrAdd(link, &a); err != nil {
			return fmt.Errorf("adding virtual IP %s to %s: %w", vip.IPNet, link.Attrs().Name, err)
		}
	}
	if vip.IP.To4() == nil || len(link.Attrs().HardwareAddr) != 6 {
		return nil // IPv6 neighbours learn it by themselves; loopback-like links have no ARP
	}
	if err := m.gratuitousARP(link, vip.IP.To4()); err != nil {
		return fmt.Errorf("virtual IP %s added to %s, but announcing it failed: %w", vip.IPNet, link.Attrs().Name, err)
	}
	return nil
}

// LinkByName is the named link of the Manager's namespace.
func (m *Manager) LinkByName(name string) (netlink.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.h.LinkByName(name)
}

// DelVIP removes the virtual IP from link; an address already gone is fine.
func (m *Manager) DelVIP(link netlink.Link, vip *netlink.Addr) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := *vip
	if err := m.h.AddrDel(link, &a); err != nil && !isGone(err) {
		return fmt.Errorf("removing virtual IP %s from %s: %w", vip.IPNet, link.Attrs().Name, err)
	}
	return nil
}

// gratuitousARP broadcasts an ARP request and an ARP reply announcing that
// ip is at the link's MAC address (some devices only honour one of them).
// The packet socket is opened inside the Manager's namespace.
func (m *Manager) gratuitousARP(link netlink.Link, ip net.IP) error {
	fd, err := m.packetSocket()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	mac := link.Attrs().HardwareAddr
	bcast := [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: link.Attrs().Index, Halen: 6, Addr: bcast}
	for _, op := range []uint16{1, 2} { // request, reply
		if err := unix.Sendto(fd, arpPacket(mac, ip, op), 0, to); err != nil {
			return fmt.Errorf("sending gratuitous ARP on %s: %w", link.Attrs().Name, err)
		}
	}
	return nil
}

// arpPacket is an Ethernet frame carrying a gratuitous ARP: sender and
// target protocol address are both ip.
func arpPacket(mac net.HardwareAddr, ip net.IP, op uint16) []byte {
	p := make([]byte, 0, 42)
	p = append(p, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // destination: broadcast
	p = append(p, mac...)
	p = binary.BigEndian.AppendUint16(p, unix.ETH_P_ARP)
	p = binary.BigEndian.AppendUint16(p, 1)      // hardware: Ethernet
	p = binary.BigEndian.AppendUint16(p, 0x0800) // protocol: IPv4
	p = append(p, 6, 4)
	p = binary.BigEndian.AppendUint16(p, op)
	p = append(p, mac...)
	p = append(p, ip...)
	if op == 1 {
		p = append(p, 0, 0, 0, 0, 0, 0)
	} else {
		p = append(p, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	}
	return append(p, ip...)
}

// packetSocket opens an AF_PACKET socket in the Manager's namespace: a
// socket belongs to the namespace of the thread that created it.
func (m *Manager) packetSocket() (int, error) {
	open := func() (int, error) {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			return -1, fmt.Errorf("opening a packet socket (needs CAP_NET_RAW): %w", err)
		}
		return fd, nil
	}
	if !m.ns.IsOpen() {
		return open()
	}
	// On a goroutine of its own: if the thread cannot return to its
	// namespace it stays locked and ends with that goroutine, so no other
	// goroutine ever runs in the wrong namespace.
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		defer orig.Close()
		if err := netns.Set(m.ns); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		fd, err := open()
		if serr := netns.Set(orig); serr != nil {
			if err == nil {
				unix.Close(fd)
			}
			ch <- result{-1, fmt.Errorf("returning to the agent's namespace: %w", serr)}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{fd, err}
	}()
	r := <-ch
	return r.fd, r.err
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
