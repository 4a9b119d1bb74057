package agent

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/siteca"
)

// The API and the console are served over HTTPS only. The certificate is
// one the agent issues itself from the site's CA (package siteca: derived
// from the site key, so a fresh server has it before the site forms) for
// the names it is reached by, or the operator's (tls_cert_file,
// tls_key_file). Agents call each other over HTTPS verified with the site
// CA and siteca.PeerName, which they send as SNI: a server with the
// operator's certificate answers them with its site certificate.
//
// A plain HTTP request on the API port is answered with a redirect to
// https (plain_http = "redirect", the default) or not at all ("off"): the
// first byte of a connection tells a TLS handshake (0x16) from HTTP.

// Plain HTTP modes of the agent's configuration (plain_http).
const (
	PlainHTTPRedirect = "redirect"
	PlainHTTPOff      = "off"
)

// serverTLS is the agent's HTTPS: the site CA, the certificate served.
type serverTLS struct {
	ca    *siteca.CA
	given *tls.Certificate // tls_cert_file and tls_key_file; nil: the site's
	leaf  atomic.Pointer[tls.Certificate]

	mu       sync.Mutex // held by refresh
	site     *spec.Site // of the last refresh
	names    []string   // of the leaf
	renewAt  time.Time
	failures int
}

func newServerTLS(cfg *Config) (*serverTLS, error) {
	ca, err := siteca.New(cfg.Site, cfg.SiteKey)
	if err != nil {
		return nil, err
	}
	t := &serverTLS{ca: ca}
	if cfg.TLSCertFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("the API's certificate (tls_cert_file, tls_key_file): %w", err)
		}
		t.given = &c
	}
	if err := t.refresh(cfg, nil, time.Now()); err != nil {
		return nil, err
	}
	return t, nil
}

// config is the API listener's TLS configuration. HTTP/2 is not offered:
// the live view's WebSocket and the connection limits count on HTTP/1.1.
func (t *serverTLS) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if t.given != nil && hello.ServerName != siteca.PeerName {
				return t.given, nil
			}
			return t.leaf.Load(), nil
		},
	}
}

// peerTLS is the TLS configuration of agents calling each other: it trusts
// ca alone and checks siteca.PeerName, whatever address it dials, which
// the site's agents prove to each other whichever certificate they serve
// to others.
func peerTLS(ca *siteca.CA) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), ServerName: siteca.PeerName, MinVersion: tls.VersionTLS12}
}

// peerTLSTransport is an HTTP transport with peerTLS: the base of the
// agent's peerHTTP (which adds the peer credential) and of LocalClient.
func peerTLSTransport(ca *siteca.CA) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = peerTLS(ca)
	return tr
}

// LocalClient is a client of the API of the agent that runs with this
// configuration, on this server (APIAddr), with token: vigil config import
// reports to it. It trusts the site's CA, from the site key.
func (c *Config) LocalClient(token string) (*api.Client, error) {
	ca, err := siteca.New(c.Site, c.SiteKey)
	if err != nil {
		return nil, err
	}
	return api.NewClientHTTP(c.APIAddr(), token, &http.Client{Transport: peerTLSTransport(ca)}), nil
}

// refresh issues a new leaf when the names this server is reached by
// changed (its address, external address or the site's virtual IP in the
// committed spec) or the leaf is half-way through its validity. Of a
// streak of failures (the old leaf stays), only the first is returned.
func (t *serverTLS) refresh(cfg *Config, site *spec.Site, now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leaf.Load() != nil && site == t.site && now.Before(t.renewAt) {
		return nil
	}
	names := leafNames(cfg, site)
	if t.leaf.Load() != nil && slices.Equal(names, t.names) && now.Before(t.renewAt) {
		t.site = site
		return nil
	}
	c, err := t.ca.Issue(names, now)
	if err != nil {
		// Keep the old leaf; try again in a minute.
		t.renewAt = now.Add(time.Minute)
		if t.failures++; t.failures > 1 {
			return nil
		}
		return err
	}
	t.leaf.Store(c)
	t.site, t.names, t.failures = site, names, 0
	t.renewAt = now.Add(siteca.LeafValidity / 2)
	return nil
}

// leafNames are the names a server's leaf certificate holds: its server
// name, host name, loopback, its bind and advertise addresses (every
// local address when it binds to all), and from the committed spec its
// address, external address and the site's virtual IP. Sorted, so that a
// change is seen by comparing.
func leafNames(cfg *Config, site *spec.Site) []string {
	names := []string{cfg.Server, "localhost", "127.0.0.1", "::1", cfg.advertiseAddr()}
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	if ip := net.ParseIP(cfg.Bind); ip != nil && ip.IsUnspecified() {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					names = append(names, n.IP.String())
				}
			}
		}
	} else {
		names = append(names, cfg.Bind)
	}
	if site != nil {
		if s := site.Server(cfg.Server); s != nil {
			names = append(names, s.Address, s.ExternalAddress)
		}
		if site.VirtualIP != "" {
			names = append(names, strings.Split(site.VirtualIP, "/")[0])
		}
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" || net.ParseIP(n).IsUnspecified() })
	slices.Sort(names[1:]) // the server's name first: the certificate's common name
	return slices.Compact(names)
}

// refreshTLS renews this server's certificate when the spec changed the
// names it is reached by; a failure is said once, and retried.
func (a *Agent) refreshTLS(site *spec.Site, now time.Time) {
	if err := a.tls.refresh(&a.cfg, site, now); err != nil {
		a.emit(api.Event{Severity: spec.SeverityError, Kind: spec.EventTLSCertFailed, Message: "cannot issue this server's certificate (the old one is served): " + err.Error()})
	}
}

// sniffListener hands TLS connections of the bounded listener to the
// HTTPS server and answers plain HTTP ones with a redirect (or closes
// them). The first byte is read in a goroutine per connection, within
// the header timeout, so that a silent client holds up no other.
type sniffListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration
	tlsc    chan net.Conn
	plain   chan net.Conn // nil: plain HTTP is off
	done    chan struct{}
	err     error
	// plainDone is closed when the plain listener is closed.
	plainDone chan struct{}
	plainOnce sync.Once
}

func newSniffListener(ln net.Listener, cfg *tls.Config, timeout time.Duration, plain bool) *sniffListener {
	s := &sniffListener{Listener: ln, cfg: cfg, timeout: timeout, tlsc: make(chan net.Conn), done: make(chan struct{}), plainDone: make(chan struct{})}
	if plain {
		s.plain = make(chan net.Conn)
	}
	go s.loop()
	return s
}

func (s *sniffListener) loop() {
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			s.err = err
			close(s.done)
			return
		}
		go s.sniff(c)
	}
}

func (s *sniffListener) sniff(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(s.timeout))
	first := make([]byte, 1)
	if _, err := c.Read(first); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	pc := &prefixConn{Conn: c, prefix: first}
	to := s.plain
	var conn net.Conn = pc
	if first[0] == 0x16 { // a TLS handshake record
		to, conn = s.tlsc, tls.Server(pc, s.cfg)
	}
	if to == nil {
		c.Close()
		return
	}
	select {
	case to <- conn:
	case <-s.done:
		c.Close()
	case <-s.plainDone:
		c.Close()
	}
}

// Accept returns the next TLS connection.
func (s *sniffListener) Accept() (net.Conn, error) {
	select {
	case c := <-s.tlsc:
		return c, nil
	case <-s.done:
		return nil, s.err
	}
}

// plainListener is the listener of the plain HTTP connections.
func (s *sniffListener) plainListener() net.Listener { return plainListener{s} }

type plainListener struct{ s *sniffListener }

func (p plainListener) Accept() (net.Conn, error) {
	select {
	case c := <-p.s.plain:
		return c, nil
	case <-p.s.done:
		return nil, net.ErrClosed
	case <-p.s.plainDone:
		return nil, net.ErrClosed
	}
}

// Close stops handing out plain connections; the sniffListener's Close
// closes the socket.
func (p plainListener) Close() error {
	p.s.plainOnce.Do(func() { close(p.s.plainDone) })
	return nil
}

func (p plainListener) Addr() net.Addr { return p.s.Addr() }

// prefixConn gives back the bytes read to tell TLS from plain HTTP.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// redirectHTTPS answers a plain HTTP request with a permanent redirect to
// the same address over https.
func redirectHTTPS(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if host == "" {
		writeError(w, http.StatusBadRequest, api.Error{Error: "this API speaks HTTPS only"})
		return
	}
	w.Header().Set("Connection", "close")
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
}
