package agent_test

import (
	"bufio"
	"crypto/tls"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// recordedBytes is the size of every segment file under dir.
func recordedBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".mp4") {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestAPIFloodKeepsRecording: 300 connections from one source that each
// send a request and go quiet (the descriptor exhaustion, bounded)
// get at most the per-source share; the camera keeps being written to
// disk and the API keeps answering other sources meanwhile.
func TestAPIFloodKeepsRecording(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	ctx := ctxFor(t, 60*time.Second)
	if _, err := s.Commit(ctx, s.Spec(s.CameraSpec(1, "rec-1"))); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-1", map[string][]string{"cam1": {"rec-1"}}, 30*time.Second)
	addr := strings.TrimPrefix(s.Server("rec-1").Addr(), "https://")

	served := 0
	for i := 0; i < 300; i++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c = tls.Client(c, &tls.Config{RootCAs: s.CA.Pool(), ServerName: "127.0.0.1"})
		io.WriteString(c, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
			served++
		}
	}
	if served == 0 || served > 256 {
		t.Errorf("%d of 300 idle connections from one source served, want at most 256", served)
	}
	// Held open: the camera is still written, the API answers elsewhere.
	dir := s.DataDir("rec-1")
	base := recordedBytes(dir)
	deadline := time.Now().Add(30 * time.Second)
	for recordedBytes(dir) <= base {
		if time.Now().After(deadline) {
			t.Fatalf("no byte recorded while the API held %d idle connections", served)
		}
		time.Sleep(100 * time.Millisecond)
	}
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext,
		TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool()}}}
	c := api.NewClientHTTP(s.Server("rec-1").Addr(), s.Token, other)
	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Errorf("the API from another source during the flood: %+v, %v", h, err)
	}
}
