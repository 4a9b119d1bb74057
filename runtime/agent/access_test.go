package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// accessExamples is the permission of each route of the API (its least
// role; "public" needs no credential, "any" any credential, the metrics
// token included) and a request of it, naming camera "cam2" where a route
// names a camera. A route missing here fails TestAccessTable: every new
// endpoint gets its permission decided and checked. Requests that change
// something carry no body: an admin gets 400, and nothing changes.
var accessExamples = map[string]struct{ path, need string }{
	"POST /v1/login":                       {"/v1/login", "public"},
	"POST /v1/logout":                      {"/v1/logout", "public"},
	"GET /v1/session":                      {"/v1/session", "public"},
	"GET /v1/health":                       {"/v1/health", "public"},
	"GET /v1/state":                        {"/v1/state", "viewer"},
	"POST /v1/apply":                       {"/v1/apply", "admin"},
	"POST /v1/master/transfer":             {"/v1/master/transfer", "admin"},
	"POST /v1/drain":                       {"/v1/drain", "admin"},
	"POST /v1/alerts/test":                 {"/v1/alerts/test", "admin"},
	"POST /v1/config/import-report":        {"/v1/config/import-report", "admin"},
	"GET /v1/events":                       {"/v1/events", "operator"},
	"GET /v1/stats":                        {"/v1/stats", "viewer"},
	"GET /v1/gaps":                         {"/v1/gaps", "viewer"},
	"GET /v1/stats/local":                  {"/v1/stats/local", "admin"},
	"GET /v1/balance/report":               {"/v1/balance/report", "operator"},
	"GET /v1/export/public-key":            {"/v1/export/public-key", "viewer"},
	"GET /v1/console/stream":               {"/v1/console/stream", "viewer"},
	"GET /v1/live/{camera}":                {"/v1/live/cam2", "viewer"},
	"GET /v1/console/export/{file}":        {"/v1/console/export/cam2.zip", "operator"},
	"GET /{$}":                             {"/", "public"},
	"GET /ui/":                             {"/ui/app.js", "public"},
	"GET /v1/recordings":                   {"/v1/recordings?camera=cam2", "viewer"},
	"GET /v1/recordings/days":              {"/v1/recordings/days?camera=cam2", "viewer"},
	"GET /v1/recordings/local":             {"/v1/recordings/local?camera=cam2", "admin"},
	"POST /v1/holds/footage":               {"/v1/holds/footage", "operator"},
	"GET /v1/playback/{camera}/index.m3u8": {"/v1/playback/cam2/index.m3u8", "viewer"},
	"GET /v1/playback/{file}":              {"/v1/playback/cam2.mp4", "viewer"},
	"GET /v1/playback/media/{server}/{shift}/{path...}": {"/v1/playback/media/rec-1/0/cam2/2026-01-01/000000.mp4", "viewer"},
	"POST /v1/playback/local/layouts":                   {"/v1/playback/local/layouts", "admin"},
	"GET /v1/export/{file}":                             {"/v1/export/cam2.mp4", "operator"},
	"GET /v1/audit":                                     {"/v1/audit", "admin"},
	"POST /v1/audit/entries":                            {"/v1/audit/entries", "admin"},
	"GET /metrics":                                      {"/metrics", "any"},
	"/":                                                 {"/nothing-here", "public"},
}

// TestAccessTable sends every route of the route table as each kind of
// caller and checks the answer against the route's permission: 401
// without or with a wrong credential, 403 below the route's role or for a
// camera the caller may not see, anything else (the handler's answer)
// when allowed.
func TestAccessTable(t *testing.T) {
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Cameras: 2, Keepalive: time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	const metricsToken = "metrics-token-for-prometheus"
	s.Server("rec-1").Config.MetricsToken = metricsToken
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 60*time.Second)
	tokens := map[string]string{}
	site := s.Spec(s.CameraSpec(1, "rec-1"), s.CameraSpec(2, "rec-1"))
	for _, tk := range []struct {
		name    string
		role    access.Role
		cameras []string
	}{{"viewer", access.Viewer, nil}, {"operator", access.Operator, nil}, {"admin", access.Admin, nil}, {"cam1-viewer", access.Viewer, []string{"cam1"}}} {
		tok, hash, err := access.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		tokens[tk.name] = tok
		site.Tokens = append(site.Tokens, &spec.Token{Name: tk.name, Role: string(tk.role), Cameras: tk.cameras, Hash: hash})
	}
	// With a user, the console's reads need a login too.
	hash, err := access.HashPassword("a password")
	if err != nil {
		t.Fatal(err)
	}
	site.Users = []*spec.User{{Name: "alice", Role: "viewer", PasswordHash: hash}}
	if _, err := s.Commit(ctx, site); err != nil {
		t.Fatal(err)
	}
	a := s.Server("rec-1").Agent()
	// Wait until the agent's view has the tokens.
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return st.Spec != nil && len(st.Spec.Tokens) == 4 }); err != nil {
		t.Fatal(err)
	}

	type caller struct {
		name, token string
		role        access.Role // "" for none
		cameras     bool        // sees only cam1
		metrics     bool
		noAuth      bool // 401 expected on every non-public route
	}
	callers := []caller{
		{name: "no credential", noAuth: true},
		{name: "wrong token", token: "not-a-token-of-this-site", noAuth: true},
		{name: "metrics token", token: metricsToken, metrics: true},
		{name: "viewer", token: tokens["viewer"], role: access.Viewer},
		{name: "operator", token: tokens["operator"], role: access.Operator},
		{name: "admin", token: tokens["admin"], role: access.Admin},
		{name: "agent token (VIGIL_TOKEN)", token: s.Token, role: access.Admin},
		{name: "peer", token: a.PeerToken(), role: access.Admin},
		{name: "viewer of cam1 asking for cam2", token: tokens["cam1-viewer"], role: access.Viewer, cameras: true},
	}
	routes := a.Routes()
	for _, rt := range routes {
		ex, ok := accessExamples[rt.Pattern]
		if !ok {
			t.Errorf("route %q is not in accessExamples: decide its permission there, so that it is tested", rt.Pattern)
			continue
		}
		path, need := ex.path, string(rt.Need)
		switch {
		case rt.Public:
			need = "public"
		case rt.Need == "":
			need = "any"
		}
		if need != ex.need {
			t.Errorf("route %q needs %s, want %s", rt.Pattern, need, ex.need)
		}
		method, _, found := strings.Cut(rt.Pattern, " ")
		if !found {
			method = http.MethodGet
		}
		for _, c := range callers {
			want := 0 // allowed: anything but 401 and 403
			switch {
			case rt.Public:
			case c.noAuth:
				want = http.StatusUnauthorized
			case rt.Need == "":
			case c.metrics || !c.role.Allows(rt.Need):
				want = http.StatusForbidden
			case c.cameras && (rt.Cameras == "one" || rt.Cameras == "all"):
				want = http.StatusForbidden
			}
			got := status(t, ctx, s, method, s.Server("rec-1").Addr()+path, c.token)
			refused := got == http.StatusUnauthorized || got == http.StatusForbidden
			if want == 0 && refused || want != 0 && got != want {
				wantText := "allowed"
				if want != 0 {
					wantText = http.StatusText(want)
				}
				t.Errorf("%s %s as %s: %d, want %s", method, path, c.name, got, wantText)
			}
		}
	}
	if len(routes) != len(accessExamples) {
		t.Errorf("%d routes, %d examples: remove the examples of routes that are gone", len(routes), len(accessExamples))
	}

	// A console session is its user's or token's identity: alice, a
	// viewer, reads the state and may not apply; the cam1 viewer's token
	// logged in may not watch cam2; a forged cookie is no one.
	base := s.Server("rec-1").Addr()
	session := loginCookie(t, ctx, s, base, `{"user": "alice", "password": "a password"}`)
	cam1 := loginCookie(t, ctx, s, base, `{"token": "`+tokens["cam1-viewer"]+`"}`)
	for _, c := range []struct {
		method, path, cookie string
		want                 int
	}{
		{http.MethodGet, "/v1/state", session.Value, http.StatusOK},
		{http.MethodPost, "/v1/apply", session.Value, http.StatusForbidden},
		{http.MethodGet, "/v1/state", cam1.Value, http.StatusOK},
		{http.MethodGet, "/v1/recordings/days?camera=cam2", cam1.Value, http.StatusForbidden},
		{http.MethodGet, "/v1/events", cam1.Value, http.StatusForbidden},
		{http.MethodGet, "/v1/state", "forged", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequestWithContext(ctx, c.method, base+c.path, nil)
		req.AddCookie(&http.Cookie{Name: access.CookieName, Value: c.cookie})
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s with cookie %.8s…: %s, want %d", c.method, c.path, c.cookie, resp.Status, c.want)
		}
	}

	// A viewer of cam1 sees cam1 only in the state.
	st, err := api.NewClient(s.Server("rec-1").Addr(), tokens["cam1-viewer"], api.WithCA(s.CA.Pool())).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Cameras) != 1 || st.Cameras[0].Name != "cam1" || len(st.Spec.Cameras) != 1 || st.Spec.Cameras[0].Name != "cam1" {
		t.Errorf("the state for a viewer of cam1 lists cameras %+v and spec cameras %d", st.Cameras, len(st.Spec.Cameras))
	}
	// The console's stream gives the N+1 verdict (it names the cameras a
	// failure strands) before the first state, to a caller who sees every
	// camera only.
	for who, want := range map[string]bool{"admin": true, "cam1-viewer": false} {
		if got := strings.Contains(firstState(t, ctx, s, base, tokens[who]), "event: nplusone"); got != want {
			t.Errorf("the console stream of %s gives the N+1 verdict: %v, want %v", who, got, want)
		}
	}
	// Refusals are events (one a minute each) and metrics.
	kinds := map[string]bool{}
	evctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := s.Client("rec-1").Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		kinds[ev.Kind] = true
		if kinds["api.unauthorized"] && kinds["api.forbidden"] {
			break
		}
	}
	body := getAs(t, ctx, s, s.Server("rec-1").Addr()+"/metrics", metricsToken)
	for _, want := range []string{`vigil_api_refused_total{endpoint="live",reason="camera"} 1`, `vigil_api_refused_total{endpoint="apply",reason="role"} 5`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// No token or hash in the state, the events or the metrics.
	state := getAs(t, ctx, s, s.Server("rec-1").Addr()+"/v1/state", s.Token)
	var evs strings.Builder
	for ev := range mustHistory(t, ctx, s.Client("rec-1")) {
		b, _ := json.Marshal(ev)
		evs.Write(b)
	}
	for name, tok := range tokens {
		for what, out := range map[string]string{"state": state, "events": evs.String(), "metrics": body} {
			if strings.Contains(out, tok) || strings.Contains(out, access.HashToken(tok)[len("sha256:"):]) {
				t.Errorf("the %s show token %s or its hash", what, name)
			}
		}
	}
	if strings.Contains(state, hash) {
		t.Error("the state shows the user's password hash")
	}
}

func status(t *testing.T, ctx context.Context, s *devsite.Site, method, url, token string) int {
	t.Helper()
	resp := do(t, ctx, s, method, url, token)
	resp.Body.Close()
	return resp.StatusCode
}

func getAs(t *testing.T, ctx context.Context, s *devsite.Site, url, token string) string {
	t.Helper()
	resp := do(t, ctx, s, http.MethodGet, url, token)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// do sends a request to a server of s; streaming answers are closed once
// their status is known.
func do(t *testing.T, ctx context.Context, s *devsite.Site, method, url, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

func mustHistory(t *testing.T, ctx context.Context, c *api.Client) <-chan api.Event {
	t.Helper()
	s, err := c.EventHistory(ctx, api.EventFilter{}, api.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s.Events
}

// TestConsoleClosedWithoutUsers: a site that declares no users (every
// site before access control, vigil dev) is not open to whoever reaches
// its port: the console's reads need a credential too, and the console's
// form logs in with the agent's token (or a token block); a wrong token is
// a failed login.
func TestConsoleClosedWithoutUsers(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 0)
	ctx := ctxFor(t, 30*time.Second)
	base := s.Server("rec-1").Addr()
	for _, path := range []string{"/v1/state", "/v1/console/stream", "/v1/live/cam1", "/v1/recordings/days?camera=cam1",
		"/v1/playback/cam1/index.m3u8", "/v1/events", "/v1/stats", "/metrics"} {
		if got := status(t, ctx, s, http.MethodGet, base+path, ""); got != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, got)
		}
	}
	for _, path := range []string{"/", "/ui/app.js", "/v1/health", "/v1/session"} {
		if got := status(t, ctx, s, http.MethodGet, base+path, ""); got != http.StatusOK {
			t.Errorf("GET %s without credentials: %d, want 200", path, got)
		}
	}
	var info access.SessionInfo
	if err := json.Unmarshal([]byte(getAs(t, ctx, s, base+"/v1/session", "")), &info); err != nil || info.User != nil || info.Login {
		t.Errorf("GET /v1/session: %+v, %v; want no user, and no users to log in as (the form asks for a token)", info, err)
	}
	if resp := postLogin(t, ctx, s, base, `{"token": "not-the-token"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a wrong token: %s, want 401", resp.Status)
	}
	if body := getAs(t, ctx, s, base+"/metrics", s.Token); !strings.Contains(body, `vigil_login_failures_total{reason="wrong token"} 1`) {
		t.Error(`/metrics lacks vigil_login_failures_total{reason="wrong token"} 1`)
	}
	cookie := loginCookie(t, ctx, s, base, `{"token": "`+s.Token+`"}`)
	for _, path := range []string{"/v1/state", "/v1/stats"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		req.AddCookie(cookie)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			t.Errorf("GET %s with the token's session: %s", path, resp.Status)
		}
	}
}

// postLogin posts a JSON login (body) to the agent at base.
func postLogin(t *testing.T, ctx context.Context, s *devsite.Site, base, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/login", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// loginCookie logs in (body) and returns the session cookie.
func loginCookie(t *testing.T, ctx context.Context, s *devsite.Site, base, body string) *http.Cookie {
	t.Helper()
	resp := postLogin(t, ctx, s, base, body)
	for _, c := range resp.Cookies() {
		if c.Name == access.CookieName && resp.StatusCode == http.StatusOK {
			return c
		}
	}
	t.Fatalf("login %.20s…: %s, cookies %v", body, resp.Status, resp.Cookies())
	return nil
}

// firstState reads the console's stream up to the end of its first state
// event.
func firstState(t *testing.T, ctx context.Context, s *devsite.Site, base, token string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp := do(t, ctx, s, http.MethodGet, base+"/v1/console/stream", token)
	defer resp.Body.Close()
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if i := strings.Index(string(got), "event: state\n"); i >= 0 && strings.Contains(string(got[i:]), "\n\n") {
			return string(got)
		}
		if err != nil {
			t.Fatalf("the console stream ended before its first state: %v\n%s", err, got)
		}
	}
}
