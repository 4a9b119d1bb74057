package agent

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"vigil/runtime/api"

	"vigil/hcl/spec"
)

// The API's connections are bounded so that clients, hostile or broken,
// cannot take the descriptors recording needs: connections idle after a
// request are closed, each source address may hold only a few at once,
// and all of them together at most a quarter of the process's descriptor
// limit, which leaves the rest to the recorder (RTSP sockets, segment
// files), raft and membership. A connection over a limit is accepted and
// closed at once, so the kernel's backlog does not fill either.
type apiLimits struct {
	perSource int           // open connections per source IP
	total     int           // open connections in all
	idle      time.Duration // keep-alive idle time before closing
	header    time.Duration // time to send a request's headers
	body      time.Duration // time to send a request's body
}

// defaultAPILimits derives the total from RLIMIT_NOFILE (Go raises the soft
// limit to the hard one at start).
func defaultAPILimits() apiLimits {
	nofile := uint64(1024)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur > 0 {
		nofile = rl.Cur
	}
	return apiLimits{perSource: 256, total: int(min(max(nofile/4, 16), 4096)), idle: time.Minute, header: 10 * time.Second, body: 2 * time.Minute}
}

// server is the API's http.Server on a listener bounded by l; onRefuse is
// called for each connection closed for being over a limit.
func (l apiLimits) server(ln net.Listener, h http.Handler, onRefuse func(host netip.Addr)) (*http.Server, net.Listener) {
	srv := &http.Server{
		Handler: l.boundBodies(h),
		// No ReadTimeout or WriteTimeout: event streams, playback and
		// exports are long requests. Headers and idle time are bounded,
		// request bodies by maxBody and l.body (boundBodies), and the
		// number of connections below.
		ReadHeaderTimeout: l.header,
		IdleTimeout:       l.idle,
	}
	return srv, &limitListener{Listener: ln, l: l, onRefuse: onRefuse, open: map[netip.Addr]int{}}
}

type limitListener struct {
	net.Listener
	l        apiLimits
	onRefuse func(netip.Addr)

	mu    sync.Mutex
	open  map[netip.Addr]int
	total int
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := netip.Addr{}
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			host = ap.Addr().Unmap()
		}
		ll.mu.Lock()
		ok := ll.total < ll.l.total && ll.open[host] < ll.l.perSource
		if ok {
			ll.total++
			ll.open[host]++
		}
		ll.mu.Unlock()
		if !ok {
			c.Close()
			if ll.onRefuse != nil {
				ll.onRefuse(host)
			}
			continue
		}
		return &limitedConn{Conn: c, release: func() { ll.release(host) }}, nil
	}
}

func (ll *limitListener) release(host netip.Addr) {
	ll.mu.Lock()
	ll.total--
	if ll.open[host]--; ll.open[host] <= 0 {
		delete(ll.open, host)
	}
	ll.mu.Unlock()
}

// limitedConn gives its slot back once, however often it is closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// minuteGate lets one report through a minute and counts the others, so
// that the next report says how many it stands for: refused requests and
// connections cost the log and the event backlog a line a minute, however
// many arrive (the metrics count every one).
type minuteGate struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// pass reports whether a report may go out now, and how many were held
// back since the last one.
func (g *minuteGate) pass() (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := time.Now(); g.last.IsZero() || now.Sub(g.last) >= time.Minute {
		n := g.suppressed
		g.last, g.suppressed = now, 0
		return true, n
	}
	g.suppressed++
	return false, 0
}

// andMore is the suffix of a report that stands for n held-back ones.
func andMore(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more since the last report)", n)
}

// refuseConn reports an API connection closed for being over a limit.
func (a *Agent) refuseConn(host netip.Addr) {
	a.metrics.connsRefused.Inc()
	if ok, n := a.connGate.pass(); ok {
		a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventAPIRefused, Message: fmt.Sprintf(
			"API connection from %s closed: over the limit of connections per source or in all%s", host, andMore(n))})
	}
}

// maxBody bounds request bodies: 10 MB. The largest, an apply of a site of
// 10,000 cameras, is 3.7 MB of JSON.
const maxBody = 10 << 20

// boundBodies refuses a request that declares a body over maxBody (413)
// before its handler runs, bounds every body to maxBody, and gives the
// client l.body to send it, so that a client trickling a body holds its
// connection no longer. readBody turns the bounds into answers.
func (l apiLimits) boundBodies(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, api.Error{Error: tooLarge(maxBody)})
			return
		}
		if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Now().Add(l.body))
			r.Body = &deadlineBody{ReadCloser: http.MaxBytesReader(w, r.Body, maxBody),
				clear: func() { rc.SetReadDeadline(time.Time{}) }}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline of its connection once the body has
// been read, so that a long answer (an apply waiting for its commit) is not
// cut by it.
type deadlineBody struct {
	io.ReadCloser
	once  sync.Once
	clear func()
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(b.clear)
	}
	return n, err
}

// readBody reads a request's body of at most limit bytes. When it cannot,
// it answers 413 (over the limit), 408 (sent too slowly) or 400 and
// returns false.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return body, true
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, api.Error{Error: tooLarge(tooBig.Limit)})
	case errors.Is(err, os.ErrDeadlineExceeded):
		writeError(w, http.StatusRequestTimeout, api.Error{Error: "the request body was not sent in time"})
	default:
		writeError(w, http.StatusBadRequest, api.Error{Error: "reading request: " + err.Error()})
	}
	return nil, false
}

// tooLarge says what a 413 refuses.
func tooLarge(limit int64) string {
	return fmt.Sprintf("the request body is larger than this endpoint takes (%d MB at most)", max(limit>>20, 1))
}
