package agent

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/runtime/access"
	"vigil/runtime/api"
	"vigil/runtime/assign"
	"vigil/runtime/console"
	"vigil/runtime/evidence"
)

// consoleFeed is what the web console (runtime/console) needs of the agent:
// a signal when the view changes, for the push channel, and the live
// viewers' metrics.
type consoleFeed struct {
	viewers atomic.Int64 // live views served from this server's recorder
	// changed is closed (and replaced) when the view changes; guarded
	// by Agent.mu.
	changed chan struct{}

	viewersG prometheus.Gauge
	lost     prometheus.Counter
}

func newConsoleFeed(reg prometheus.Registerer) *consoleFeed {
	f := &consoleFeed{
		changed: make(chan struct{}),
		viewersG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_console_live_viewers", Help: "Live views served from this server's recorder (relayed ones not counted).",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_console_live_frames_lost_total", Help: "Live frames that viewers lost because they did not keep up (never recording frames).",
		}),
	}
	reg.MustRegister(f.viewersG, f.lost)
	return f
}

// wake tells the console's push channels that the state changed; the
// caller holds Agent.mu.
func (f *consoleFeed) wake() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// viewChanged returns a channel closed at the next change of the view.
func (a *Agent) viewChanged() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.console.changed
}

// stateEvery is the least time between two states pushed to a page: a
// site of thousands of cameras changes many times a second.
const stateEvery = 500 * time.Millisecond

// handleConsoleStream is the console's push channel (server-sent events):
// an event "state" with the answer of GET /v1/state, again whenever it
// changes (at most every stateEvery), and an event "nplusone" with the
// site's N+1 verdict (assign.CheckNPlusOne, as vigil plan prints it; null
// without cameras; none for a caller who may see only some cameras, since
// the verdict names the cameras a failure strands). The page follows the
// site's events with GET /v1/events?follow=1.
func (a *Agent) handleConsoleStream(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, api.Error{Error: "streaming unsupported"})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	var last []byte
	sendState := func() {
		body := a.stateFor(r)
		if bytes.Equal(body, last) {
			return
		}
		last = body
		w.Write([]byte("event: state\ndata: "))
		w.Write(bytes.ReplaceAll(bytes.TrimSpace(body), []byte("\n"), []byte("\ndata: ")))
		w.Write([]byte("\n\n"))
	}
	// The N+1 verdict depends only on the committed spec and the
	// balancing moves in force: it is checked again when they change.
	var (
		checked view
		sent    bool
	)
	id, _ := access.From(r.Context())
	sendNPlusOne := func() {
		if len(id.Cameras) > 0 {
			return
		}
		a.mu.Lock()
		v := a.view
		a.mu.Unlock()
		if sent && v.revision == checked.revision && slices.Equal(v.overrides, checked.overrides) {
			return
		}
		checked, sent = v, true
		var n *assign.NPlusOne
		if spec := v.spec(); spec != nil {
			n = assign.CheckNPlusOne(spec, v.overrides, time.Now())
		}
		body, _ := json.Marshal(n)
		fmt.Fprintf(w, "event: nplusone\ndata: %s\n\n", body)
	}
	changed := a.viewChanged()
	// The verdict first: a client reading up to the first state has it.
	sendNPlusOne()
	sendState()
	flusher.Flush()
	var due <-chan time.Time // a state to send once stateEvery has passed
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.ctx.Done():
			return
		case <-changed:
			changed = a.viewChanged()
			if due == nil {
				due = time.After(stateEvery)
			}
			continue
		case <-due:
			due = nil
			sendState()
			sendNPlusOne()
		case <-ping.C:
			w.Write([]byte(": ping\n\n")) // finds browsers that went away
		}
		flusher.Flush()
	}
}

// handleLive streams a camera's live video to a page (a WebSocket; see
// console.ServeLive) from this server's recording session, or through the
// server that records it.
func (a *Agent) handleLive(w http.ResponseWriter, r *http.Request) {
	cam := r.PathValue("camera")
	a.mu.Lock()
	v, rec := a.view, a.rec
	a.mu.Unlock()
	if v.spec() == nil || v.spec().Camera(cam) == nil {
		writeError(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("no camera %q in the committed spec", cam)})
		return
	}
	conn, ctx, cancel, err := console.Upgrade(w, r)
	if err != nil {
		return // the upgrader answered
	}
	defer cancel()
	defer console.Close(conn)
	a.auditSession(r, api.AuditLive, cam, period{})
	if rec != nil {
		if view, err := rec.mgr.Live(cam, console.LiveQueue); err == nil {
			a.console.viewers.Add(1)
			a.console.viewersG.Inc()
			a.poke() // gossip the viewer count
			defer func() {
				a.console.viewers.Add(-1)
				a.console.viewersG.Dec()
				a.console.lost.Add(float64(view.Lost()))
				a.poke()
			}()
			console.ServeLive(ctx, conn, a.cfg.Server, cam, view)
			return
		}
	}
	if by := r.Header.Get(forwardedHeader); by != "" {
		console.SendHello(conn, console.Hello{Camera: cam, Error: fmt.Sprintf("%s sent the view of %s here, but %s does not record it", by, cam, a.cfg.Server)})
		return
	}
	name, addr := liveSource(v, cam, a.cfg.Server)
	if name == "" {
		console.SendHello(conn, console.Hello{Camera: cam, Error: fmt.Sprintf("%s is not recorded anywhere now", cam)})
		return
	}
	up := "wss://" + addr + "/v1/live/" + url.PathEscape(cam)
	hdr := http.Header{forwardedHeader: {a.cfg.Server}}
	a.peerAuth.sign(hdr)
	if err := console.Relay(ctx, conn, up, peerTLS(a.tls.ca), hdr); err != nil {
		console.SendHello(conn, console.Hello{Camera: cam, Error: fmt.Sprintf("cannot reach %s, which records %s: %v", name, cam, err)})
	}
}

// liveSource picks the peer whose recording of a camera a live view comes
// from: an alive server whose session is recording, its primary first.
func liveSource(v view, cam, self string) (name, addr string) {
	type cand struct {
		name string
		pos  int
	}
	var cands []cand
	for n, ms := range v.statuses {
		if n == self || v.members[n].Health != api.HealthAlive {
			continue
		}
		for _, s := range ms.Sessions {
			if s.Camera == cam && s.State == sessionRecording {
				cands = append(cands, cand{n, rolePos(s.Role)})
			}
		}
	}
	if len(cands) == 0 {
		return "", ""
	}
	slices.SortFunc(cands, func(x, y cand) int {
		if x.pos != y.pos {
			return x.pos - y.pos
		}
		if x.name < y.name {
			return -1
		}
		return 1
	})
	m := v.members[cands[0].name]
	return m.Name, net.JoinHostPort(m.Addr, strconv.Itoa(m.APIPort))
}

// handleConsoleExport answers GET /v1/console/export/CAMERA.zip?start=&end=
// (token) for the console's export button: the signed export of
// GET /v1/export/CAMERA.mp4, whose manifest comes as an HTTP trailer that
// browsers cannot read, as one zip of NAME.mp4 and NAME.mp4.json, the two
// files `vigil verify NAME.mp4` checks. The export is made through the API
// (api.Client.Export, on this agent) into a temporary file first.
func (a *Agent) handleConsoleExport(w http.ResponseWriter, r *http.Request) {
	camera, ok := strings.CutSuffix(r.PathValue("file"), ".zip")
	if !ok {
		writeError(w, http.StatusNotFound, api.Error{Error: "export /v1/console/export/CAMERA.zip?start=&end="})
		return
	}
	q := r.URL.Query()
	start, err1 := time.Parse(time.RFC3339Nano, q.Get("start"))
	end, err2 := time.Parse(time.RFC3339Nano, q.Get("end"))
	if err := errors.Join(err1, err2); err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: "start and end must be RFC 3339 times: " + err.Error()})
		return
	}
	tmp, err := os.CreateTemp("", "vigil-export-*.mp4")
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.Error{Error: err.Error()})
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	raw, err := api.NewClientHTTP(a.Addr(), "", a.peerHTTPFor(r)).Export(r.Context(), camera, start, end, "console user at "+host, tmp)
	if err != nil {
		writeError(w, http.StatusBadGateway, api.Error{Error: err.Error()})
		return
	}
	// The manifest file as vigil export writes it, for the MP4 received.
	var manifest []byte
	m, err := evidence.Received(raw, tmp.Name())
	if err == nil {
		manifest, err = m.Encode()
	}
	if err != nil {
		writeError(w, http.StatusBadGateway, api.Error{Error: "the export is damaged: " + err.Error()})
		return
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		writeError(w, http.StatusInternalServerError, api.Error{Error: err.Error()})
		return
	}
	name := camera + "-" + start.UTC().Format("20060102T150405Z")
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name+".zip"))
	zw := zip.NewWriter(w)
	mp4, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".mp4", Method: zip.Store, Modified: time.Now()})
	if err == nil {
		_, err = io.Copy(mp4, tmp)
	}
	if err == nil {
		var j io.Writer
		if j, err = zw.Create(name + ".mp4.json"); err == nil {
			_, err = j.Write(manifest)
		}
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		a.log.Warn("console export cut short", "camera", camera, "err", err)
	}
}
