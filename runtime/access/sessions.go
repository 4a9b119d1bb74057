package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sessions are the console's logins: POST /v1/login checks a user's
// password, or an API token, and sets a session cookie, POST /v1/logout ends the session, and
// Identify tells the API's authentication who a request's cookie belongs to.
//
// Sessions live in the memory of the agent that made them (the console
// talks to one agent): a logout ends a session at once and for good, and an
// agent's restart logs its users out; the console of another server of the
// site needs its own login. A session ID is 256 random bits; the agent keeps
// only its SHA-256, so its memory holds nothing a cookie could be made
// from. A session ends after IdleTimeout without requests (a request bound
// with Bind, such as the console's push channel, keeps it in use while
// open), after MaxAge in any case, when its user is removed from the
// configuration and when the user's password hash changes; its bound
// requests end with it. Every request of a session reads the user's role
// and cameras afresh from the configuration.
type Sessions struct {
	users Users
	opts  SessionOptions
	guard *guard
	// checks bounds the password checks running at once: each takes the
	// hash's memory (19 MiB for vigil user hash) and a core.
	checks chan struct{}
	// dummy is checked for a name that is no user, so that an answer takes
	// as long whether the user exists or not.
	dummy string

	mu       sync.Mutex
	sessions map[[32]byte]*session
}

// User is what logging in needs of a user block of the configuration, or
// of an API token (a token block, the agent's token).
type User struct {
	Name string
	// Kind is "user" or "token" (Identity.Kind).
	Kind    string
	Role    Role
	Cameras []string
	// PasswordHash is a user's password hash, a token's hash (HashToken):
	// a session ends when it changes.
	PasswordHash string
}

// Users looks up the site's users and tokens (the committed
// configuration's user and token blocks, and the agent's own token).
type Users interface {
	// User returns the named user, and false when there is none.
	User(name string) (User, bool)
	// Token returns the token that token is (Kind "token"), and false when
	// it is none that may log in. It compares in constant time.
	Token(token string) (User, bool)
	// NamedToken returns the token named name as the configuration has it
	// now, and false when it is gone.
	NamedToken(name string) (User, bool)
	// Any reports whether the site has users at all: without, the login
	// form asks only for a token.
	Any() bool
}

// SessionOptions tune Sessions; the zero value is the default.
type SessionOptions struct {
	// IdleTimeout ends a session this long after its last request
	// (default 1 h).
	IdleTimeout time.Duration
	// MaxAge ends a session this long after the login (default 12 h, a
	// shift).
	MaxAge time.Duration
	// Now is the clock (default time.Now); tests drive it.
	Now func() time.Time
	// OnFailure is told of every refused login: the one place where failed
	// logins are reported (the agent's event, metric and audit log).
	OnFailure func(LoginFailure)
}

// LoginFailure is a refused login.
type LoginFailure struct {
	// User is the name the login gave when it names a user of the site;
	// "" otherwise, since a name that is no user may well be a password
	// typed into the wrong field.
	User    string
	Address string // the client's IP address
	// Reason is FailedPassword, FailedUnknownUser, FailedToken or
	// FailedThrottled.
	Reason string
	// Wait is how long the client must wait before its next attempt
	// counts.
	Wait time.Duration
	Time time.Time
}

// The reasons of a LoginFailure.
const (
	FailedPassword    = "wrong password"
	FailedUnknownUser = "unknown user"
	FailedToken       = "wrong token"
	FailedThrottled   = "too many failed logins"
)

// CookieName is the session cookie's name.
const CookieName = "vigil_session"

type session struct {
	user     string
	kind     string   // "user" or "token"
	hashSum  [32]byte // of the user's password hash when logging in
	created  time.Time
	lastSeen time.Time
	// open counts the session's requests being served that Bind bound:
	// while one is open the session is in use, not idle.
	open int
	// ctx ends when the session ends, and with it the bound requests.
	ctx    context.Context
	cancel context.CancelFunc
}

// expired reports whether sess is past MaxAge, or idle for IdleTimeout.
func (s *Sessions) expired(sess *session, now time.Time) bool {
	return now.Sub(sess.created) >= s.opts.MaxAge || (sess.open == 0 && now.Sub(sess.lastSeen) >= s.opts.IdleTimeout)
}

// end ends a session and its bound requests; s.mu is held.
func (s *Sessions) end(key [32]byte) {
	if sess, ok := s.sessions[key]; ok {
		delete(s.sessions, key)
		sess.cancel()
	}
}

// maxSessions bounds the sessions kept; past it, a login ends the session
// that was used longest ago.
const maxSessions = 10_000

// NewSessions returns the sessions of an agent whose users users looks up.
func NewSessions(users Users, opts SessionOptions) *Sessions {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = time.Hour
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OnFailure == nil {
		opts.OnFailure = func(LoginFailure) {}
	}
	dummy, err := HashPassword(rand.Text())
	if err != nil {
		panic("access: " + err.Error()) // crypto/rand never fails on Linux
	}
	return &Sessions{
		users: users, opts: opts, guard: newGuard(), dummy: dummy,
		checks:   make(chan struct{}, max(2, runtime.NumCPU())),
		sessions: map[[32]byte]*session{},
	}
}

// Identify returns the identity of the request's session cookie: a user
// (Kind "user") with the role and cameras the configuration gives it now.
// A missing, forged, expired or ended session gives false.
func (s *Sessions) Identify(r *http.Request) (Identity, bool) {
	id, _, ok := s.identify(r)
	return id, ok
}

// Bind is Identify for a request that may stay open (the console's push
// channel, the events' stream, a live view): the request it returns has a
// context that ends when the session ends (a logout, MaxAge, its user
// removed or its password changed, as Sweep finds), and while it is open
// the session is in use and does not expire for being idle.
func (s *Sessions) Bind(r *http.Request) (*http.Request, Identity, bool) {
	id, sess, ok := s.identify(r)
	if !ok {
		return r, id, false
	}
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(sess.ctx, cancel)
	s.mu.Lock()
	sess.open++
	s.mu.Unlock()
	context.AfterFunc(ctx, func() {
		stop()
		s.mu.Lock()
		sess.open--
		sess.lastSeen = s.opts.Now()
		s.mu.Unlock()
	})
	return r.WithContext(ctx), id, true
}

func (s *Sessions) identify(r *http.Request) (Identity, *session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Identity{}, nil, false
	}
	key, ok := sessionKey(c.Value)
	if !ok {
		return Identity{}, nil, false
	}
	now := s.opts.Now()
	s.mu.Lock()
	sess, ok := s.sessions[key]
	if ok && s.expired(sess, now) {
		s.end(key)
		ok = false
	}
	if ok {
		sess.lastSeen = now
	}
	s.mu.Unlock()
	if !ok {
		return Identity{}, nil, false
	}
	u, ok := s.current(sess)
	if !ok {
		s.mu.Lock()
		s.end(key)
		s.mu.Unlock()
		return Identity{}, nil, false
	}
	return Identity{Name: u.Name, Kind: sess.kind, Role: u.Role, Cameras: u.Cameras, Address: addressOf(r)}, sess, true
}

// current returns the user (or token) of sess as the configuration has it
// now, and false when it was removed or its password hash (the token)
// changed.
func (s *Sessions) current(sess *session) (User, bool) {
	lookup := s.users.User
	if sess.kind == "token" {
		lookup = s.users.NamedToken
	}
	u, ok := lookup(sess.user)
	return u, ok && sha256.Sum256([]byte(u.PasswordHash)) == sess.hashSum
}

// Sweep ends the sessions that expired and those whose user was removed or
// whose password hash changed, with their bound requests. The agent calls
// it every few seconds.
func (s *Sessions) Sweep() {
	now := s.opts.Now()
	s.mu.Lock()
	live := make(map[[32]byte]*session, len(s.sessions))
	for k, sess := range s.sessions {
		if s.expired(sess, now) {
			s.end(k)
		} else {
			live[k] = sess
		}
	}
	s.mu.Unlock()
	// The users are looked up without s.mu: the lookup takes the agent's
	// lock, which is not held while calling Sessions.
	for k, sess := range live {
		if _, ok := s.current(sess); !ok {
			s.mu.Lock()
			s.end(k)
			s.mu.Unlock()
		}
	}
}

// Count is the number of sessions kept (expired ones until the next
// Sweep).
func (s *Sessions) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// sessionKey is the map key of a cookie's session ID: its SHA-256, for an
// ID of 32 bytes in unpadded base64url.
func sessionKey(id string) ([32]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return [32]byte{}, false
	}
	return sha256.Sum256(raw), true
}

// LoginRequest is the body of POST /v1/login, as JSON or as a form: a user
// and its password, or an API token.
type LoginRequest struct {
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
}

// SessionInfo answers POST /v1/login and GET /v1/session.
type SessionInfo struct {
	// User is the session's identity; nil without a session.
	User *Identity `json:"user"`
	// Login says whether the site has users to log in as (else only a
	// token logs in).
	Login bool `json:"login"`
	// IdleTimeout and MaxAge are the session's limits, in seconds.
	IdleTimeout int `json:"idle_timeout_s,omitempty"`
	MaxAge      int `json:"max_age_s,omitempty"`
}

// ServeLogin answers POST /v1/login: 200 and the session cookie for a
// right password or token, 401 for a wrong user or password (the same
// answer for both) or a wrong token, 429 with Retry-After while failed
// logins from the client's address or for the user are being slowed, 400
// for a request without a user and a password or a token. A token's
// session is the token's identity (its name, role and cameras).
func (s *Sessions) ServeLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "a login must come from this server's own console (the Origin header names another site)")
		return
	}
	req, err := readLogin(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	addr := addressOf(r)
	key := addressKey(r.RemoteAddr)
	var u User
	known := false
	if req.Token == "" {
		u, known = s.users.User(req.User)
	}
	name := ""
	if known {
		name = u.Name
	}
	now := s.opts.Now()
	if wait := s.guard.admit(name, key, now); wait > 0 {
		s.opts.OnFailure(LoginFailure{User: name, Address: addr, Reason: FailedThrottled, Wait: wait, Time: now})
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("too many failed logins: try again in %d s", secs))
		return
	}
	var ok bool
	reason, refusal := FailedPassword, "wrong user name or password"
	if req.Token != "" {
		u, ok = s.users.Token(req.Token)
		reason, refusal = FailedToken, "wrong token"
	} else {
		hash := s.dummy
		if known {
			hash = u.PasswordHash
		}
		if ok, err = s.check(r.Context(), hash, req.Password); err != nil {
			return // the client went away
		}
		ok = ok && known
		if !known {
			reason = FailedUnknownUser
		}
	}
	now = s.opts.Now()
	if !ok {
		s.guard.failed(name, key, now)
		s.opts.OnFailure(LoginFailure{User: name, Address: addr, Reason: reason, Wait: s.guard.wait(name, key, now), Time: now})
		writeError(w, http.StatusUnauthorized, refusal)
		return
	}
	s.guard.succeeded(u.Name, key, now)
	id, err := s.create(u, now)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	http.SetCookie(w, s.cookie(id, int(s.opts.MaxAge/time.Second)))
	ident := Identity{Name: u.Name, Kind: u.kind(), Role: u.Role, Cameras: u.Cameras, Address: addr}
	writeJSON(w, http.StatusOK, s.info(&ident))
}

// kind is u's Identity.Kind: "user" unless u is a token.
func (u User) kind() string {
	if u.Kind == "token" {
		return "token"
	}
	return "user"
}

// ServeLogout answers POST /v1/logout: the request's session ends and its
// cookie is cleared; 204 also without a session.
func (s *Sessions) ServeLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "a logout must come from this server's own console (the Origin header names another site)")
		return
	}
	if c, err := r.Cookie(CookieName); err == nil {
		if key, ok := sessionKey(c.Value); ok {
			s.mu.Lock()
			s.end(key)
			s.mu.Unlock()
		}
	}
	http.SetCookie(w, s.cookie("", -1))
	w.WriteHeader(http.StatusNoContent)
}

// ServeSession answers GET /v1/session: who the request's session cookie
// belongs to, if anyone, and whether the site has users to log in as (the
// console shows its login form when it has and the request has no session).
func (s *Sessions) ServeSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var who *Identity
	if id, ok := s.Identify(r); ok {
		who = &id
	}
	writeJSON(w, http.StatusOK, s.info(who))
}

func (s *Sessions) info(who *Identity) SessionInfo {
	return SessionInfo{User: who, Login: s.users.Any(),
		IdleTimeout: int(s.opts.IdleTimeout / time.Second), MaxAge: int(s.opts.MaxAge / time.Second)}
}

// cookie is the session cookie: sent only over HTTPS (browsers count
// http://localhost and 127.0.0.1 as secure too), never to scripts, never
// with a request another site starts.
func (s *Sessions) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: CookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
}

// check compares a password with a hash, at most len(s.checks) at once.
func (s *Sessions) check(ctx context.Context, hash, password string) (bool, error) {
	select {
	case s.checks <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.checks }()
	return CheckPassword(hash, password), nil
}

// create makes a session of u and returns its ID.
func (s *Sessions) create(u User, now time.Time) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("making a session ID: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= maxSessions {
		s.evict(now)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.sessions[sha256.Sum256(raw)] = &session{user: u.Name, kind: u.kind(), hashSum: sha256.Sum256([]byte(u.PasswordHash)),
		created: now, lastSeen: now, ctx: ctx, cancel: cancel}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// evict ends the expired sessions and, if none has, the one used longest
// ago; s.mu is held.
func (s *Sessions) evict(now time.Time) {
	var oldest *[32]byte
	var oldestSeen time.Time
	for k, sess := range s.sessions {
		if s.expired(sess, now) {
			s.end(k)
			continue
		}
		if oldest == nil || sess.lastSeen.Before(oldestSeen) {
			oldest, oldestSeen = &k, sess.lastSeen
		}
	}
	if len(s.sessions) >= maxSessions && oldest != nil {
		s.end(*oldest)
	}
}

// readLogin reads a login request: JSON, or a form
// (application/x-www-form-urlencoded), of at most 64 KiB.
func readLogin(w http.ResponseWriter, r *http.Request) (LoginRequest, error) {
	var req LoginRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return req, fmt.Errorf("reading the login: %w", err)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.Unmarshal(body, &req); err != nil {
			return req, errors.New(`a login is {"user": NAME, "password": PASSWORD} or {"token": TOKEN}`)
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, errors.New("the login form cannot be read")
		}
		req.User, req.Password, req.Token = form.Get("user"), form.Get("password"), form.Get("token")
	default:
		return req, fmt.Errorf("a login is JSON or a form (application/x-www-form-urlencoded), not %q", ct)
	}
	if req.Token == "" && (req.User == "" || req.Password == "") {
		return req, errors.New("a login needs a user and a password, or a token")
	}
	return req, nil
}

// sameOrigin reports whether a browser's request comes from a page of this
// server: its Origin header, when there is one, names the request's host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// addressOf is the request's client IP address.
func addressOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError answers as the API does: {"error": MESSAGE}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{msg})
}
