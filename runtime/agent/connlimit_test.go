package agent

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// get sends one keep-alive request on c and reads the answer; it fails
// when the server closed c instead of answering.
func get(c net.Conn) error {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestAPIConnectionLimits: clients that send a request and go quiet are
// closed after the idle time, one source cannot hold more than its share,
// and all sources together not more than the total, so the descriptors
// recording needs stay free.
func TestAPIConnectionLimits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int64
	// The idle time must outlast the dials below on a busy machine: an idle
	// connection closed early frees a slot the over-limit checks count on.
	limits := apiLimits{perSource: 4, total: 6, idle: 2 * time.Second, header: 5 * time.Second}
	srv, lln := limits.server(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), func(netip.Addr) { refused.Add(1) })
	go srv.Serve(lln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	// Four idle keep-alive connections from one source: the fifth is closed.
	var idle []net.Conn
	for i := 0; i < 4; i++ {
		c := dialFrom(t, "127.0.0.1", addr)
		if err := get(c); err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		idle = append(idle, c)
	}
	if err := get(dialFrom(t, "127.0.0.1", addr)); err == nil {
		t.Error("a fifth connection from one source was served")
	}
	// Other sources are served, up to the total.
	for _, src := range []string{"127.0.0.2", "127.0.0.3"} {
		if err := get(dialFrom(t, src, addr)); err != nil {
			t.Errorf("connection from %s: %v", src, err)
		}
	}
	if err := get(dialFrom(t, "127.0.0.4", addr)); err == nil {
		t.Error("a connection over the total was served")
	}
	// The listener closes a refused connection, then reports it: the
	// client may see the close first.
	waitUntil(t, "two refusals reported", func() bool { return refused.Load() >= 2 })
	if refused.Load() != 2 {
		t.Errorf("%d connections reported refused, want 2", refused.Load())
	}
	// The idle ones are closed by the server, which frees their slots.
	for i, c := range idle {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("idle connection %d: %v, want closed by the server", i+1, err)
		}
	}
	ll := lln.(*limitListener)
	waitUntil(t, "the slots of closed connections to be free", func() bool {
		ll.mu.Lock()
		defer ll.mu.Unlock()
		return ll.open[netip.MustParseAddr("127.0.0.1")] == 0
	})
	if err := get(dialFrom(t, "127.0.0.1", addr)); err != nil {
		t.Errorf("after the idle ones closed: %v", err)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The API may hold at most a quarter of the descriptors.
func TestDefaultAPILimitsLeaveMostDescriptors(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skip("no RLIMIT_NOFILE:", err)
	}
	l := defaultAPILimits()
	if uint64(l.total) > max(rl.Cur/4, 16) || l.perSource > l.total || l.idle == 0 || l.header == 0 || l.body == 0 {
		t.Errorf("limits %+v with %d descriptors", l, rl.Cur)
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc ": "abc", "Basic abc": "", "Bearerabc": "", "": ""} {
		r := &http.Request{Header: http.Header{"Authorization": {h}}}
		if got, _ := bearerToken(r); got != want {
			t.Errorf("%q: %q, want %q", h, got, want)
		}
	}
}

// serveLimited serves h behind limits on a loopback listener and returns
// its address.
func serveLimited(t *testing.T, limits apiLimits, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, lln := limits.server(ln, h, nil)
	go srv.Serve(lln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// A body over 10 MB is refused with 413, whether its length is declared
// (before the handler runs) or it is sent chunked; an endpoint's own
// smaller bound also answers 413, and an apply of 10,000 cameras fits.
func TestRequestBodyLimits(t *testing.T) {
	addr := serveLimited(t, defaultAPILimits(), func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBody)
		if r.URL.Path == "/small" {
			limit = 1 << 20
		}
		if _, ok := readBody(w, r, limit); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	post := func(path string, n int, chunked bool) int {
		t.Helper()
		var body io.Reader = io.LimitReader(zeros{}, int64(n))
		if !chunked {
			body = strings.NewReader(strings.Repeat("x", n))
		}
		resp, err := http.Post("http://"+addr+path, "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path    string
		n       int
		chunked bool
		want    int
	}{
		{"/apply", 4 << 20, false, http.StatusNoContent},
		{"/apply", maxBody + 1, false, http.StatusRequestEntityTooLarge},
		{"/apply", maxBody + 1, true, http.StatusRequestEntityTooLarge},
		{"/small", 2 << 20, false, http.StatusRequestEntityTooLarge},
		{"/small", 2 << 20, true, http.StatusRequestEntityTooLarge},
	} {
		if got := post(c.path, c.n, c.chunked); got != c.want {
			t.Errorf("POST %s of %d bytes (chunked %v): %d, want %d", c.path, c.n, c.chunked, got, c.want)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// Slow clients are bounded: one that never finishes its headers and one
// that trickles its body are cut off at their limits, while others are
// served meanwhile.
func TestSlowClientsAreCutOff(t *testing.T) {
	limits := apiLimits{perSource: 8, total: 8, idle: time.Minute, header: 500 * time.Millisecond, body: 500 * time.Millisecond}
	addr := serveLimited(t, limits, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := readBody(w, r, maxBody); ok {
			w.WriteHeader(http.StatusNoContent)
		}
	})
	// Headers never finished: the server closes the connection.
	headers := dialFrom(t, "127.0.0.1", addr)
	io.WriteString(headers, "POST / HTTP/1.1\r\nHost: x\r\n")
	// A body announced and never sent: 408, then the connection closes.
	body := dialFrom(t, "127.0.0.1", addr)
	io.WriteString(body, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"a\":")

	// Meanwhile another client is served.
	if err := get(dialFrom(t, "127.0.0.2", addr)); err != nil {
		t.Errorf("a client while two slow ones hold connections: %v", err)
	}

	headers.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := headers.Read(make([]byte, 512)); err == nil && n > 0 {
		// Go's server may answer 408 before closing: read on to the close.
		_, err = io.Copy(io.Discard, headers)
		if err != nil {
			t.Errorf("slow headers: %v, want the connection closed", err)
		}
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("slow headers: %v, want the connection closed", err)
	}
	body.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(body), nil)
	if err != nil {
		t.Fatalf("slow body: %v, want 408", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("slow body: %s, want 408", resp.Status)
	}
	if _, err := io.Copy(io.Discard, body); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("slow body: after the answer %v, want the connection closed", err)
	}
}
