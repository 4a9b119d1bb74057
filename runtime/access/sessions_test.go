package access

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cheapHash is a valid Argon2id hash with the least parameters, so that a
// test can check thousands of passwords.
func cheapHash(password string) string {
	h := passwordHash{memory: 8, passes: 1, lanes: 1, salt: []byte("saltsalt")}
	h.key = h.derive(password, 32)
	return h.String()
}

// fakeUsers stands in for the configuration's user and token blocks
// (tokens by their secret).
type fakeUsers struct {
	mu     sync.Mutex
	users  map[string]User
	tokens map[string]User
}

func (f *fakeUsers) Token(token string) (User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.tokens[token]
	return u, ok
}

func (f *fakeUsers) NamedToken(name string) (User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.tokens {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

func (f *fakeUsers) User(name string) (User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[name]
	return u, ok
}

func (f *fakeUsers) Any() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.users) > 0
}

func (f *fakeUsers) set(u User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.Name] = u
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type rig struct {
	users    *fakeUsers
	clock    *fakeClock
	s        *Sessions
	failures []LoginFailure
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{
		users: &fakeUsers{users: map[string]User{
			"alice": {Name: "alice", Role: Operator, Cameras: []string{"lobby-*"}, PasswordHash: cheapHash("alice's secret")},
		}, tokens: map[string]User{
			"vigil_ci-token": {Name: "ci", Kind: "token", Role: Viewer, Cameras: []string{"dock-1"}, PasswordHash: HashToken("vigil_ci-token")},
		}},
		clock: &fakeClock{t: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)},
	}
	r.s = NewSessions(r.users, SessionOptions{
		IdleTimeout: 30 * time.Minute, MaxAge: 8 * time.Hour, Now: r.clock.Now,
		OnFailure: func(f LoginFailure) { r.failures = append(r.failures, f) },
	})
	return r
}

// login posts a JSON login from addr and returns the answer.
func (r *rig) login(addr, user, password string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(LoginRequest{User: user, Password: password})
	req := httptest.NewRequest("POST", "/v1/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	r.s.ServeLogin(w, req)
	return w
}

// request is a request from addr carrying the cookie.
func request(addr string, c *http.Cookie) *http.Request {
	req := httptest.NewRequest("GET", "/v1/state", nil)
	req.RemoteAddr = addr + ":40000"
	if c != nil {
		req.AddCookie(c)
	}
	return req
}

func sessionCookie(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in the answer %d %s", CookieName, w.Code, w.Body)
	return nil
}

func TestSessionLifecycle(t *testing.T) {
	r := newRig(t)
	w := r.login("10.0.0.2", "alice", "alice's secret")
	if w.Code != 200 {
		t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	c := sessionCookie(t, w)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 8*3600 {
		t.Errorf("cookie %s: want HttpOnly, Secure, SameSite=Strict, Path=/, Max-Age=28800", w.Header().Get("Set-Cookie"))
	}
	if raw, err := url.QueryUnescape(c.Value); err != nil || len(raw) != 43 {
		t.Errorf("session ID %q: want 256 bits in 43 base64url characters", c.Value)
	}
	var info SessionInfo
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || info.User == nil || info.User.Name != "alice" || !info.Login {
		t.Errorf("login answer %s", w.Body)
	}
	if strings.Contains(w.Body.String(), "argon2") || strings.Contains(w.Body.String(), c.Value) {
		t.Errorf("the login answer carries a secret: %s", w.Body)
	}
	id, ok := r.s.Identify(request("10.0.0.2", c))
	if !ok || id.Name != "alice" || id.Kind != "user" || id.Role != Operator || !id.CanSee("lobby-1") || id.CanSee("dock-1") || id.Address != "10.0.0.2" {
		t.Fatalf("Identify = %+v, %v", id, ok)
	}
	// The server keeps only the ID's hash.
	for k := range r.s.sessions {
		if strings.Contains(string(k[:]), c.Value) {
			t.Error("the session ID is kept in clear")
		}
	}

	// A role changed in the configuration holds at the next request.
	u, _ := r.users.User("alice")
	u.Role = Viewer
	r.users.set(u)
	if id, _ := r.s.Identify(request("10.0.0.2", c)); id.Role != Viewer {
		t.Errorf("role after the change: %s", id.Role)
	}

	// Idle expiry: requests keep it alive, 30 minutes without end it.
	for range 20 { // 20 × 25 min = 8 h 20 min: the absolute expiry ends it
		r.clock.Advance(25 * time.Minute)
		if _, ok := r.s.Identify(request("10.0.0.2", c)); !ok {
			break
		}
	}
	if got := r.clock.Now().Sub(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)); got != 8*time.Hour+20*time.Minute {
		t.Errorf("the session ended after %s of use; want at 8 h (MaxAge), seen at 8 h 20 min", got)
	}
	c = sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	r.clock.Advance(30 * time.Minute)
	if _, ok := r.s.Identify(request("10.0.0.2", c)); ok {
		t.Error("a session idle for 30 minutes is still accepted")
	}
	if r.s.Count() != 0 {
		t.Errorf("%d sessions kept after expiring", r.s.Count())
	}

	// Logout ends the session; its cookie is refused afterwards.
	c = sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	req := httptest.NewRequest("POST", "/v1/logout", nil)
	req.AddCookie(c)
	w = httptest.NewRecorder()
	r.s.ServeLogout(w, req)
	if gone := sessionCookie(t, w); w.Code != 204 || gone.MaxAge >= 0 || gone.Value != "" {
		t.Errorf("logout: %d, cookie %s", w.Code, w.Header().Get("Set-Cookie"))
	}
	if _, ok := r.s.Identify(request("10.0.0.2", c)); ok {
		t.Error("the cookie of a logged-out session is accepted")
	}

	// A changed password hash or a removed user ends the sessions.
	c = sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	u.PasswordHash = cheapHash("new secret")
	r.users.set(u)
	if _, ok := r.s.Identify(request("10.0.0.2", c)); ok {
		t.Error("a session outlived its user's password change")
	}
	c = sessionCookie(t, r.login("10.0.0.2", "alice", "new secret"))
	delete(r.users.users, "alice")
	if _, ok := r.s.Identify(request("10.0.0.2", c)); ok {
		t.Error("a session outlived its user")
	}
}

func TestForgedCookies(t *testing.T) {
	r := newRig(t)
	real := sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	for _, v := range []string{
		"", "x", strings.Repeat("A", 43), real.Value[:42], real.Value + "A",
		flipFirst(real.Value),
		"../../etc/passwd", strings.Repeat("A", 10000),
	} {
		if id, ok := r.s.Identify(request("10.0.0.2", &http.Cookie{Name: CookieName, Value: v})); ok {
			t.Errorf("cookie %q accepted as %+v", v, id)
		}
	}
	if _, ok := r.s.Identify(request("10.0.0.2", nil)); ok {
		t.Error("a request without a cookie is identified")
	}
	if _, ok := r.s.Identify(request("10.0.0.2", real)); !ok {
		t.Error("the real cookie is refused")
	}
}

// flipFirst changes the first character of a session ID (the last one's
// low bits are not part of the 256 bits).
func flipFirst(id string) string {
	if id[0] == 'A' {
		return "B" + id[1:]
	}
	return "A" + id[1:]
}

func TestLoginRequests(t *testing.T) {
	r := newRig(t)
	post := func(ct, body string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "http://srv-1:53540/v1/login", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		req.RemoteAddr = "10.0.0.9:1234"
		w := httptest.NewRecorder()
		r.s.ServeLogin(w, req)
		return w
	}
	form := url.Values{"user": {"alice"}, "password": {"alice's secret"}}.Encode()
	if w := post("application/x-www-form-urlencoded", form); w.Code != 200 {
		t.Errorf("form login: %d %s", w.Code, w.Body)
	}
	if w := post("application/x-www-form-urlencoded", form, "Origin", "http://srv-1:53540"); w.Code != 200 {
		t.Errorf("form login from the server's own page: %d %s", w.Code, w.Body)
	}
	for _, c := range []struct {
		ct, body, origin string
		code             int
		want             string
	}{
		{"application/json", `{"user":"alice"}`, "", 400, "needs a user and a password"},
		{"application/json", `{"user":`, "", 400, `a login is {"user": NAME, "password": PASSWORD}`},
		{"text/plain", "alice", "", 400, `JSON or a form`},
		{"application/json", strings.Repeat(" ", 70<<10), "", 400, "reading the login"},
		{"application/x-www-form-urlencoded", form, "https://evil.example", 403, "Origin header names another site"},
		{"application/json", `{"user":"alice","password":"guess"}`, "", 401, "wrong user name or password"},
		{"application/json", `{"user":"mallory","password":"guess"}`, "", 401, "wrong user name or password"},
	} {
		w := post(c.ct, c.body, "Origin", c.origin)
		var e struct{ Error string }
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != c.code || !strings.Contains(e.Error, c.want) {
			t.Errorf("%s %.40q: %d %s; want %d and %q", c.ct, c.body, w.Code, w.Body, c.code, c.want)
		}
		if len(w.Result().Cookies()) > 0 {
			t.Errorf("%s %.40q set a cookie", c.ct, c.body)
		}
	}
	// A name that is no user is not reported: it may be a password typed
	// into the wrong field.
	last := r.failures[len(r.failures)-1]
	if last.User != "" || last.Reason != FailedUnknownUser || last.Address != "10.0.0.9" {
		t.Errorf("failure for an unknown user: %+v", last)
	}
	if f := r.failures[len(r.failures)-2]; f.User != "alice" || f.Reason != FailedPassword {
		t.Errorf("failure for a wrong password: %+v", f)
	}
}

func TestSessionEndpoint(t *testing.T) {
	r := newRig(t)
	get := func(c *http.Cookie) SessionInfo {
		w := httptest.NewRecorder()
		r.s.ServeSession(w, request("10.0.0.2", c))
		var info SessionInfo
		if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || w.Code != 200 {
			t.Fatalf("GET /v1/session: %d %s", w.Code, w.Body)
		}
		return info
	}
	if info := get(nil); info.User != nil || !info.Login || info.IdleTimeout != 1800 || info.MaxAge != 8*3600 {
		t.Errorf("without a session: %+v", info)
	}
	c := sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	if info := get(c); info.User == nil || info.User.Name != "alice" {
		t.Errorf("with a session: %+v", info)
	}
	delete(r.users.users, "alice")
	if info := get(nil); info.Login {
		t.Error("a site without users asks for a login")
	}
}

// TestThousandWrongPasswords: 1,000 wrong passwords from one address. The
// answers slow down (429 and a Retry-After that grows to the cap), an
// attacker ignoring them gets a handful of guesses checked, and the real
// user still logs in at once from the address it used before, within the
// user's cap from a new one, and from the attacker's own address after its
// delay.
func TestThousandWrongPasswords(t *testing.T) {
	r := newRig(t)
	const attacker, home, elsewhere = "203.0.113.7", "10.0.0.2", "198.51.100.4"
	if w := r.login(home, "alice", "alice's secret"); w.Code != 200 {
		t.Fatalf("alice's first login: %d %s", w.Code, w.Body)
	}
	start := r.clock.Now()

	// An attacker that does not wait: one attempt a second for 1,000 s.
	checked := 0
	for i := range 1000 {
		w := r.login(attacker, "alice", "guess-"+strconv.Itoa(i))
		switch w.Code {
		case 401:
			checked++
		case 429:
		default:
			t.Fatalf("attempt %d: %d %s", i, w.Code, w.Body)
		}
		r.clock.Advance(time.Second)
	}
	// 5 free, then after 1, 2, 4 … 512 s.
	if checked > 15 {
		t.Errorf("%d of 1,000 hasty guesses were checked; want at most 15", checked)
	}
	t.Logf("an attacker not waiting: %d of 1000 guesses checked in 1000 s", checked)

	// An attacker that waits as told, until 1,000 guesses were checked.
	var waits []int
	for checked < 1000 {
		w := r.login(attacker, "alice", "guess-"+strconv.Itoa(checked))
		switch w.Code {
		case 401:
			checked++
		case 429:
			secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
			if err != nil || secs < 1 || !strings.Contains(w.Body.String(), "try again in "+strconv.Itoa(secs)+" s") {
				t.Fatalf("429 with Retry-After %q: %s", w.Header().Get("Retry-After"), w.Body)
			}
			waits = append(waits, secs)
			r.clock.Advance(time.Duration(secs) * time.Second)
		default:
			t.Fatalf("guess %d: %d %s", checked, w.Code, w.Body)
		}
	}
	took := r.clock.Now().Sub(start)
	if took < 3*24*time.Hour {
		t.Errorf("1,000 guesses took %s; want days", took)
	}
	if maxWait := waits[len(waits)-1]; maxWait != int(addrMaxDelay/time.Second) {
		t.Errorf("the last wait was %d s; want the cap, %s", maxWait, addrMaxDelay)
	}
	t.Logf("an attacker waiting as told: 1000 guesses took %s", took.Round(time.Minute))

	// The real user, at once from the address it logged in from before.
	if w := r.login(home, "alice", "alice's secret"); w.Code != 200 {
		t.Errorf("alice from %s: %d %s", home, w.Code, w.Body)
	}
	// From a new address: slowed by alice's count at most for its cap.
	w := r.login(elsewhere, "alice", "alice's secret")
	if w.Code == 429 {
		secs, _ := strconv.Atoi(w.Header().Get("Retry-After"))
		if time.Duration(secs)*time.Second > userMaxDelay {
			t.Errorf("alice from a new address must wait %d s; want at most %s", secs, userMaxDelay)
		}
		r.clock.Advance(time.Duration(secs) * time.Second)
		w = r.login(elsewhere, "alice", "alice's secret")
	}
	if w.Code != 200 {
		t.Errorf("alice from %s: %d %s", elsewhere, w.Code, w.Body)
	}
	// From the attacker's address, after its delay.
	w = r.login(attacker, "alice", "alice's secret")
	if w.Code != 429 {
		t.Fatalf("alice from the attacker's address right after its guess: %d; want 429", w.Code)
	}
	secs, _ := strconv.Atoi(w.Header().Get("Retry-After"))
	r.clock.Advance(time.Duration(secs) * time.Second)
	if w := r.login(attacker, "alice", "alice's secret"); w.Code != 200 {
		t.Errorf("alice from %s after %d s: %d %s", attacker, secs, w.Code, w.Body)
	}
	// Every refusal was reported.
	reasons := map[string]int{}
	for _, f := range r.failures {
		reasons[f.Reason]++
		if f.Address == attacker && f.User != "alice" {
			t.Fatalf("failure %+v does not name alice", f)
		}
	}
	if reasons[FailedPassword] != 1000 || reasons[FailedThrottled] == 0 {
		t.Errorf("failures reported: %v", reasons)
	}
}

// TestGuard covers the counts' rules directly: parallel attempts, the IPv6
// /64, forgetting, and the bound on the addresses kept.
func TestGuard(t *testing.T) {
	g := newGuard()
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for range addrFree {
		if g.admit("", "a", now) != 0 {
			t.Fatal("a free attempt waits")
		}
		g.failed("", "a", now)
	}
	if d := g.admit("", "a", now); d != time.Second {
		t.Errorf("after %d failures: wait %s, want 1s", addrFree, d)
	}
	now = now.Add(time.Second)
	if g.admit("", "a", now) != 0 {
		t.Fatal("the attempt after the delay waits")
	}
	if g.admit("", "a", now) == 0 {
		t.Error("a parallel attempt passed while the first is being checked")
	}
	g.failed("", "a", now)
	if d := g.wait("", "a", now); d != 2*time.Second {
		t.Errorf("wait after %d failures: %s, want 2s", addrFree+1, d)
	}
	if d := g.wait("", "b", now); d != 0 {
		t.Errorf("another address waits %s", d)
	}
	if g.wait("", "a", now.Add(forgetAfter+time.Second)) != 0 || g.addrs["a"].n != 0 {
		t.Error("the count is not forgotten after an hour without failures")
	}
	for in, want := range map[string]string{
		"10.1.2.3:5000":               "10.1.2.3",
		"[2001:db8:1:2:3:4:5:6]:5000": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:5000": "2001:db8:1:2::/64",
		"[::ffff:10.1.2.3]:5000":      "10.1.2.3",
		"not an address":              "not an address",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
	for i := range maxAddresses + 10 {
		g.failed("", "x"+strconv.Itoa(i), now.Add(time.Duration(i)))
	}
	if n := len(g.addrs); n > maxAddresses {
		t.Errorf("%d addresses kept; want at most %d", n, maxAddresses)
	}
}

// ended waits for a bound request's context to end (the session's end
// cancels it from a goroutine of its own).
func ended(t *testing.T, what string, r *http.Request) {
	t.Helper()
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the bound request is still open", what)
	}
}

// TestBoundRequests: a request bound to its session (the console's push
// channel, a live view) keeps the session in use while open, and ends when
// the session ends: logout, MaxAge, the user removed (found by Sweep).
func TestBoundRequests(t *testing.T) {
	r := newRig(t)
	bind := func(c *http.Cookie) (*http.Request, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		req, id, ok := r.s.Bind(request("10.0.0.2", c).WithContext(ctx))
		if !ok || id.Name != "alice" {
			t.Fatalf("Bind = %+v, %v", id, ok)
		}
		return req, cancel
	}

	// Open for two idle timeouts: the session is in use.
	c := sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	stream, cancel := bind(c)
	r.clock.Advance(45 * time.Minute)
	r.s.Sweep()
	r.clock.Advance(45 * time.Minute)
	if _, ok := r.s.Identify(request("10.0.0.2", c)); !ok || stream.Context().Err() != nil {
		t.Fatal("a session with an open stream expired for being idle")
	}
	// Closed, the session is idle from then on.
	cancel()
	key := mustKey(t, c.Value)
	for deadline := time.Now().Add(10 * time.Second); ; {
		r.s.mu.Lock()
		open := r.s.sessions[key].open
		r.s.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed stream is still counted open")
		}
		time.Sleep(time.Millisecond) // the context's AfterFunc runs in a goroutine of its own
	}
	r.clock.Advance(30 * time.Minute)
	if _, ok := r.s.Identify(request("10.0.0.2", c)); ok {
		t.Error("the session did not expire 30 minutes after its stream closed")
	}

	// Logout ends the streams of the session.
	c = sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	stream, cancel = bind(c)
	defer cancel()
	req := httptest.NewRequest("POST", "/v1/logout", nil)
	req.AddCookie(c)
	r.s.ServeLogout(httptest.NewRecorder(), req)
	ended(t, "logout", stream)

	// MaxAge, found by Sweep.
	c = sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	stream, cancel = bind(c)
	defer cancel()
	r.clock.Advance(8 * time.Hour)
	r.s.Sweep()
	ended(t, "MaxAge", stream)

	// The user removed from the configuration, found by Sweep.
	c = sessionCookie(t, r.login("10.0.0.2", "alice", "alice's secret"))
	stream, cancel = bind(c)
	defer cancel()
	r.s.Sweep()
	if stream.Context().Err() != nil {
		t.Fatal("Sweep ended a valid session")
	}
	r.users.mu.Lock()
	delete(r.users.users, "alice")
	r.users.mu.Unlock()
	r.s.Sweep()
	ended(t, "user removed", stream)
	if r.s.Count() != 0 {
		t.Errorf("%d sessions kept", r.s.Count())
	}
}

func mustKey(t *testing.T, id string) [32]byte {
	t.Helper()
	k, ok := sessionKey(id)
	if !ok {
		t.Fatalf("bad session ID %q", id)
	}
	return k
}

// TestTokenLogin: a token logs in like a password, as the token's identity;
// a wrong token is a failed login (slowed, reported); the session ends when
// the token block goes.
func TestTokenLogin(t *testing.T) {
	r := newRig(t)
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/v1/login", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "10.0.0.9:40000"
		w := httptest.NewRecorder()
		r.s.ServeLogin(w, req)
		return w
	}
	w := post("token=vigil_ci-token")
	if w.Code != 200 {
		t.Fatalf("token login: %d %s", w.Code, w.Body)
	}
	c := sessionCookie(t, w)
	id, ok := r.s.Identify(request("10.0.0.9", c))
	if !ok || id.Name != "ci" || id.Kind != "token" || id.Role != Viewer || len(id.Cameras) != 1 || id.Cameras[0] != "dock-1" {
		t.Errorf("the token's session is %+v, %v; want token ci, a viewer of dock-1", id, ok)
	}
	if strings.Contains(w.Body.String(), "vigil_ci-token") {
		t.Errorf("the login answer shows the token: %s", w.Body)
	}
	for i := range 5 {
		if w := post("token=wrong"); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "wrong token") {
			t.Fatalf("wrong token %d: %d %s", i, w.Code, w.Body)
		}
	}
	if len(r.failures) != 5 || r.failures[0].Reason != FailedToken || r.failures[0].User != "" {
		t.Fatalf("failures %+v: want 5 of reason %q", r.failures, FailedToken)
	}
	if w := post("token=wrong"); w.Code != http.StatusTooManyRequests {
		t.Errorf("a sixth wrong token at once: %d, want 429", w.Code)
	}
	// The token block removed: its session ends.
	r.users.mu.Lock()
	delete(r.users.tokens, "vigil_ci-token")
	r.users.mu.Unlock()
	if _, ok := r.s.Identify(request("10.0.0.9", c)); ok {
		t.Error("the session of a removed token still holds")
	}
}
