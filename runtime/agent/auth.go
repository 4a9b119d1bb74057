package agent

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// Authentication and permissions of the API. Every request passes through
// Agent.authorize, the one place that decides who is calling (a bearer
// token, another server of the site, or nobody) and whether that caller
// may use the endpoint, as its route says. The caller's identity goes into
// the request's context (access.WithIdentity), where handlers that list
// cameras, the audit log and the console read it.

// Headers of requests between the servers of a site.
const (
	// peerHeader names the server a peer request comes from.
	peerHeader = "X-Vigil-Server"
	// onBehalfHeader carries, on a request a server forwards for a client
	// (an apply to the master), the client's identity as JSON: the master
	// checks that identity's permissions and records it, not the
	// forwarding server's.
	onBehalfHeader = "X-Vigil-On-Behalf-Of"
)

// Names of the identities that are neither users nor named tokens.
const (
	// agentTokenName is the agent configuration's token (VIGIL_TOKEN): an
	// admin.
	agentTokenName = "agent-token"
	// metricsTokenName is the agent configuration's metrics_token: it may
	// read /metrics and nothing else (it has no role).
	metricsTokenName = "metrics-token"
	// anonymousName is a caller without credentials in the audit log (a
	// refused request).
	anonymousName = "anonymous"
)

// cameraScope says how an endpoint deals with cameras, for identities
// that may see only some (access.Identity.Cameras).
type cameraScope int

const (
	// noCameras: the endpoint shows no camera's footage or state.
	noCameras cameraScope = iota
	// oneCamera: the endpoint is about the one camera route.camera names;
	// asking for a camera the caller may not see is refused (403).
	oneCamera
	// listsCameras: the handler shows only the cameras the caller may see
	// (it reads the identity from the request's context).
	listsCameras
	// allCameras: the endpoint shows every camera's data and only callers
	// who may see every camera may use it.
	allCameras
)

// route is one endpoint of the API with its permission.
type route struct {
	pattern string // http.ServeMux pattern
	// endpoint labels the endpoint's metrics.
	endpoint string
	// public: no credential is needed (GET /v1/health, the console's
	// page, which shows its login form, and the login itself).
	public bool
	// need is the least role that may use the endpoint; "" means any
	// authenticated caller, the metrics token included.
	need    access.Role
	cameras cameraScope
	// camera names the camera a oneCamera request is about.
	camera  func(*http.Request) string
	handler http.Handler
}

// Camera extractors of the routes.
func pathCamera(r *http.Request) string  { return r.PathValue("camera") }
func queryCamera(r *http.Request) string { return r.URL.Query().Get("camera") }

// fileCamera is the camera of a path's {file}: CAMERA.mp4, CAMERA.zip.
func fileCamera(r *http.Request) string {
	f := r.PathValue("file")
	if i := strings.LastIndexByte(f, '.'); i > 0 {
		return f[:i]
	}
	return f
}

// mediaCamera is the camera of a segment's path: CAMERA/DATE/FILE.
func mediaCamera(r *http.Request) string {
	cam, _, _ := strings.Cut(r.PathValue("path"), "/")
	return cam
}

// authorize wraps a route's handler with its authentication and
// permission check.
func (a *Agent) authorize(rt route) http.Handler {
	if rt.public {
		return rt.handler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, id, err := a.authenticate(r)
		if err != "" {
			a.refuse(w, r, rt, http.StatusUnauthorized, "unauthenticated", err)
			return
		}
		r = r.WithContext(access.WithIdentity(r.Context(), id))
		if rt.need != "" && !id.Role.Allows(rt.need) {
			a.refuse(w, r, rt, http.StatusForbidden, "role", fmt.Sprintf("%s may not use %s %s: it needs the %s role", who(id), r.Method, r.URL.Path, rt.need))
			return
		}
		switch rt.cameras {
		case oneCamera:
			if cam := rt.camera(r); cam != "" && !id.CanSee(cam) {
				a.refuse(w, r, rt, http.StatusForbidden, "camera", fmt.Sprintf("%s may not see camera %q", who(id), cam))
				return
			}
		case allCameras:
			if len(id.Cameras) > 0 {
				a.refuse(w, r, rt, http.StatusForbidden, "camera", fmt.Sprintf("%s may see only some cameras, and %s %s shows them all", who(id), r.Method, r.URL.Path))
				return
			}
		}
		rt.handler.ServeHTTP(w, r)
	})
}

// who names an identity in a refusal.
func who(id access.Identity) string {
	if id.Role == "" {
		return fmt.Sprintf("%s %q", id.Kind, id.Name)
	}
	return fmt.Sprintf("%s %q (%s)", id.Kind, id.Name, id.Role)
}

// authenticate returns the caller's identity, or why it has none: a
// bearer token, else the console's session cookie. A request of a session
// comes back bound to it (access.Sessions.Bind): a stream it opens ends
// with the session.
func (a *Agent) authenticate(r *http.Request) (*http.Request, access.Identity, string) {
	addr := remoteIP(r)
	tok, ok := bearerToken(r)
	if !ok {
		if r, id, ok := a.login.sessions.Bind(r); ok {
			return r, id, ""
		}
		return r, access.Identity{}, "missing credentials: log in to the console, or send a token (Authorization: Bearer, as vigil does with VIGIL_TOKEN)"
	}
	id, ok := a.identifyToken(r, tok)
	if !ok {
		return r, access.Identity{}, "wrong API token"
	}
	if id.Address == "" {
		id.Address = addr
	}
	return r, id, ""
}

// identifyToken finds whose token tok is: the agent configuration's token,
// another server of the site (which may act for a client it forwards),
// the metrics token, or a token block of the committed spec. Every
// comparison takes constant time.
func (a *Agent) identifyToken(r *http.Request, tok string) (access.Identity, bool) {
	switch {
	case a.cfg.checkToken(tok):
		return access.Identity{Name: agentTokenName, Kind: "token", Role: access.Admin}, true
	case subtle.ConstantTimeCompare([]byte(tok), []byte(a.peerToken)) == 1:
		if h := r.Header.Get(onBehalfHeader); h != "" {
			var id access.Identity
			if json.Unmarshal([]byte(h), &id) == nil && id.Name != "" {
				return id, true
			}
		}
		name := r.Header.Get(peerHeader)
		if !spec.ValidName(name) {
			name = "peer"
		}
		return access.Identity{Name: name, Kind: "peer", Role: access.Admin}, true
	case a.cfg.MetricsToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(a.cfg.MetricsToken)) == 1:
		return access.Identity{Name: metricsTokenName, Kind: "token"}, true
	}
	found := a.specToken(tok)
	if found == nil {
		return access.Identity{}, false
	}
	return access.Identity{Name: found.Name, Kind: "token", Role: access.Role(found.Role), Cameras: found.Cameras}, true
}

// specToken is the token block of the committed spec whose hash tok has,
// nil for none; the comparisons take constant time.
func (a *Agent) specToken(tok string) *spec.Token {
	a.mu.Lock()
	site := a.view.spec()
	a.mu.Unlock()
	if site == nil {
		return nil
	}
	sum := []byte(access.HashToken(tok))
	var found *spec.Token
	for _, t := range site.Tokens {
		if subtle.ConstantTimeCompare(sum, []byte(t.Hash)) == 1 {
			found = t
		}
	}
	return found
}

// refuse answers 401 or 403, counts the refusal, records it in the audit
// log (auditRefusal) and reports it as an event, one a minute per kind
// (api.unauthorized, api.forbidden): a flood of refused requests must not
// fill the log or push the real events out of the backlog.
func (a *Agent) refuse(w http.ResponseWriter, r *http.Request, rt route, code int, reason, msg string) {
	a.metrics.refused.WithLabelValues(rt.endpoint, reason).Inc()
	kind, gate := spec.EventAPIForbidden, &a.forbiddenGate
	if code == http.StatusUnauthorized {
		kind, gate = spec.EventAPIUnauthorized, &a.unauthGate
	}
	if pass, n := gate.pass(); pass {
		a.emit(api.Event{Severity: spec.SeverityWarning, Kind: kind, Message: fmt.Sprintf("refused %s %s from %s: %s%s", r.Method, r.URL.Path, remoteIP(r), msg, andMore(n))})
	}
	a.auditRefusal(r, code, msg)
	writeError(w, code, api.Error{Error: msg})
}

// remoteIP is the address of the request's client, without its port.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// peerTokenFor derives the credential the servers of a site present to
// each other from the site key they share: a server proves it belongs to
// the site without a token of anyone's being forwarded.
// Without a site key (some tests) it is random: no peer is admitted.
func peerTokenFor(siteKey []byte) string {
	if len(siteKey) == 0 {
		return rand.Text()
	}
	m := hmac.New(sha256.New, siteKey)
	m.Write([]byte("vigil API peer token v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// peerTransport adds the site's peer credential to requests to the other
// servers of the site, and the identity of the client they act for, if
// any (onBehalfHeader).
type peerTransport struct {
	base          http.RoundTripper
	token, server string
	behalf        string
}

func (t peerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	t.sign(r.Header)
	return t.base.RoundTrip(r)
}

// sign puts the peer credential (and the client acted for) in h, unless
// h carries a token already (Agent.Client: hot reload's apply with the
// agent's token).
func (t peerTransport) sign(h http.Header) {
	if h.Get("Authorization") != "" {
		return
	}
	h.Set("Authorization", "Bearer "+t.token)
	h.Set(peerHeader, t.server)
	if t.behalf != "" {
		h.Set(onBehalfHeader, t.behalf)
	}
}

// peerHTTPFor is the HTTP client of requests made to a server of the site
// for the caller of r: the server checks that caller's permissions.
func (a *Agent) peerHTTPFor(r *http.Request) *http.Client {
	t := a.peerAuth
	if id, ok := access.From(r.Context()); ok {
		b, _ := json.Marshal(id)
		t.behalf = string(b)
	}
	return &http.Client{Transport: t}
}

// passwordHashes checks the users' password hashes as logins will read
// them (access.ValidPasswordHash: the parameters within bounds); the
// configuration language checks only their form, as it cannot import the
// agent's packages.
func passwordHashes(site *spec.Site) []spec.Diagnostic {
	var diags []spec.Diagnostic
	for _, u := range site.Users {
		if err := access.ValidPasswordHash(u.PasswordHash); err != nil && !spec.IsFingerprint(u.PasswordHash) {
			diags = append(diags, spec.Diagnostic{Severity: spec.SeverityError,
				Summary: fmt.Sprintf("User %q: invalid password hash", u.Name),
				Detail:  err.Error()})
		}
	}
	return diags
}

// stateFor is the answer of GET /v1/state for the caller of r: the cached
// encoding, or for a caller who may see only some cameras, the state
// without the others (spec, cameras and balancing moves).
func (a *Agent) stateFor(r *http.Request) []byte {
	id, ok := access.From(r.Context())
	if !ok || len(id.Cameras) == 0 {
		return a.encodedState()
	}
	st := a.State()
	if st.Spec != nil {
		site := *st.Spec
		site.Cameras = slices.DeleteFunc(slices.Clone(site.Cameras), func(c *spec.Camera) bool { return !id.CanSee(c.Name) })
		st.Spec = &site
	}
	st.Cameras = slices.DeleteFunc(st.Cameras, func(c api.CameraState) bool { return !id.CanSee(c.Name) })
	st.Overrides = slices.DeleteFunc(slices.Clone(st.Overrides), func(o api.Override) bool { return !id.CanSee(o.Camera) })
	body, _ := json.MarshalIndent(st, "", "  ")
	return append(body, '\n')
}

// eventSender writes events to w as NDJSON, leaving out those about a
// camera the caller of r may not see: by their camera, and for an event
// about no one camera (a takeover lists the cameras it moves), when its
// message names a camera of the spec the caller may not see. Such an
// event is left out whole rather than redacted: its other names and its
// counts would still tell of the hidden cameras.
func (a *Agent) eventSender(w io.Writer, r *http.Request) func(api.Event) error {
	enc := json.NewEncoder(w)
	id, _ := access.From(r.Context())
	var hidden []string
	if len(id.Cameras) > 0 {
		a.mu.Lock()
		site := a.view.spec()
		a.mu.Unlock()
		if site != nil {
			for _, c := range site.Cameras {
				if !id.CanSee(c.Name) {
					hidden = append(hidden, c.Name)
				}
			}
		}
	}
	return func(ev api.Event) error {
		cam := ev.Camera
		if cam == "" && ev.Gap != nil {
			cam = ev.Gap.Camera
		}
		if cam != "" && !id.CanSee(cam) || cam == "" && slices.ContainsFunc(hidden, func(name string) bool { return namesWord(ev.Message, name) }) {
			return nil
		}
		return enc.Encode(ev)
	}
}

// namesWord reports whether text has name as a word of its own: not
// within a longer name ("cam1" is not in "cam10"; a dot after it may end a
// sentence).
func namesWord(text, name string) bool {
	nameChar := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		if (start == 0 || !nameChar(text[start-1]) && text[start-1] != '.') && (end == len(text) || !nameChar(text[end])) {
			return true
		}
		i = start + 1
	}
}
