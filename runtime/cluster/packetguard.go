package cluster

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"vigil/hcl/spec"
)

// guardedTransport is memberlist's network transport with the checks moved
// to the front. memberlist's own NetTransport hands every datagram, forged
// or not, through one unbuffered channel to the goroutine that also answers
// pings, allocates 64 KiB for each, and logs one error line per rejected
// packet: random datagrams at the membership port starved the pings that
// decide verdicts (false failovers, without any key) and flooded the log.
// Here the reading goroutine checks the label and the AES-GCM tag of every
// datagram in a reused buffer and drops what fails before anything else
// sees it; authentic packets (only holders of the site key can make them)
// go to memberlist through a queue. Drops are counted and reported a few
// times a minute (reportDrops), never once per packet. Inbound streams
// (TCP: push/pull, status payloads) are capped at maxStreams at once.
type guardedTransport struct {
	udp       *net.UDPConn
	tcp       *net.TCPListener
	advertise net.IP
	port      int
	header    []byte // memberlist's label header: 244, len, label
	label     []byte // GCM additional data
	aead      cipher.AEAD
	streams   chan struct{} // semaphore of open inbound streams

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	drops    *dropReporter

	shutdown atomic.Bool
	done     chan struct{}
	wg       sync.WaitGroup
}

const (
	// packetQueue holds authentic packets waiting for memberlist; a full
	// queue drops (memberlist's probes retry).
	packetQueue = 256
	// maxStreams bounds inbound membership TCP connections open at once.
	maxStreams = 64
	// udpRecvBuf is the socket receive buffer asked for (as NetTransport).
	udpRecvBuf = 2 << 20
	// memberlist's packet framing: a label header (type 244), then
	// encryption version 0 or 1, a 12-byte nonce and the AES-GCM output.
	labelMsgType = 244
	gcmNonceSize = 12
)

func newGuardedTransport(bind string, port int, advertise net.IP, label string, key []byte, drops *dropReporter) (*guardedTransport, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(label) == 0 || len(label) > memberlist.LabelMaxSize {
		return nil, fmt.Errorf("membership label %q must be 1 to %d bytes", label, memberlist.LabelMaxSize)
	}
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	tcpAddr, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, err
	}
	tcp, err := net.ListenTCP("tcp", tcpAddr)
	if err != nil {
		return nil, err
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: tcpAddr.IP, Port: port})
	if err != nil {
		tcp.Close()
		return nil, err
	}
	for size := udpRecvBuf; size > 0; size /= 2 {
		if udp.SetReadBuffer(size) == nil {
			break
		}
	}
	t := &guardedTransport{
		udp: udp, tcp: tcp, advertise: advertise, port: port,
		header:   append([]byte{labelMsgType, byte(len(label))}, label...),
		label:    []byte(label),
		aead:     aead,
		streams:  make(chan struct{}, maxStreams),
		packetCh: make(chan *memberlist.Packet, packetQueue),
		streamCh: make(chan net.Conn),
		drops:    drops,
		done:     make(chan struct{}),
	}
	t.wg.Add(2)
	go t.readPackets()
	go t.acceptStreams()
	return t, nil
}

// authentic reports whether b is a packet of this site: the label header,
// then an AES-GCM payload sealed with the site's membership key. scratch
// receives the plaintext (discarded: memberlist decrypts again).
func (t *guardedTransport) authentic(b, scratch []byte) bool {
	if len(b) < len(t.header) || string(b[:len(t.header)]) != string(t.header) {
		return false
	}
	b = b[len(t.header):]
	if len(b) < 1+gcmNonceSize+t.aead.Overhead() || b[0] > 1 {
		return false
	}
	nonce, sealed := b[1:1+gcmNonceSize], b[1+gcmNonceSize:]
	_, err := t.aead.Open(scratch[:0], nonce, sealed, t.label)
	return err == nil
}

func (t *guardedTransport) readPackets() {
	defer t.wg.Done()
	buf := make([]byte, 65536)
	scratch := make([]byte, 65536)
	for {
		n, from, err := t.udp.ReadFromUDPAddrPort(buf)
		ts := time.Now()
		if err != nil {
			if t.shutdown.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		host := from.Addr().Unmap()
		if !t.authentic(buf[:n], scratch) {
			t.drops.drop(host, "failed authentication")
			continue
		}
		p := &memberlist.Packet{
			Buf:       append([]byte(nil), buf[:n]...),
			From:      net.UDPAddrFromAddrPort(netip.AddrPortFrom(host, from.Port())),
			Timestamp: ts,
		}
		select {
		case t.packetCh <- p:
		default:
			t.drops.drop(host, "arrived while the membership queue was full")
		}
	}
}

func (t *guardedTransport) acceptStreams() {
	defer t.wg.Done()
	for {
		conn, err := t.tcp.AcceptTCP()
		if err != nil {
			if t.shutdown.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(50 * time.Millisecond) // e.g. out of descriptors
			continue
		}
		select {
		case t.streams <- struct{}{}:
		default:
			host, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
			t.drops.drop(host.Addr().Unmap(), "was a connection over the limit of open membership streams")
			conn.Close()
			continue
		}
		c := &streamConn{Conn: conn, release: func() { <-t.streams }}
		select {
		case t.streamCh <- c:
		case <-t.done:
			c.Close()
			return
		}
	}
}

// streamConn gives its stream slot back when memberlist closes it (once,
// though memberlist may close it twice).
type streamConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *streamConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// FinalAdvertiseAddr implements memberlist.Transport.
func (t *guardedTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	if ip != "" {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return nil, 0, fmt.Errorf("membership: advertise address %q is not an IP", ip)
		}
		return parsed, port, nil
	}
	return t.advertise, t.port, nil
}

// WriteTo implements memberlist.Transport.
func (t *guardedTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return time.Time{}, err
	}
	_, err = t.udp.WriteTo(b, ua)
	return time.Now(), err
}

// PacketCh implements memberlist.Transport: authentic packets only.
func (t *guardedTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout implements memberlist.Transport. Streams leave from the
// bound address, as datagrams do, so that peers see one address per
// server.
func (t *guardedTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if ip := t.tcp.Addr().(*net.TCPAddr).IP; !ip.IsUnspecified() {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return d.Dial("tcp", addr)
}

// StreamCh implements memberlist.Transport.
func (t *guardedTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown implements memberlist.Transport.
func (t *guardedTransport) Shutdown() error {
	if t.shutdown.Swap(true) {
		return nil
	}
	close(t.done)
	t.udp.Close()
	t.tcp.Close()
	t.wg.Wait()
	return nil
}

// dropReporter bounds what dropped membership traffic costs the log and
// the event backlog: the first few source hosts in a minute are reported
// each (a peer with a wrong site key is named), the rest are counted and
// summed up in one line when the minute is over, however many packets or
// spoofed sources arrive.
type dropReporter struct {
	report func(msg string) // logs and emits one event
	perMin int              // hosts named each minute

	mu      sync.Mutex
	window  time.Time // start of the current minute
	named   map[netip.Addr]bool
	unnamed uint64 // drops in this window not reported one by one
	total   atomic.Uint64
}

// newDropReporter reports through report until stop is closed.
func newDropReporter(report func(string), stop <-chan struct{}) *dropReporter {
	r := &dropReporter{report: report, perMin: 5, named: map[netip.Addr]bool{}}
	go r.flushLoop(stop)
	return r
}

// drop counts one dropped packet or connection from host; why completes
// "membership traffic from HOST ...".
func (r *dropReporter) drop(host netip.Addr, why string) {
	r.total.Add(1)
	r.mu.Lock()
	if r.window.IsZero() {
		r.window = time.Now()
	}
	name := !r.named[host] && len(r.named) < r.perMin
	if name {
		r.named[host] = true
	} else {
		r.unnamed++
	}
	r.mu.Unlock()
	if name {
		r.report(fmt.Sprintf("membership traffic from %s dropped: it %s (a wrong site key, another site on this port, or forged packets); further drops are summed up once a minute", host, why))
	}
}

// flushLoop closes each minute's window with one summary line if there
// was more than what was named.
func (r *dropReporter) flushLoop(stop <-chan struct{}) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			r.mu.Lock()
			var n uint64
			if !r.window.IsZero() && now.Sub(r.window) >= time.Minute {
				n = r.unnamed
				r.window, r.unnamed = time.Time{}, 0
				clear(r.named)
			}
			r.mu.Unlock()
			if n > 0 {
				r.report(fmt.Sprintf("%d more membership packets or connections dropped in the last minute (failed authentication or over a limit)", n))
			}
		}
	}
}

// Dropped is how many membership packets and connections were dropped
// before reaching memberlist since this server started.
func (c *Cluster) Dropped() uint64 {
	if c.drops == nil {
		return 0
	}
	return c.drops.total.Load()
}

// membershipTransport is the guarded transport on the membership port; it
// authenticates with key, memberlist's keyring key.
func (c *Cluster) membershipTransport(label string, key []byte) (*guardedTransport, error) {
	c.drops = newDropReporter(c.reportDrop, c.shutdownCh)
	t, err := newGuardedTransport(c.cfg.BindAddr, c.cfg.Port+1, net.ParseIP(c.advertise), label, key, c.drops)
	if err != nil {
		return nil, fmt.Errorf("cluster: membership port %s:%d: %w", c.cfg.BindAddr, c.cfg.Port+1, err)
	}
	return t, nil
}

// memberlistLogger is stdlogFor with memberlist's stream refusals going
// to the drop reporter.
func (c *Cluster) memberlistLogger() *log.Logger {
	return log.New(&stdlogWriter{l: c.log, refused: c.drops.drop}, "", 0)
}

// reportDrop logs and emits one drop report.
func (c *Cluster) reportDrop(msg string) {
	c.log.Warn(msg)
	c.emit(spec.SeverityWarning, spec.EventMembershipRefused, "", msg)
}
