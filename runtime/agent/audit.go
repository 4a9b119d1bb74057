package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// The audit log: who applied, moved the master, exported, played back and
// watched live, and who was refused. Handlers record entries with
// a.audit.record, which never blocks on the network or on raft: the
// auditor queues them, and every auditFlush sends what it holds as one
// batch to the master, which commits it to the replicated state
// (cluster.AppendAudit); a batch that fails is sent again, with the same
// sequence number, until the master has it.
//
// A flood cannot grow the log without bound. An entry identical to one
// already sent in the same minute (same kind, caller, address, camera,
// detail) is not sent again: the repeats are counted and sent as one
// aggregated entry (Count, Time to Last) when the minute ends. A server
// itemises at most auditBudget entries a minute, of which at most
// auditNoisyBudget failed logins and refusals (anyone can cause those);
// past them, entries are only counted, per kind, in one audit.overflow
// entry a minute that says how many, from how many addresses. The
// replicated log keeps at most cluster.MaxAuditEntries.
const (
	auditFlush       = time.Second
	auditWindow      = time.Minute
	auditBudget      = 300
	auditNoisyBudget = 60
	// auditSessionGap: a playback or live view of the same camera by the
	// same caller from the same address less than this after the previous
	// request is the same session (an HLS player polls its playlist every
	// few seconds), recorded once.
	auditSessionGap = 10 * time.Minute
	// auditMaxSessions bounds the sessions remembered; past it, every
	// request is a new session (more entries, never fewer).
	auditMaxSessions = 10_000
	// auditMaxQueued bounds the entries held while no master takes them;
	// past it the oldest are lost, and an audit.overflow entry says so.
	auditMaxQueued = 10_000
	// auditMaxBatch bounds one batch.
	auditMaxBatch = 1_000
	// auditQueryLimit is the default limit of GET /v1/audit.
	auditQueryLimit = 10_000
	// auditSummaryNames is how many users and addresses an overflow
	// entry names.
	auditSummaryNames = 5
)

// auditKey identifies entries that are the same but for their time.
type auditKey struct {
	kind, user, userKind, address, camera, target, detail string
	start, end                                            int64
	base, rev                                             uint64
	checksum                                              string
}

func keyOf(e api.AuditEntry) auditKey {
	return auditKey{e.Kind, e.User, e.UserKind, e.Address, e.Camera, e.Target, e.Detail,
		e.Start.UnixNano(), e.End.UnixNano(), e.BaseRevision, e.Revision, e.Checksum}
}

// overflowCount counts one kind's entries past the budget of a minute.
type overflowCount struct {
	n           int
	first, last time.Time
	users       map[string]bool
	addrs       map[string]bool
}

type sessionKey struct{ kind, user, address, camera string }

// auditor queues a server's audit entries and sends them to the master.
type auditor struct {
	server string
	boot   string
	now    func() time.Time
	send   func(context.Context, api.AuditBatch) error
	// lostReport is told of entries lost while no master took them.
	lostReport func(n int)

	// windowLen is auditWindow (tests shorten it).
	windowLen time.Duration

	mu       sync.Mutex
	seq      uint64
	unsent   *api.AuditBatch // a batch the master did not confirm
	queued   []api.AuditEntry
	window   time.Time
	itemised int
	noisy    int
	repeats  map[auditKey]*api.AuditEntry // keys itemised in the window; their repeats
	over     map[string]*overflowCount
	sessions map[sessionKey]time.Time
	lost     int
	lostFrom time.Time
	lostTo   time.Time

	kick     chan struct{}
	recorded *prometheus.CounterVec
	counted  prometheus.Counter
	lostC    prometheus.Counter
}

func newAuditor(server string, reg prometheus.Registerer, send func(context.Context, api.AuditBatch) error) *auditor {
	var b [8]byte
	rand.Read(b[:])
	au := &auditor{
		server: server, boot: hex.EncodeToString(b[:]), now: time.Now, send: send, windowLen: auditWindow,
		repeats: map[auditKey]*api.AuditEntry{}, over: map[string]*overflowCount{}, sessions: map[sessionKey]time.Time{},
		kick: make(chan struct{}, 1),
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_audit_entries_total", Help: "Audit entries this server recorded, by kind (repeats and entries past the bound included).",
		}, []string{"kind"}),
		counted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_audit_not_itemised_total", Help: "Audit entries only counted (aggregated repeats, or past this server's bound of entries a minute).",
		}),
		lostC: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_audit_lost_total", Help: "Audit entries lost because no master took them before the queue was full.",
		}),
	}
	reg.MustRegister(au.recorded, au.counted, au.lostC)
	return au
}

func noisyKind(kind string) bool {
	return kind == api.AuditLoginFailed || kind == api.AuditAccessDenied
}

// record queues e (its Time and Server are filled in). It never blocks.
func (au *auditor) record(e api.AuditEntry) {
	now := au.now()
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Server = au.server
	au.recorded.WithLabelValues(e.Kind).Inc()
	au.mu.Lock()
	defer au.mu.Unlock()
	au.roll(now)
	k := keyOf(e)
	if rep, ok := au.repeats[k]; ok {
		if rep.Count == 0 {
			*rep = e
		}
		rep.Count++
		rep.Last = e.Time
		au.counted.Inc()
		return
	}
	if au.itemised >= auditBudget || noisyKind(e.Kind) && au.noisy >= auditNoisyBudget {
		o := au.over[e.Kind]
		if o == nil {
			o = &overflowCount{first: e.Time, users: map[string]bool{}, addrs: map[string]bool{}}
			au.over[e.Kind] = o
		}
		o.n++
		o.last = e.Time
		// Distinct names are counted up to a bound: a flood of made-up
		// names must not grow the map.
		if len(o.users) < auditMaxSessions {
			o.users[e.User] = true
		}
		if len(o.addrs) < auditMaxSessions {
			o.addrs[e.Address] = true
		}
		au.counted.Inc()
		return
	}
	au.itemised++
	if noisyKind(e.Kind) {
		au.noisy++
	}
	au.repeats[k] = &api.AuditEntry{}
	au.queue(e)
	select {
	case au.kick <- struct{}{}:
	default:
	}
}

// queue adds ready entries, losing the oldest past auditMaxQueued. Called
// with au.mu held.
func (au *auditor) queue(es ...api.AuditEntry) {
	au.queued = append(au.queued, es...)
	if n := len(au.queued) - auditMaxQueued; n > 0 {
		if au.lost == 0 {
			au.lostFrom = au.queued[0].Time
		}
		au.lost += n
		au.lostTo = au.queued[n-1].Time
		au.queued = slices.Delete(au.queued, 0, n)
		au.lostC.Add(float64(n))
		if au.lostReport != nil {
			au.lostReport(n)
		}
	}
}

// roll ends the minute when it is over: the repeats and the entries past
// the budget become entries. Called with au.mu held.
func (au *auditor) roll(now time.Time) {
	if now.Sub(au.window) < au.windowLen {
		return
	}
	var out []api.AuditEntry
	for _, rep := range au.repeats {
		if rep.Count > 0 {
			e := *rep
			e.Detail = strings.TrimSpace(e.Detail + fmt.Sprintf(" [aggregated: the same %d more times within a minute]", e.Count))
			out = append(out, e)
		}
	}
	for kind, o := range au.over {
		e := api.AuditEntry{Time: o.first, Last: o.last, Count: o.n, Kind: api.AuditOverflow, Server: au.server,
			Detail: fmt.Sprintf("%d %s entries not itemised: over %s's bound of %d entries a minute (%d failed logins and refusals); from %s, as %s",
				o.n, kind, au.server, auditBudget, auditNoisyBudget, names(o.addrs, "address", "addresses"), names(o.users, "user", "users"))}
		out = append(out, e)
	}
	api.SortAudit(out)
	au.queue(out...)
	au.window, au.itemised, au.noisy = now, 0, 0
	clear(au.repeats)
	clear(au.over)
	for k, t := range au.sessions {
		if now.Sub(t) >= auditSessionGap {
			delete(au.sessions, k)
		}
	}
}

// names is "3 addresses (a, b, c)", naming at most auditSummaryNames.
func names(set map[string]bool, one, many string) string {
	var l []string
	for n := range set {
		if n == "" {
			n = "(none)"
		}
		l = append(l, n)
	}
	slices.Sort(l)
	word := many
	if len(l) == 1 {
		word = one
	}
	more := ""
	if len(l) > auditSummaryNames {
		l, more = l[:auditSummaryNames], ", …"
	}
	return fmt.Sprintf("%d %s (%s%s)", len(set), word, strings.Join(l, ", "), more)
}

// session reports whether a request of a playback or live view starts a
// session (see auditSessionGap), and remembers it.
func (au *auditor) session(kind, user, address, camera string) bool {
	now := au.now()
	k := sessionKey{kind, user, address, camera}
	au.mu.Lock()
	defer au.mu.Unlock()
	last, ok := au.sessions[k]
	if ok || len(au.sessions) < auditMaxSessions {
		au.sessions[k] = now
	}
	return !ok || now.Sub(last) >= auditSessionGap
}

// flush sends the unconfirmed batch, or a new one of the queued entries.
func (au *auditor) flush(ctx context.Context) error {
	au.mu.Lock()
	au.roll(au.now())
	if au.unsent == nil && (len(au.queued) > 0 || au.lost > 0) {
		n := min(len(au.queued), auditMaxBatch)
		es := slices.Clone(au.queued[:n])
		au.queued = slices.Delete(au.queued, 0, n)
		if au.lost > 0 {
			es = append(es, api.AuditEntry{Time: au.lostFrom, Last: au.lostTo, Count: au.lost, Kind: api.AuditOverflow, Server: au.server,
				Detail: fmt.Sprintf("%d audit entries lost: no master took them before %s's queue of %d was full", au.lost, au.server, auditMaxQueued)})
			au.lost = 0
		}
		au.seq++
		au.unsent = &api.AuditBatch{Server: au.server, Boot: au.boot, Seq: au.seq, Entries: es}
	}
	b := au.unsent
	au.mu.Unlock()
	if b == nil {
		return nil
	}
	if err := au.send(ctx, *b); err != nil {
		return err
	}
	au.mu.Lock()
	au.unsent = nil
	au.mu.Unlock()
	return nil
}

// run flushes every auditFlush (sooner after a new entry, at most one
// batch per auditFlush) until ctx ends.
func (au *auditor) run(ctx context.Context, log func(error)) {
	t := time.NewTicker(auditFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-au.kick:
		}
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := au.flush(fctx); err != nil && ctx.Err() == nil {
			log(err)
		}
		cancel()
		// At most one batch per auditFlush: a flood of new entries waits.
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sendAudit commits a batch: here when this server is the master, else
// through the master's API.
func (a *Agent) sendAudit(ctx context.Context, b api.AuditBatch) error {
	name, addr := a.cl.Leader()
	if name == "" || name == a.cfg.Server {
		return a.cl.AppendAudit(ctx, b)
	}
	return a.peerClient(addr).AppendAudit(ctx, b)
}

// auditLoop runs the agent's auditor; a run of failures is logged once a
// minute.
func (a *Agent) auditLoop(ctx context.Context) {
	var gate minuteGate
	a.audit.run(ctx, func(err error) {
		if ok, n := gate.pass(); ok {
			a.log.Warn("audit entries wait for the master", "err", err, "queued", a.audit.pending(), "failures", n+1)
		}
	})
}

// pending is the number of entries not yet confirmed by the master.
func (au *auditor) pending() int {
	au.mu.Lock()
	defer au.mu.Unlock()
	n := len(au.queued)
	if au.unsent != nil {
		n += len(au.unsent.Entries)
	}
	return n
}

// caller is who made r, for the audit log: the identity the API's
// authentication stored in the request (access.From; a request a peer
// forwarded for a client carries that client's identity and address);
// without one (a refused request), "anonymous". The address is where the
// request came from when the identity has none.
func (a *Agent) caller(r *http.Request) access.Identity {
	id, ok := access.From(r.Context())
	if !ok {
		id = access.Identity{Name: anonymousName}
	}
	if id.Address == "" {
		id.Address = remoteIP(r)
	}
	return id
}

// auditRequest records e made by r's caller.
func (a *Agent) auditRequest(r *http.Request, e api.AuditEntry) {
	id := a.caller(r)
	e.User, e.UserKind, e.Address = id.Name, id.Kind, id.Address
	a.audit.record(e)
}

// auditRefusal records a request refused with code (401 or 403) and msg:
// a 401 of a request that presented a token is a failed login, any other
// refusal (no credentials, a session that ended, a role or camera the
// caller lacks) access denied.
func (a *Agent) auditRefusal(r *http.Request, code int, msg string) {
	kind := api.AuditAccessDenied
	if _, tok := bearerToken(r); tok && code == http.StatusUnauthorized {
		kind = api.AuditLoginFailed
	}
	a.auditRequest(r, api.AuditEntry{Kind: kind, Detail: fmt.Sprintf("%s %s: %s", r.Method, r.URL.Path, msg)})
}

// auditSession records the start of a playback or live session of camera
// by r's caller (once per session: auditSessionGap); a request of a peer
// (a live view it relays) was recorded by the server the viewer reached.
func (a *Agent) auditSession(r *http.Request, kind, camera string, p period) {
	id := a.caller(r)
	if id.Kind == "peer" {
		return
	}
	if a.audit.session(kind, id.Name, id.Address, camera) {
		a.auditRequest(r, api.AuditEntry{Kind: kind, Camera: camera, Start: p.start.UTC(), End: p.end.UTC()})
	}
}

// specChecksum is the SHA-256 of spec's compact JSON as GET /v1/state
// shows it (secrets as fingerprints made with fp), the checksum of an
// apply's entry.
func specChecksum(s *spec.Site, fp spec.Fingerprinter) string {
	b, err := json.Marshal(s.Redacted(fp))
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// handleAudit answers GET /v1/audit?since=&until=&user=&kind=&limit= from
// this server's copy of the replicated audit log.
func (a *Agent) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := time.Now()
	f := api.AuditFilter{User: q.Get("user"), Kind: q.Get("kind")}
	var err error
	if f.Since, err = api.ParseTime(q.Get("since"), now); err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: "since: " + err.Error()})
		return
	}
	if f.Until, err = api.ParseTime(q.Get("until"), now); err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: "until: " + err.Error()})
		return
	}
	if !api.ValidKindPattern(f.Kind) {
		writeError(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("kind %q is not a valid pattern (kinds: %s)", f.Kind, strings.Join(api.AuditKinds, ", "))})
		return
	}
	limit := auditQueryLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit <= 0 {
			writeError(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("limit=%q is not a positive number", s)})
			return
		}
	}
	writeJSON(w, http.StatusOK, a.cl.Audit(f, limit))
}

// handleAuditEntries answers POST /v1/audit/entries (api.AuditBatch):
// another server's audit entries, committed by the master.
func (a *Agent) handleAuditEntries(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: "reading request: " + err.Error()})
		return
	}
	var b api.AuditBatch
	if err := json.Unmarshal(body, &b); err != nil || b.Server == "" || b.Boot == "" || len(b.Entries) > auditMaxBatch+1 {
		writeError(w, http.StatusBadRequest, api.Error{Error: fmt.Sprintf("the request is not a batch of audit entries (server, boot, seq, at most %d entries)", auditMaxBatch)})
		return
	}
	if !a.cl.IsLeader() {
		a.forward(w, r, body)
		return
	}
	if err := a.cl.AppendAudit(r.Context(), b); err != nil {
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: "the audit entries were not committed: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// auditLost reports entries lost while no master took them (an event a
// minute at most; the metric counts every one).
func (a *Agent) auditLost(n int) {
	if ok, more := a.auditGate.pass(); ok {
		a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventAuditLost, Message: fmt.Sprintf(
			"%d audit entries lost: no master took them and %s's queue of %d is full (an audit.overflow entry will say so)%s", n, a.cfg.Server, auditMaxQueued, andMore(more))})
	}
}

// flushAudit sends what the auditor holds before the agent stops.
func (a *Agent) flushAudit() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.audit.flush(ctx); err != nil {
		a.log.Warn("audit entries not sent before stopping", "err", err, "queued", a.audit.pending())
	}
}
