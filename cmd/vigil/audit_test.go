package main

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// auditAgent answers GET /v1/audit with log and records the query.
func auditAgent(t *testing.T, log api.AuditLog) (addr string, query *url.Values) {
	t.Helper()
	var q url.Values
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/audit" || r.Header.Get("Authorization") != "Bearer admin-token-123456" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"missing API token"}`))
			return
		}
		q = r.URL.Query()
		json.NewEncoder(w).Encode(log)
	}))
	t.Cleanup(srv.Close)
	// Its certificate is trusted as a site's CA would be.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	t.Setenv(api.EnvCACert, ca)
	return srv.URL, &q
}

var auditSample = api.AuditLog{Retention: "365d", Omitted: 3, Entries: []api.AuditEntry{
	{Time: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), Kind: api.AuditApply, User: "agent-token", UserKind: "token", Address: "10.0.0.5", Server: "rec-1",
		BaseRevision: 6, Revision: 7, Checksum: "sha256:9f86d081884c7d65"},
	{Time: time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC), Kind: api.AuditExport, User: "alice", UserKind: "user", Address: "10.0.0.7", Server: "rec-2", Camera: "gate",
		Start: time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 4, 8, 5, 0, 0, time.UTC), Detail: "signed, MP4 sha256:e3b0c442"},
	{Time: time.Date(2026, 12, 4, 9, 31, 0, 0, time.UTC), Kind: api.AuditLoginFailed, User: "anonymous", Address: "10.9.9.9", Server: "rec-1",
		Detail: "POST /v1/apply: wrong API token [aggregated: the same 999 more times within a minute]", Count: 999, Last: time.Date(2026, 12, 4, 9, 31, 59, 0, time.UTC)},
	{Time: time.Date(2026, 12, 4, 9, 40, 0, 0, time.UTC), Kind: api.AuditMasterTransfer, User: "agent-token", UserKind: "token", Address: "10.0.0.5", Server: "rec-1", Target: "rec-2"},
	{Time: time.Date(2026, 12, 4, 9, 45, 0, 0, time.UTC), Kind: api.AuditLive, User: "bob\x1b[2J", Address: "10.0.0.8", Server: "rec-2", Camera: "dock"},
}}

// TestAuditCommand: vigil audit prints the table (times in local time,
// control characters shown escaped) or JSON lines, passes its filters as
// the query, and warns of entries left out.
func TestAuditCommand(t *testing.T) {
	defer func(l *time.Location) { auditZone = l }(auditZone)
	auditZone = time.UTC
	t.Setenv("VIGIL_TOKEN", "admin-token-123456")
	addr, q := auditAgent(t, auditSample)

	code, out, errs := runArgs("audit", "-address", addr, "-user", "alice", "-kind", "export,apply", "-since", "2026-12-01T00:00:00Z", "-limit", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := `TIME                 KIND             USER         FROM      SERVER  WHAT
2026-12-04 09:00:00  apply            agent-token  10.0.0.5  rec-1   revision 7 (planned against 6); spec sha256:9f86d081884c7d65
2026-12-04 09:30:00  export           alice        10.0.0.7  rec-2   gate 2026-12-04 08:00:00 to 08:05:00; signed, MP4 sha256:e3b0c442
2026-12-04 09:31:00  login.failed     anonymous    10.9.9.9  rec-1   POST /v1/apply: wrong API token [aggregated: the same 999 more times within a minute]; (999 times, until 09:31:59)
2026-12-04 09:40:00  master.transfer  agent-token  10.0.0.5  rec-1   master role to rec-2
2026-12-04 09:45:00  live             bob\x1b[2J   10.0.0.8  rec-2   dock
`
	if out != want {
		t.Errorf("table:\n%s\nwant:\n%s", out, want)
	}
	if errs != "Warning: 3 older entries left out; narrow -since or raise -limit\n" {
		t.Errorf("stderr: %q", errs)
	}
	if got := q.Encode(); got != "kind=export%2Capply&limit=5&since=2026-12-01T00%3A00%3A00Z&user=alice" {
		t.Errorf("query: %s", got)
	}

	code, out, _ = runArgs("audit", "-address", addr, "-json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != len(auditSample.Entries) {
		t.Fatalf("-json: exit %d, %d lines:\n%s", code, len(lines), out)
	}
	if lines[0] != `{"time":"2026-12-04T09:00:00Z","kind":"apply","user":"agent-token","user_kind":"token","address":"10.0.0.5","server":"rec-1","base_revision":6,"revision":7,"checksum":"sha256:9f86d081884c7d65"}` {
		t.Errorf("-json first line: %s", lines[0])
	}
	if !strings.Contains(q.Get("since"), "T") {
		t.Errorf("the default -since (7d) was not sent as a time: %v", q)
	}

	empty, _ := auditAgent(t, api.AuditLog{Retention: "90d"})
	if code, out, _ := runArgs("audit", "-address", empty); code != 0 || out != "No audit entries match (the site keeps them for 90d).\n" {
		t.Errorf("no entries: exit %d: %q", code, out)
	}

	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"audit", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"audit", "-since", "last week"}, 2, "-since"},
		{[]string{"audit", "-kind", "exprot"}, 2, `-kind "exprot" matches no kind of audit entry (apply, master.transfer, export,`},
		{[]string{"audit", "-limit", "-1"}, 2, "-limit -1"},
		{[]string{"audit", "-address", "http://127.0.0.1:1"}, 1, "Error:"},
	} {
		code, _, errs := runArgs(tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.err) {
			t.Errorf("vigil %s: exit %d, %q; want %d and %q", strings.Join(tt.args, " "), code, errs, tt.code, tt.err)
		}
	}
	t.Setenv("VIGIL_TOKEN", "")
	if code, _, errs := runArgs("audit", "-address", addr); code != 1 || !strings.Contains(errs, "missing API token") {
		t.Errorf("without a token: exit %d: %s", code, errs)
	}
}
