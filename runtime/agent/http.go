package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/cluster"
	"vigil/runtime/console"
)

// forwardedHeader marks a request an agent forwarded to the master, so that
// it is never forwarded twice.
const forwardedHeader = "X-Vigil-Forwarded-By"

func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, endpoint string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			h(rw, r)
			a.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(rw.code)).Inc()
		})
	}
	handle("GET /v1/state", "state", a.handleState)
	handle("GET /v1/health", "health", a.handleHealth)
	handle("POST /v1/login", "login", a.login.sessions.ServeLogin)
	handle("POST /v1/logout", "logout", a.login.sessions.ServeLogout)
	handle("GET /v1/session", "session", a.login.sessions.ServeSession)
	handle("POST /v1/apply", "apply", a.requireToken(a.handleApply))
	handle("POST /v1/master/transfer", "master_transfer", a.requireToken(a.handleTransfer))
	handle("POST /v1/drain", "drain", a.requireToken(a.handleDrain))
	handle("GET /v1/events", "events", a.handleEvents)
	handle("POST /v1/alerts/test", "alert_test", a.requireToken(a.handleAlertTest))
	handle("POST /v1/config/import-report", "config_import_report", a.requireToken(a.handleConfigImportReport))
	handle("GET /v1/stats", "stats", a.handleStats)
	handle("GET /v1/gaps", "gaps", a.handleGaps)
	handle("GET /v1/stats/local", "stats_local", a.handleLocalStats)
	handle("GET /v1/balance/report", "balance_report", a.handleBalanceReport)
	handle("GET /v1/export/public-key", "export_public_key", a.handleExportPublicKey)
	handle("GET /v1/console/stream", "console_stream", a.handleConsoleStream)
	handle("GET /v1/live/{camera}", "live", a.handleLive)
	handle("GET /v1/console/export/{file}", "console_export", a.requireToken(a.handleConsoleExport))
	mux.Handle("GET /{$}", console.Handler())
	mux.Handle("GET /ui/", console.Handler())
	handle("GET /v1/recordings", "recordings", a.handleRecordings)
	handle("GET /v1/recordings/days", "recordings_days", a.handleRecordingDays)
	handle("GET /v1/recordings/local", "recordings_local", a.handleLocalRecordings)
	handle("POST /v1/holds/footage", "holds_footage", a.handleHoldFootage)
	handle("GET /v1/playback/{camera}/index.m3u8", "playback_hls", a.handlePlaylist)
	handle("GET /v1/playback/{file}", "playback_mp4", a.handleStream)
	handle("GET /v1/playback/media/{server}/{shift}/{path...}", "playback_media", a.handleMedia)
	handle("POST /v1/playback/local/layouts", "playback_layouts", a.handleLocalLayouts)
	handle("GET /v1/export/{file}", "export", a.requireToken(a.handleExport))
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.GathererFunc(a.gather), promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
	return mux
}

// gather collects the agent's metrics and those of its current recorder,
// which has a registry of its own because it is replaced when the storage
// configuration changes.
func (a *Agent) gather() ([]*dto.MetricFamily, error) {
	gs := prometheus.Gatherers{a.reg}
	a.mu.Lock()
	if a.rec != nil {
		gs = append(gs, a.rec.reg)
	}
	a.mu.Unlock()
	return gs.Gather()
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Hijack lets a live view take the connection over (a WebSocket).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (a *Agent) requireToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearerToken(r)
		if !ok || !a.cfg.checkToken(tok) {
			msg := "missing API token"
			if ok {
				msg = "wrong API token"
			}
			// One report a minute: a flood of refused requests must not
			// fill the log or push the real events out of the backlog.
			if pass, n := a.unauthGate.pass(); pass {
				a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventAPIUnauthorized, Message: fmt.Sprintf("refused %s %s from %s: %s%s", r.Method, r.URL.Path, r.RemoteAddr, msg, andMore(n))})
			}
			writeError(w, http.StatusUnauthorized, api.Error{Error: msg})
			return
		}
		h(w, r)
	}
}

// bearerToken is the token of an "Authorization: Bearer TOKEN" header; the
// scheme is case-insensitive (RFC 9110, section 11.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// handleState answers GET /v1/state from the encoding of the last view,
// which is encoded again only when a reconcile pass changed the view (or
// the config error changed): a site of thousands of cameras makes a state
// of megabytes, and planners and status pollers ask for it often.
//
// A caller with the API token also gets the key of the spec's fingerprints
// (api.State.FingerprintKey), so that its plan can compare secrets.
func (a *Agent) handleState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	body := a.encodedState()
	if a.mayApply(r) {
		body = withFingerprintKey(body, a.fpKey)
	}
	w.Write(body)
}

// stateCache is the last encoded answer of GET /v1/state.
type stateCache struct {
	mu        sync.Mutex // held while encoding: concurrent requests wait for one encoding
	gen       uint64
	configErr string
	domain    *api.DomainTree
	body      []byte
}

func (a *Agent) encodedState() []byte {
	a.mu.Lock()
	gen, configErr, domain := a.view.gen, a.configErr, a.domain
	a.mu.Unlock()
	c := &a.stateCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && c.gen == gen && c.configErr == configErr && c.domain == domain {
		return c.body
	}
	// State reads the view again: it may be newer than gen, never older,
	// so the cache can at worst hold a newer answer under an older key.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.Encode(a.State())
	c.gen, c.configErr, c.domain, c.body = gen, configErr, domain, buf.Bytes()
	return c.body
}

func (a *Agent) handleHealth(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	v := a.view
	a.mu.Unlock()
	h := api.Health{Status: "ok", Server: a.cfg.Server, Site: a.cfg.Site, Version: a.cfg.Version, Revision: v.revision, Master: v.master}
	switch {
	case v.spec() == nil:
		h.Status, h.Message = "waiting", WaitingMessage
	case v.err != "":
		h.Status, h.Message = "degraded", v.err
	}
	writeJSON(w, http.StatusOK, h)
}

func (a *Agent) handleApply(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxBody)
	if !ok {
		return
	}
	var req api.ApplyRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: "the request is not an apply request: " + err.Error()})
		return
	}
	if req.Spec.Name != a.cfg.Site {
		writeError(w, http.StatusUnprocessableEntity, api.Error{Error: fmt.Sprintf("the spec is for site %q but this agent belongs to site %q", req.Spec.Name, a.cfg.Site)})
		return
	}
	spec.ApplyDefaults(&req.Spec)
	if diags := hcl.ValidateSite(&req.Spec); diags.HasErrors() {
		writeError(w, http.StatusUnprocessableEntity, api.Error{Error: "the spec is invalid", Diagnostics: hcl.DiagnosticsJSON(diags)})
		return
	}
	if diags := passwordHashes(&req.Spec); len(diags) > 0 {
		writeError(w, http.StatusUnprocessableEntity, api.Error{Error: "the spec is invalid", Diagnostics: diags})
		return
	}
	// Forward to the master when there is one elsewhere. Without a known
	// master, commit here: on a fresh site this bootstraps the quorum, and
	// otherwise the cluster explains why there is no master.
	if name, _ := a.cl.Leader(); name != "" && name != a.cfg.Server {
		a.forward(w, r, body)
		return
	}
	if diags := a.keepPasswords(&req.Spec); len(diags) > 0 {
		writeError(w, http.StatusUnprocessableEntity, api.Error{Error: "the spec is invalid", Diagnostics: diags})
		return
	}
	rev, err := a.cl.Apply(r.Context(), req.Spec, req.BaseRevision)
	var stale *cluster.StaleError
	switch {
	case err == nil:
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventConfigApplied, Message: fmt.Sprintf("committed revision %d (planned against %d)", rev, req.BaseRevision)})
		writeJSON(w, http.StatusOK, api.ApplyResponse{Revision: rev})
		a.poke()
	case errors.As(err, &stale):
		writeError(w, http.StatusConflict, api.Error{
			Error:    fmt.Sprintf("stale apply: planned against revision %d but revision %d is committed", stale.Base, stale.Current),
			Revision: stale.Current, BaseRevision: stale.Base,
		})
	case errors.Is(err, cluster.ErrNotLeader):
		a.forward(w, r, body)
	case errors.Is(err, cluster.ErrNoQuorum):
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: err.Error() + "; recording continues, retry when more servers are up"})
	default:
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: "the change was not committed: " + err.Error()})
	}
}

func (a *Agent) noQuorumMessage(err error) string {
	a.mu.Lock()
	v := a.view
	a.mu.Unlock()
	alive, total := 0, len(v.members)
	for _, m := range v.members {
		if m.Health == api.HealthAlive {
			alive++
		}
	}
	if v.spec() != nil {
		total = 0
		for _, s := range v.spec().Servers {
			if s.Kind != spec.KindVirtual {
				total++
			}
		}
	}
	return fmt.Sprintf("the site cannot commit changes now (no quorum: %d of %d servers reachable): %v; recording continues, retry when more servers are up", alive, total, err)
}

func (a *Agent) handleTransfer(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, 1<<20)
	if !ok {
		return
	}
	var req api.TransferRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Server == "" {
		writeError(w, http.StatusBadRequest, api.Error{Error: `the request must name the server that becomes master: {"server": "NAME"}`})
		return
	}
	if !a.cl.IsLeader() {
		a.forward(w, r, body)
		return
	}
	if req.Server == a.cfg.Server {
		writeJSON(w, http.StatusOK, api.TransferResponse{Master: a.cfg.Server})
		return
	}
	if err := a.cl.TransferLeadership(req.Server); err != nil {
		code := http.StatusServiceUnavailable
		if st := a.cl.State(); st.Spec != nil && st.Spec.Server(req.Server) == nil {
			code = http.StatusNotFound
		}
		writeError(w, code, api.Error{Error: fmt.Sprintf("cannot make %s the master: %v", req.Server, err)})
		return
	}
	a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventMasterTransfer, Message: fmt.Sprintf("master role handed to %s", req.Server)})
	writeJSON(w, http.StatusOK, api.TransferResponse{Master: req.Server})
}

// forward sends a state-changing request to the master and relays its
// answer, so that a client can talk to any agent.
func (a *Agent) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	if by := r.Header.Get(forwardedHeader); by != "" {
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("%s forwarded this request believing %s is the master, but it is not (the master is changing); retry", by, a.cfg.Server)})
		return
	}
	name, addr := a.cl.Leader()
	if name == "" || addr == "" || name == a.cfg.Server {
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: a.noQuorumMessage(errors.New("no master is elected"))})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, a.peerURL(addr)+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.Error{Error: err.Error()})
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Header.Set(forwardedHeader, a.cfg.Server)
	resp, err := a.peerHTTP.Do(req)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: fmt.Sprintf("cannot reach the master %s at %s: %v", name, addr, err), Master: addr})
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// handleEvents streams this agent's recent events and the new ones; with
// query parameters it answers for the whole site (handleEventHistory).
func (a *Agent) handleEvents(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		a.handleEventHistory(w, r)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, api.Error{Error: "streaming unsupported"})
		return
	}
	backlog, ch, cancel := a.events.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for _, ev := range backlog {
		enc.Encode(ev)
	}
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.ctx.Done():
			return
		case ev := <-ch:
			if enc.Encode(ev) != nil {
				return
			}
			flusher.Flush()
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, e api.Error) { writeJSON(w, code, e) }
