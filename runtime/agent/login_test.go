package agent_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// TestConsoleLogin: a user of the committed spec logs in on an agent, the
// session cookie identifies it (GET /v1/session), logout ends it; failed
// logins are counted by reason and reported as one auth.login_failed event
// a minute, naming no password, not even one typed as the user's name.
func TestConsoleLogin(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 0)
	ctx := ctxFor(t, 60*time.Second)
	hash, err := access.HashPassword("alice's secret")
	if err != nil {
		t.Fatal(err)
	}
	site := s.Spec()
	site.Users = []*spec.User{{Name: "alice", Role: "operator", Cameras: []string{"lobby-*"}, PasswordHash: hash}}
	rev, err := s.Commit(ctx, site)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return st.Revision >= rev }); err != nil {
		t.Fatal(err)
	}
	addr := s.Server("rec-1").Addr()
	do := func(method, path, body string, cookie *http.Cookie) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	session := func(c *http.Cookie) access.SessionInfo {
		t.Helper()
		_, body := do("GET", "/v1/session", "", c)
		var info access.SessionInfo
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			t.Fatalf("GET /v1/session: %v: %s", err, body)
		}
		return info
	}
	if info := session(nil); info.User != nil || !info.Login {
		t.Errorf("without a cookie: %+v; want no user and login true", info)
	}

	for _, body := range []string{`{"user":"alice","password":"guess"}`, `{"user":"alice","password":"guess2"}`, `{"user":"alice's secret","password":"x"}`} {
		if resp, b := do("POST", "/v1/login", body, nil); resp.StatusCode != 401 || !strings.Contains(b, "wrong user name or password") {
			t.Fatalf("wrong login %s: %s %s", body, resp.Status, b)
		}
	}
	resp, body := do("POST", "/v1/login", `{"user":"alice","password":"alice's secret"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %s %s", resp.Status, body)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == access.CookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %q", resp.Header.Get("Set-Cookie"))
	}
	if info := session(cookie); info.User == nil || info.User.Name != "alice" || info.User.Role != access.Operator || info.User.Kind != "user" {
		t.Errorf("with the cookie: %+v", info)
	}
	if resp, _ := do("POST", "/v1/logout", "", cookie); resp.StatusCode != 204 {
		t.Errorf("logout: %s", resp.Status)
	}
	if info := session(cookie); info.User != nil {
		t.Errorf("after logout: %+v", info)
	}

	metrics := getAs(t, ctx, s, addr+"/metrics", s.Token)
	for _, want := range []string{`vigil_login_failures_total{reason="wrong password"} 2`, `vigil_login_failures_total{reason="unknown user"} 1`, `vigil_api_requests_total{code="401",endpoint="login"} 3`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	s.Server("rec-1").Agent().Emit(api.Event{Severity: "info", Kind: "test.marker", Message: "end"})
	evctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := s.Client("rec-1").Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for ev := range events {
		if strings.Contains(ev.Message, "secret") || strings.Contains(ev.Message, "guess") {
			t.Errorf("event %s names a password: %s", ev.Kind, ev.Message)
		}
		if ev.Kind == "auth.login_failed" {
			failed = append(failed, ev.Message)
		}
		if ev.Kind == "test.marker" {
			break
		}
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], "failed login as alice from 127.") || !strings.HasSuffix(failed[0], ": wrong password") {
		t.Errorf("auth.login_failed events: %q; want one, 'failed login as alice from ADDRESS: wrong password'", failed)
	}
}
