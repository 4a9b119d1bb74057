package agent_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// waitAudit polls GET /v1/audit on a server until cond holds.
func waitAudit(t *testing.T, s *devsite.Site, on string, f api.AuditFilter, cond func([]api.AuditEntry) bool) []api.AuditEntry {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	var last *api.AuditLog
	var lastErr error
	for ctx.Err() == nil {
		l, err := s.Client(on).Audit(ctx, f)
		if err == nil && cond(l.Entries) {
			return l.Entries
		}
		last, lastErr = l, err
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("audit log on %s never satisfied the test: last %+v, error %v", on, last, lastErr)
	return nil
}

func ofKind(es []api.AuditEntry, kind string) []api.AuditEntry {
	var out []api.AuditEntry
	for _, e := range es {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestAuditThroughTheAPI: each audited action through the real HTTP API
// of a 2-server site gives its entry, with who and what; the entries a
// follower records reach the master; they survive a master change; the
// log needs the token and shows no secret.
func TestAuditThroughTheAPI(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2"}, 1)
	ctx := ctxFor(t, 120*time.Second)
	site := s.Spec(s.CameraSpec(1, "rec-1"))
	hash, err := access.HashPassword("alice's secret")
	if err != nil {
		t.Fatal(err)
	}
	site.Users = []*spec.User{{Name: "alice", Role: "viewer", PasswordHash: hash}}
	const viewerToken = "vigil_a-viewer-token-of-the-lobby-display"
	site.Tokens = []*spec.Token{{Name: "lobby-display", Role: "viewer", Hash: access.HashToken(viewerToken)}}
	if _, err := s.Commit(ctx, site); err != nil { // through rec-1, which becomes the master
		t.Fatal(err)
	}
	t0 := time.Now()
	r := waitListing(t, s, "rec-2", t0.Add(-time.Minute), func(r *api.Recordings) bool {
		return len(r.Spans) > 0 && r.Spans[len(r.Spans)-1].End.Sub(r.Spans[0].Start) > 3*time.Second
	})
	start, end := r.Spans[0].Start, r.Spans[0].Start.Add(2*time.Second)

	// A follower's export, playback (two polls: one session) and live view.
	if _, err := s.Client("rec-2").Export(ctx, "cam1", start, end, "alice-laptop", io.Discard); err != nil {
		t.Fatal(err)
	}
	playlist := s.Server("rec-2").Addr() + "/v1/playback/cam1/index.m3u8?" + url.Values{"start": {start.Format(time.RFC3339Nano)}, "end": {end.Format(time.RFC3339Nano)}}.Encode()
	bearer := http.Header{"Authorization": {"Bearer " + s.Token}}
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, playlist, nil)
		req.Header = bearer
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("playlist: %s", resp.Status)
		}
	}
	wsd := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool()}}
	ws, _, err := wsd.DialContext(ctx, "wss"+strings.TrimPrefix(s.Server("rec-2").Addr(), "https")+"/v1/live/cam1", bearer)
	if err != nil {
		t.Fatal(err)
	}
	ws.ReadMessage()
	ws.Close()
	// Failed console logins: a wrong password, a password typed as the
	// user's name (not recorded).
	for _, body := range []string{`{"user":"alice","password":"guess"}`, `{"user":"alice's secret","password":"x"}`} {
		resp, err := s.HTTPClient().Post(s.Server("rec-2").Addr()+"/v1/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("login %s: %s", body, resp.Status)
		}
	}
	// Refusals: no token, a wrong token, a viewer's token.
	for _, tok := range []string{"", "not-the-token-at-all", viewerToken} {
		req, _ := http.NewRequest(http.MethodPost, s.Server("rec-2").Addr()+"/v1/master/transfer", strings.NewReader(`{"server":"rec-2"}`))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("token %q: %s", tok, resp.Status)
		}
	}
	// The master moves, asked through the follower.
	if m, err := s.Client("rec-2").TransferMaster(ctx, "rec-2"); err != nil || m != "rec-2" {
		t.Fatalf("transfer: %q %v", m, err)
	}

	// The new master has every entry, the old master's included.
	es := waitAudit(t, s, "rec-2", api.AuditFilter{}, func(es []api.AuditEntry) bool {
		for _, k := range []string{api.AuditApply, api.AuditExport, api.AuditPlayback, api.AuditLive, api.AuditAccessDenied, api.AuditLoginFailed, api.AuditMasterTransfer} {
			if len(ofKind(es, k)) == 0 {
				return false
			}
		}
		return true
	})
	st, err := s.Client("rec-2").State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(st.Spec)
	sum := sha256.Sum256(b)
	if a := ofKind(es, api.AuditApply); len(a) != 1 || a[0].User != "agent-token" || a[0].UserKind != "token" || a[0].Server != "rec-1" ||
		a[0].BaseRevision != 0 || a[0].Revision != 1 || a[0].Checksum != "sha256:"+hex.EncodeToString(sum[:]) || a[0].Address == "" {
		t.Errorf("apply entries %+v, want one by agent-token on rec-1, 0 → 1, with the checksum of the spec GET /v1/state shows", a)
	}
	if x := ofKind(es, api.AuditExport); len(x) != 1 || x[0].Camera != "cam1" || !x[0].Start.Equal(start) || !x[0].End.Equal(end) || x[0].Server != "rec-2" ||
		x[0].User != "agent-token" || !strings.HasPrefix(x[0].Detail, "signed, MP4 sha256:") || !strings.HasSuffix(x[0].Detail, "named by the client: alice-laptop") {
		t.Errorf("export entries %+v, want one of cam1's period on rec-2, signed", x)
	}
	if p := ofKind(es, api.AuditPlayback); len(p) != 1 || p[0].Camera != "cam1" || p[0].User != "agent-token" || p[0].Address != "127.0.0.1" || !p[0].Start.Equal(start) {
		t.Errorf("playback entries %+v, want one session of cam1 by agent-token from 127.0.0.1", p)
	}
	if l := ofKind(es, api.AuditLive); len(l) != 1 || l[0].Camera != "cam1" || l[0].Server != "rec-2" {
		t.Errorf("live entries %+v, want one of cam1 on rec-2 (not again on rec-1, which it was relayed from)", l)
	}
	var denied []string
	for _, e := range ofKind(es, api.AuditAccessDenied) {
		denied = append(denied, e.User+"|"+e.UserKind+"|"+e.Address+"|"+e.Detail)
	}
	slices.Sort(denied)
	if want := []string{
		"anonymous||127.0.0.1|POST /v1/master/transfer: missing credentials: log in to the console, or send a token (Authorization: Bearer, as vigil does with VIGIL_TOKEN)",
		`lobby-display|token|127.0.0.1|POST /v1/master/transfer: token "lobby-display" (viewer) may not use POST /v1/master/transfer: it needs the admin role`,
	}; !slices.Equal(denied, want) {
		t.Errorf("access.denied entries:\n%s\nwant\n%s", strings.Join(denied, "\n"), strings.Join(want, "\n"))
	}
	var logins []string
	for _, e := range ofKind(es, api.AuditLoginFailed) {
		logins = append(logins, e.User+"|"+e.UserKind+"|"+e.Address+"|"+e.Server+"|"+e.Detail)
	}
	slices.Sort(logins)
	if want := []string{
		"alice|user|127.0.0.1|rec-2|console login: wrong password",
		"anonymous||127.0.0.1|rec-2|POST /v1/master/transfer: wrong API token",
		"||127.0.0.1|rec-2|console login: unknown user",
	}; !slices.Equal(logins, want) {
		t.Errorf("login.failed entries:\n%s\nwant\n%s", strings.Join(logins, "\n"), strings.Join(want, "\n"))
	}
	if m := ofKind(es, api.AuditMasterTransfer); len(m) != 1 || m[0].Target != "rec-2" || m[0].Server != "rec-1" || m[0].User != "agent-token" || m[0].Address != "127.0.0.1" {
		t.Errorf("master transfer entries %+v, want one to rec-2, recorded by rec-1 with the client's address", m)
	}
	// Filters; the same log on the old master.
	if got := waitAudit(t, s, "rec-1", api.AuditFilter{User: "anonymous", Kind: "access,login"}, func(es []api.AuditEntry) bool { return len(es) == 2 }); got[0].Kind == got[1].Kind {
		t.Errorf("user=anonymous kind=access,login: %+v", got)
	}
	if l, err := s.Client("rec-1").Audit(ctx, api.AuditFilter{Since: time.Now().Add(time.Hour)}); err != nil || len(l.Entries) != 0 || l.Retention != "365d" {
		t.Errorf("since in an hour: %+v %v, want none, retention 365d", l, err)
	}
	// The log needs the token, and shows no secret.
	if code, _ := get(t, s, "", s.Server("rec-1").Addr()+"/v1/audit"); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/audit without a token: %d, want 401", code)
	}
	all, _ := json.Marshal(es)
	if strings.Contains(string(all), s.Token) || strings.Contains(string(all), "not-the-token-at-all") || strings.Contains(string(all), "secret") || strings.Contains(string(all), "argon2") || strings.Contains(string(all), viewerToken) {
		t.Errorf("the audit log shows a token: %s", all)
	}
}

// TestAuditFloodBound: 1,000 wrong tokens from one address grow the
// replicated log by a few aggregated entries that count all 1,000.
func TestAuditFloodBound(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 0)
	ctx := ctxFor(t, 120*time.Second)
	if _, err := s.Commit(ctx, s.Spec()); err != nil {
		t.Fatal(err)
	}
	s.Server("rec-1").Agent().SetAuditWindow(2 * time.Second)
	hc := s.HTTPClient()
	for range 1000 {
		req, _ := http.NewRequest(http.MethodPost, s.Server("rec-1").Addr()+"/v1/apply", strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer wrong-token-guess-1234")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	occurrences := func(es []api.AuditEntry) int {
		n := 0
		for _, e := range es {
			n += max(e.Count, 1)
		}
		return n
	}
	es := waitAudit(t, s, "rec-1", api.AuditFilter{Kind: api.AuditLoginFailed}, func(es []api.AuditEntry) bool { return occurrences(es) >= 1000 })
	if n := occurrences(es); n != 1000 || len(es) > 100 {
		t.Errorf("%d entries for %d failed logins, want all 1,000 counted in at most 100", len(es), n)
	}
	t.Logf("1,000 failed logins: %d entries", len(es))
	for _, e := range es[1:] {
		if e.Count > 0 && !strings.Contains(e.Detail, "aggregated") {
			t.Errorf("an aggregated entry that does not say so: %+v", e)
		}
	}
}
