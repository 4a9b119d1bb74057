package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/planner/apply"
	"vigil/runtime/api"
)

// fakeAgent serves GET /v1/state from a fixture and records applies.
type fakeAgent struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	state     api.State
	applies   []api.ApplyRequest
	transfers []string
	// refuse, when set, is the status and body of every apply.
	refuse     int
	refuseBody api.Error
	// lose503 answers the next n applies with 503 "master changed"; with
	// commitLost the change is committed all the same.
	lose503    int
	commitLost bool
	// behind is a server that does not report the committed revision.
	behind string
}

func newFakeAgent(t *testing.T, scenario string) *fakeAgent {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "plan", scenario)
	b, err := os.ReadFile(filepath.Join(dir, "live.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAgent{t: t}
	if err := json.Unmarshal(b, &f.state); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "live.hcl")); err == nil {
		cfg, diags := hcl.Load([]string{filepath.Join(dir, "live.hcl")}, hcl.LoadOptions{Env: []string{}})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		f.state.Spec, f.state.FingerprintKey = cfg.Sites[0].Redacted(spec.NewFingerprinter(testKey)), testKey
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/state":
		// Every server runs the committed revision at once.
		for i := range f.state.Servers {
			if f.state.Servers[i].Name != f.behind {
				f.state.Servers[i].Revision = f.state.Revision
			}
		}
		json.NewEncoder(w).Encode(f.state)
	case "/v1/master/transfer":
		var req api.TransferRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.transfers = append(f.transfers, req.Server)
		f.state.Master = req.Server
		json.NewEncoder(w).Encode(api.TransferResponse{Master: req.Server})
	case "/v1/apply":
		var req api.ApplyRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			f.t.Errorf("apply body: %v", err)
		}
		if f.lose503 > 0 {
			f.lose503--
			if f.commitLost {
				f.applies = append(f.applies, req)
				f.state.Revision++
				f.state.Spec = req.Spec.Redacted(spec.NewFingerprinter(testKey))
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(api.Error{Error: "leadership lost while committing"})
			return
		}
		if f.refuse != 0 {
			w.WriteHeader(f.refuse)
			json.NewEncoder(w).Encode(f.refuseBody)
			return
		}
		f.applies = append(f.applies, req)
		f.state.Revision++
		json.NewEncoder(w).Encode(api.ApplyResponse{Revision: f.state.Revision})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeAgent) appliesSeen() []api.ApplyRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.ApplyRequest(nil), f.applies...)
}

// testKey is the fingerprint key of the fake agents' states.
var testKey = []byte("test site fingerprint key")

func desiredOf(scenario string) string {
	return filepath.Join("..", "..", "testdata", "plan", scenario, "desired.hcl")
}

// vigil runs the command line in-process.
func vigil(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestPlanDetailedExitCode(t *testing.T) {
	f := newFakeAgent(t, "no-changes")
	code, out, errs := vigil(t, "plan", "-address", f.srv.URL, "-detailed-exitcode", desiredOf("no-changes"))
	if code != 0 || !strings.Contains(out, "No changes. The site matches the configuration.") {
		t.Fatalf("no changes: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vigil(t, "plan", "-address", f.srv.URL, "-detailed-exitcode", desiredOf("move-camera"))
	if code != 2 || !strings.Contains(out, "Plan: 0 to add, 0 to change, 0 to destroy, 1 to move.") {
		t.Fatalf("changes: exit %d\n%s%s", code, out, errs)
	}
	code, _, _ = vigil(t, "plan", "-address", f.srv.URL, desiredOf("move-camera"))
	if code != 0 {
		t.Fatalf("changes without -detailed-exitcode: exit %d, want 0", code)
	}
}

func TestPlanJSONIsOneDocument(t *testing.T) {
	f := newFakeAgent(t, "move-camera")
	out := filepath.Join(t.TempDir(), "plan")
	code, stdout, errs := vigil(t, "plan", "-address", f.srv.URL, "-json", "-out", out, desiredOf("move-camera"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Summary       struct{ Move int }
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if doc.FormatVersion != "2" || doc.Summary.Move != 1 {
		t.Errorf("format_version %q, moves %d", doc.FormatVersion, doc.Summary.Move)
	}
	if !strings.Contains(errs, "Saved the plan") {
		t.Errorf("the save message belongs on stderr with -json: %q", errs)
	}
}

func TestPlanRefusals(t *testing.T) {
	f := newFakeAgent(t, "wrong-site")
	code, _, errs := vigil(t, "plan", "-address", f.srv.URL, desiredOf("wrong-site"))
	if code != 1 || !strings.Contains(errs, `belongs to site "hq", but the configuration describes site "branch"`) {
		t.Errorf("wrong site: exit %d: %s", code, errs)
	}
	code, _, errs = vigil(t, "plan", "-address", f.srv.URL, "-fail", "rec-9", desiredOf("no-changes"))
	if code != 1 || !strings.Contains(errs, `cannot simulate the failure of "rec-9"`) {
		t.Errorf("unknown -fail server: exit %d: %s", code, errs)
	}
	g := newFakeAgent(t, "remove-answering-server")
	out := filepath.Join(t.TempDir(), "plan")
	code, stdout, errs := vigil(t, "plan", "-address", g.srv.URL, "-out", out, desiredOf("remove-answering-server"))
	if code != 1 || !strings.Contains(stdout, "run the command against another server of the site with -address") {
		t.Errorf("removing the answering server: exit %d\n%s%s", code, stdout, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a plan with errors was saved")
	}
	f.srv.Close()
	code, _, errs = vigil(t, "plan", "-address", f.srv.URL, desiredOf("no-changes"))
	if code != 1 || !strings.Contains(errs, "cannot reach vigil agent") {
		t.Errorf("unreachable: exit %d: %s", code, errs)
	}
}

func TestApplyPlanFile(t *testing.T) {
	f := newFakeAgent(t, "sensitive-change")
	planFile := filepath.Join(t.TempDir(), "hq.plan")
	if code, out, errs := vigil(t, "plan", "-address", f.srv.URL, "-out", planFile, desiredOf("sensitive-change")); code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	st, err := os.Stat(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %v, want 0600", st.Mode().Perm())
	}

	code, out, errs := vigil(t, "apply", "-address", f.srv.URL, planFile)
	if code != 0 || !strings.Contains(out, "Apply complete! Site hq is at revision 5: 0 added, 2 changed, 0 destroyed.") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out, "n3w-Secr3t!") {
		t.Errorf("apply shows a sensitive value")
	}
	applies := f.appliesSeen()
	if len(applies) != 1 || applies[0].BaseRevision != 4 {
		t.Fatalf("applies %+v, want one against revision 4", applies)
	}
	// The spec sent is the real one, not the redacted one.
	if got := applies[0].Spec.Camera("entrance").Password; got != "n3w-Secr3t!" {
		t.Errorf("applied password %q, want the configuration's", got)
	}

	// The site is now at revision 5: the same file is stale.
	code, _, errs = vigil(t, "apply", "-address", f.srv.URL, planFile)
	want := "the site changed since this plan was made: planned against revision 4, the site is at revision 5; run vigil plan again"
	if code != 1 || !strings.Contains(errs, want) {
		t.Errorf("stale plan: exit %d: %s", code, errs)
	}
	if n := len(f.appliesSeen()); n != 1 {
		t.Errorf("a stale plan was sent (%d applies)", n)
	}
}

func TestApplyTamperedPlanFile(t *testing.T) {
	f := newFakeAgent(t, "move-camera")
	planFile := filepath.Join(t.TempDir(), "hq.plan")
	if code, _, errs := vigil(t, "plan", "-address", f.srv.URL, "-out", planFile, desiredOf("move-camera")); code != 0 {
		t.Fatalf("plan: %s", errs)
	}
	b, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	// Rename a camera of the saved spec.
	tampered := bytes.Replace(b, []byte(`"name": "lobby",`), []byte(`"name": "lobby2",`), 1)
	if bytes.Equal(tampered, b) {
		t.Fatal("the test's edit did not change the file")
	}
	if err := os.WriteFile(planFile, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := vigil(t, "apply", "-address", f.srv.URL, planFile)
	if code != 1 || !strings.Contains(errs, "the plan file was modified after vigil plan wrote it") {
		t.Errorf("tampered plan: exit %d: %s", code, errs)
	}
	if n := len(f.appliesSeen()); n != 0 {
		t.Errorf("a tampered plan was sent")
	}
}

func TestApplyConfirmation(t *testing.T) {
	for _, tc := range []struct {
		stdin   string
		code    int
		applied int
		msg     string
	}{
		{"", 1, 0, "no answer on standard input"},
		{"no\n", 1, 0, "Apply cancelled: only 'yes' is accepted."},
		{"yes\n", 0, 1, "Apply complete! Site hq is at revision 5"},
	} {
		f := newFakeAgent(t, "add-cameras")
		applyStdin = strings.NewReader(tc.stdin)
		code, out, errs := vigil(t, "apply", "-address", f.srv.URL, desiredOf("add-cameras"))
		applyStdin = os.Stdin
		if code != tc.code || len(f.appliesSeen()) != tc.applied || !strings.Contains(out+errs, tc.msg) {
			t.Errorf("stdin %q: exit %d, %d applies\n%s%s", tc.stdin, code, len(f.appliesSeen()), out, errs)
		}
		if !strings.Contains(out, "Do you want to apply these changes to site hq?") {
			t.Errorf("stdin %q: no question asked:\n%s", tc.stdin, out)
		}
	}
}

func TestApplyRefused(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   api.Error
		want   string
	}{
		{http.StatusConflict, api.Error{Error: "stale", Revision: 6, BaseRevision: 4},
			"planned against revision 4, the site is at revision 6; run vigil plan again. Nothing was applied."},
		{http.StatusUnprocessableEntity, api.Error{Error: "invalid spec", Diagnostics: []spec.Diagnostic{{Severity: "error", Summary: "Reference to undeclared server"}}},
			"the site refused the configuration: invalid spec\n  error: Reference to undeclared server"},
		{http.StatusUnauthorized, api.Error{Error: "missing token"}, "set VIGIL_TOKEN"},
		{http.StatusServiceUnavailable, api.Error{Error: "no quorum"}, "the site could not commit the change (no quorum). A site without a master"},
	} {
		f := newFakeAgent(t, "add-cameras")
		f.refuse, f.refuseBody = tc.status, tc.body
		code, out, errs := vigil(t, "apply", "-auto-approve", "-address", f.srv.URL, desiredOf("add-cameras"))
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%d: exit %d, stderr %q, want %q\n%s", tc.status, code, errs, tc.want, out)
		}
	}
}

func TestApplyTransfersMasterFirst(t *testing.T) {
	f := newFakeAgent(t, "remove-master")
	code, out, errs := vigil(t, "apply", "-auto-approve", "-address", f.srv.URL, desiredOf("remove-master"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if len(f.transfers) != 1 || f.transfers[0] != "rec-2" || len(f.appliesSeen()) != 1 {
		t.Errorf("transfers %v, applies %d; want a transfer to rec-2, then the apply", f.transfers, len(f.appliesSeen()))
	}
	if !strings.Contains(out, "Transferring the master role from rec-1 to rec-2...") {
		t.Errorf("output:\n%s", out)
	}
}

func TestApplyRetriesWhenTheMasterMoves(t *testing.T) {
	f := newFakeAgent(t, "add-cameras")
	f.lose503 = 1
	code, out, errs := vigil(t, "apply", "-auto-approve", "-address", f.srv.URL, desiredOf("add-cameras"))
	if code != 0 || len(f.appliesSeen()) != 1 || !strings.Contains(out, "Sending the change again...") {
		t.Errorf("retry: exit %d, %d applies\n%s%s", code, len(f.appliesSeen()), out, errs)
	}

	// The lost answer hid a commit: the site already has the change.
	g := newFakeAgent(t, "add-cameras")
	g.lose503, g.commitLost = 1, true
	code, out, errs = vigil(t, "apply", "-auto-approve", "-address", g.srv.URL, desiredOf("add-cameras"))
	if code != 0 || len(g.appliesSeen()) != 1 || !strings.Contains(out, "Apply complete! Site hq is at revision 5") {
		t.Errorf("commit behind a lost answer: exit %d, %d applies\n%s%s", code, len(g.appliesSeen()), out, errs)
	}
}

// vigil apply returns once every live server reports the new revision; one
// that does not is named, and the apply succeeded all the same.
func TestApplyNamesAServerBehind(t *testing.T) {
	defer func(o apply.Options) { applyOptions = o }(applyOptions)
	applyOptions.CatchUp, applyOptions.Poll = 50*time.Millisecond, 5*time.Millisecond
	f := newFakeAgent(t, "add-cameras")
	f.behind = "rec-3"
	code, out, errs := vigil(t, "apply", "-auto-approve", "-address", f.srv.URL, desiredOf("add-cameras"))
	if code != 0 || !strings.Contains(out, "Apply complete! Site hq is at revision 5") ||
		!strings.Contains(errs, "Note: rec-3 has not caught up with revision 5 yet; a plan against it may still show the old configuration for a moment.") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

func TestPlanJSONFailures(t *testing.T) {
	f := newFakeAgent(t, "no-changes")
	bad := filepath.Join(t.TempDir(), "site.hcl")
	if err := os.WriteFile(bad, []byte("site \"hq\" {\n  camera \"a\" {\n    server = \"nowhere\"\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ := vigil(t, "plan", "-json", "-address", f.srv.URL, bad)
	var doc struct {
		Error       string
		Diagnostics []spec.Diagnostic
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 1 {
		t.Fatalf("invalid configuration: exit %d, not one JSON document (%v):\n%s", code, err, stdout)
	}
	if !strings.Contains(doc.Error, "the configuration has errors") || len(doc.Diagnostics) == 0 || doc.Diagnostics[0].Range == nil {
		t.Errorf("invalid configuration: %+v", doc)
	}

	f.srv.Close()
	code, stdout, _ = vigil(t, "plan", "-json", "-address", f.srv.URL, desiredOf("no-changes"))
	doc.Error = ""
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || code != 1 || !strings.Contains(doc.Error, "cannot reach vigil agent") {
		t.Errorf("unreachable: exit %d, %v:\n%s", code, err, stdout)
	}
}

func TestPlanPicksTheLiveSite(t *testing.T) {
	f := newFakeAgent(t, "no-changes")
	dir := t.TempDir()
	b, err := os.ReadFile(desiredOf("no-changes"))
	if err != nil {
		t.Fatal(err)
	}
	branch := "site \"branch\" {\n  server \"br-1\" {\n    address = \"10.9.0.1\"\n    storage \"main\" {\n      path = \"/srv\"\n    }\n  }\n}\n"
	for name, src := range map[string]string{"hq.hcl": string(b), "branch.hcl": branch} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := vigil(t, "plan", "-detailed-exitcode", "-address", f.srv.URL, dir)
	if code != 0 || !strings.Contains(out, "No changes.") || !strings.Contains(errs, `the configuration describes 2 sites; this plan covers site "hq"`) {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

// A refused commit after the master role moved says that the role stays
// moved, since "Nothing was applied" alone would not be true.
func TestApplyRefusedAfterMasterTransferSaysSo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/master/transfer" {
			json.NewEncoder(w).Encode(api.TransferResponse{Master: "b"})
			return
		}
		http.Error(w, "no quorum", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p := &planner.SitePlan{Site: "s", Desired: &spec.Site{Name: "s"}, Changes: []planner.Change{
		{Address: "site.s.master", Type: planner.TypeMaster, Action: planner.TransferMaster, From: "a", To: "b"},
		{Address: "site.s.server.a", Type: planner.TypeServer, Name: "a", Action: planner.Delete},
	}}
	var out, errs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if code := applyPlan(ctx, api.NewClient(srv.URL, ""), p, &out, &errs); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(errs.String(), "Note: the master role had already moved to b; it stays there.") {
		t.Errorf("stderr:\n%s", errs.String())
	}
}

// A configuration that keeps a camera's committed password (it gives the
// fingerprint the state shows) while pointing the camera at another host
// is refused at plan time, naming the camera and what to do; the same
// host is fine.
func TestPlanRefusesKeptPasswordForAnotherHost(t *testing.T) {
	f := newFakeAgent(t, "sensitive-change")
	live, err := os.ReadFile(filepath.Join("..", "..", "testdata", "plan", "sensitive-change", "live.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	kept := spec.NewFingerprinter(testKey)("old-Secr3t!")
	for _, tc := range []struct {
		host string
		code int
	}{{"10.1.0.2", 0}, {"10.9.9.9", 1}} {
		dir := t.TempDir()
		desired := strings.Replace(string(live), `"rtsp://viewer:${var.camera_password}@10.1.0.2/stream1"`, `"rtsp://viewer:`+kept+`@`+tc.host+`/stream1"`, 1)
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(desired), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := vigil(t, "plan", "-address", f.srv.URL, dir)
		if code != tc.code {
			t.Errorf("host %s: exit %d, want %d\n%s%s", tc.host, code, tc.code, out, errs)
		}
		if tc.code == 1 && (!strings.Contains(out+errs, "camera lobby moves from rtsp://10.1.0.2:554 to rtsp://10.9.9.9:554 but keeps its committed password") ||
			!strings.Contains(out+errs, "give the camera's password again")) {
			t.Errorf("host %s: the plan does not name the camera and what to do:\n%s%s", tc.host, out, errs)
		}
		if strings.Contains(out+errs, "old-Secr3t!") {
			t.Errorf("the plan shows the password:\n%s%s", out, errs)
		}
	}
}
