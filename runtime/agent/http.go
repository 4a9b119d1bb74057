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
	"vigil/runtime/access"
	"vigil/runtime/api"
	"vigil/runtime/cluster"
	"vigil/runtime/console"
)

// forwardedHeader marks a request an agent forwarded to the master, so that
// it is never forwarded twice.
const forwardedHeader = "X-Vigil-Forwarded-By"

// routeTable is every endpoint of the API with its permission: the one
// place that says who may do what. A viewer reads the state and watches
// (live, playback) the cameras it may see; an operator also exports and
// reads the events; an admin also changes the site (apply, master
// transfer, drain, alert test). The servers of the site call each other
// as admins (kind "peer"; the /local endpoints are theirs).
func (a *Agent) routeTable() []route {
	h := func(f http.HandlerFunc) http.Handler { return f }
	return []route{
		{pattern: "GET /v1/health", endpoint: "health", public: true, handler: h(a.handleHealth)},
		{pattern: "POST /v1/login", endpoint: "login", public: true, handler: h(a.login.sessions.ServeLogin)},
		{pattern: "POST /v1/logout", endpoint: "logout", public: true, handler: h(a.login.sessions.ServeLogout)},
		{pattern: "GET /v1/session", endpoint: "session", public: true, handler: h(a.login.sessions.ServeSession)},
		{pattern: "GET /v1/state", endpoint: "state", need: access.Viewer, cameras: listsCameras, handler: h(a.handleState)},
		{pattern: "POST /v1/apply", endpoint: "apply", need: access.Admin, cameras: allCameras, handler: h(a.handleApply)},
		{pattern: "POST /v1/master/transfer", endpoint: "master_transfer", need: access.Admin, handler: h(a.handleTransfer)},
		{pattern: "POST /v1/drain", endpoint: "drain", need: access.Admin, handler: h(a.handleDrain)},
		{pattern: "POST /v1/alerts/test", endpoint: "alert_test", need: access.Admin, handler: h(a.handleAlertTest)},
		{pattern: "POST /v1/config/import-report", endpoint: "config_import_report", need: access.Admin, handler: h(a.handleConfigImportReport)},
		{pattern: "GET /v1/events", endpoint: "events", need: access.Operator, cameras: listsCameras, handler: h(a.handleEvents)},
		{pattern: "GET /v1/stats", endpoint: "stats", need: access.Viewer, cameras: allCameras, handler: h(a.handleStats)},
		{pattern: "GET /v1/gaps", endpoint: "gaps", need: access.Viewer, cameras: allCameras, handler: h(a.handleGaps)},
		{pattern: "GET /v1/stats/local", endpoint: "stats_local", need: access.Admin, handler: h(a.handleLocalStats)},
		{pattern: "GET /v1/balance/report", endpoint: "balance_report", need: access.Operator, cameras: allCameras, handler: h(a.handleBalanceReport)},
		{pattern: "GET /v1/export/public-key", endpoint: "export_public_key", need: access.Viewer, handler: h(a.handleExportPublicKey)},
		{pattern: "GET /v1/console/stream", endpoint: "console_stream", need: access.Viewer, cameras: listsCameras, handler: h(a.handleConsoleStream)},
		{pattern: "GET /v1/live/{camera}", endpoint: "live", need: access.Viewer, cameras: oneCamera, camera: pathCamera, handler: h(a.handleLive)},
		{pattern: "GET /v1/console/export/{file}", endpoint: "console_export", need: access.Operator, cameras: oneCamera, camera: fileCamera, handler: h(a.handleConsoleExport)},
		{pattern: "GET /{$}", endpoint: "console", public: true, handler: console.Handler()},
		{pattern: "GET /ui/", endpoint: "console", public: true, handler: console.Handler()},
		{pattern: "GET /v1/recordings", endpoint: "recordings", need: access.Viewer, cameras: oneCamera, camera: queryCamera, handler: h(a.handleRecordings)},
		{pattern: "GET /v1/recordings/days", endpoint: "recordings_days", need: access.Viewer, cameras: oneCamera, camera: queryCamera, handler: h(a.handleRecordingDays)},
		{pattern: "GET /v1/recordings/local", endpoint: "recordings_local", need: access.Admin, handler: h(a.handleLocalRecordings)},
		{pattern: "POST /v1/holds/footage", endpoint: "holds_footage", need: access.Operator, cameras: allCameras, handler: h(a.handleHoldFootage)},
		{pattern: "GET /v1/playback/{camera}/index.m3u8", endpoint: "playback_hls", need: access.Viewer, cameras: oneCamera, camera: pathCamera, handler: h(a.handlePlaylist)},
		{pattern: "GET /v1/playback/{file}", endpoint: "playback_mp4", need: access.Viewer, cameras: oneCamera, camera: fileCamera, handler: h(a.handleStream)},
		{pattern: "GET /v1/playback/media/{server}/{shift}/{path...}", endpoint: "playback_media", need: access.Viewer, cameras: oneCamera, camera: mediaCamera, handler: h(a.handleMedia)},
		{pattern: "POST /v1/playback/local/layouts", endpoint: "playback_layouts", need: access.Admin, handler: h(a.handleLocalLayouts)},
		{pattern: "GET /v1/export/{file}", endpoint: "export", need: access.Operator, cameras: oneCamera, camera: fileCamera, handler: h(a.handleExport)},
		{pattern: "GET /v1/audit", endpoint: "audit", need: access.Admin, handler: h(a.handleAudit)},
		{pattern: "POST /v1/audit/entries", endpoint: "audit_entries", need: access.Admin, handler: h(a.handleAuditEntries)},
		// Any caller, the metrics token included.
		{pattern: "GET /metrics", endpoint: "metrics", cameras: noCameras, handler: promhttp.HandlerFor(prometheus.GathererFunc(a.gather), promhttp.HandlerOpts{})},
		{pattern: "/", endpoint: "not_found", public: true, handler: h(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
		})},
	}
}

func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range a.routeTable() {
		h := a.authorize(rt)
		mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
			h.ServeHTTP(rw, r)
			a.metrics.requests.WithLabelValues(rt.endpoint, strconv.Itoa(rw.code)).Inc()
		})
	}
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
	body := a.stateFor(r)
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
		a.auditRequest(r, api.AuditEntry{Kind: api.AuditApply, BaseRevision: req.BaseRevision, Revision: rev, Checksum: specChecksum(&req.Spec, a.fp)})
		writeJSON(w, http.StatusOK, api.ApplyResponse{Revision: rev})
		a.poke()
	case errors.As(err, &stale):
		writeError(w, http.StatusConflict, api.Error{
			Error:    fmt.Sprintf("stale apply: planned against revision %d but revision %d is committed", stale.Base, stale.Current),
			Revision: stale.Current, BaseRevision: stale.Base,
		})
	case errors.Is(err, cluster.ErrNotLeader):
		a.forward(w, r, body)
	case errors.Is(err, cluster.ErrOutcomeUnknown):
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: err.Error(), OutcomeUnknown: true})
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
	a.auditRequest(r, api.AuditEntry{Kind: api.AuditMasterTransfer, Target: req.Server})
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
	req.Header.Set(forwardedHeader, a.cfg.Server)
	// The master admits this server as a peer and checks the permissions
	// of the client it acts for: no client's token is passed on.
	resp, err := a.peerHTTPFor(r).Do(req)
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
	send := a.eventSender(w, r)
	for _, ev := range backlog {
		send(ev)
	}
	flusher.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.ctx.Done():
			return
		case ev := <-ch:
			if send(ev) != nil {
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
