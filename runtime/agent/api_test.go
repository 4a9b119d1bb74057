package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// TestAPI exercises the endpoints of one agent: tokens, stale and invalid
// applies, password fingerprints, events, health and metrics.
func TestAPI(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	ctx := ctxFor(t, 30*time.Second)
	site := s.Spec(s.CameraSpec(1, "rec-1"))
	site.Cameras[0].Password = "s3cret"
	const userHash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	const tokenHash = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	site.Users = []*spec.User{{Name: "alice", Role: "viewer", PasswordHash: userHash}}
	site.Tokens = []*spec.Token{{Name: "ci", Role: "admin", Hash: tokenHash}}

	// State-changing calls without the right token change nothing.
	for _, tok := range []string{"", "wrong"} {
		c := api.NewClient(s.Server("rec-1").Addr(), tok, api.WithCA(s.CA.Pool()))
		if _, err := c.Apply(ctx, api.ApplyRequest{Spec: site}); !errors.Is(err, api.ErrUnauthorized) {
			t.Errorf("apply with token %q: %v, want 401", tok, err)
		}
		if _, err := c.TransferMaster(ctx, "rec-1"); !errors.Is(err, api.ErrUnauthorized) {
			t.Errorf("master transfer with token %q: %v, want 401", tok, err)
		}
	}
	c := s.Client("rec-1")
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision != 0 || st.Spec != nil || st.Message == "" {
		t.Fatalf("after refused applies: revision %d, message %q", st.Revision, st.Message)
	}

	// An invalid spec is refused with diagnostics.
	bad := s.Spec(s.CameraSpec(1, "nowhere"))
	_, err = c.Apply(ctx, api.ApplyRequest{Spec: bad})
	var verr *api.ValidationError
	if !errors.As(err, &verr) || len(verr.Diagnostics) == 0 {
		t.Fatalf("invalid apply: %v, want a validation error with diagnostics", err)
	}
	if !strings.Contains(verr.Error(), "nowhere") {
		t.Errorf("diagnostics do not name the unknown server: %v", verr)
	}

	resp, err := c.Apply(ctx, api.ApplyRequest{Spec: site})
	if err != nil {
		t.Fatal(err)
	}
	// A spec planned against an old revision is refused with both revisions.
	_, err = c.Apply(ctx, api.ApplyRequest{Spec: site, BaseRevision: 0})
	var stale *api.StaleError
	if !errors.As(err, &stale) || stale.Revision != resp.Revision || stale.BaseRevision != 0 {
		t.Fatalf("stale apply: %v, want 409 naming revisions %d and 0", err, resp.Revision)
	}

	// The state shows the password only as a fingerprint, and re-applying
	// that state keeps the real password. (The apply answers on commit;
	// the agent's view shows the revision a moment later.)
	st, err = s.Wait(ctx, "rec-1", func(st *api.State) bool { return st.Revision >= resp.Revision })
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Spec.Cameras[0].Password; got != fingerprintIn(st, "s3cret") {
		t.Errorf("state shows password %q, want its fingerprint", got)
	}
	if u, tk := st.Spec.User("alice"), st.Spec.Token("ci"); u == nil || u.PasswordHash != fingerprintIn(st, userHash) || tk == nil || tk.Hash != fingerprintIn(st, tokenHash) {
		t.Errorf("state shows user %+v and token %+v, want their hashes' fingerprints", u, tk)
	}
	reapplied, err := c.Apply(ctx, api.ApplyRequest{Spec: *st.Spec, BaseRevision: st.Revision})
	if err != nil {
		t.Fatalf("re-applying the state's spec: %v", err)
	}
	unknown := *st.Spec
	unknown.Cameras = []*spec.Camera{s.CameraSpec(1, "rec-1")}
	unknown.Cameras[0].Password = "(sensitive:0123456789abcdef)"
	if _, err := c.Apply(ctx, api.ApplyRequest{Spec: unknown, BaseRevision: st.Revision + 1}); !errors.As(err, &verr) {
		t.Errorf("a fingerprint that matches no committed password: %v, want a validation error", err)
	}
	unknown = *st.Spec
	unknown.Tokens = []*spec.Token{{Name: "ci", Role: "admin", Hash: fingerprintIn(st, "sha256:other")}}
	if _, err := c.Apply(ctx, api.ApplyRequest{Spec: unknown, BaseRevision: st.Revision + 1}); !errors.As(err, &verr) || !strings.Contains(err.Error(), `Token "ci": hash is a fingerprint`) {
		t.Errorf("a token hash fingerprint that matches no committed hash: %v, want a validation error", err)
	}

	// Events: the backlog tells the story so far.
	evctx, cancel := context.WithCancel(ctx)
	events, err := c.Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for ev := range events {
		kinds[ev.Kind] = true
		if kinds["agent.started"] && kinds["config.applied"] && kinds["api.unauthorized"] {
			break
		}
	}
	cancel()
	if !kinds["agent.started"] || !kinds["config.applied"] || !kinds["api.unauthorized"] {
		t.Errorf("events backlog has kinds %v", kinds)
	}

	// Extensions (hot reload) report a bad configuration and raise events.
	a := s.Server("rec-1").Agent()
	a.SetConfigError("site.hcl:3: unknown server")
	a.Emit(api.Event{Severity: "error", Kind: "config.invalid", Message: "site.hcl:3: unknown server"})
	if st, err := c.State(ctx); err != nil || st.ConfigError != "site.hcl:3: unknown server" {
		t.Errorf("config error not in state: %v", err)
	}
	a.SetConfigError("")

	// The commit answers before the agent's view catches up with it: health
	// reads the view, so wait for the view to show the revision.
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return st.Revision >= reapplied.Revision }); err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(ctx)
	if err != nil || h.Status != "ok" || h.Revision != 2 || reapplied.Revision != 2 || h.Master != "rec-1" {
		t.Errorf("health: %+v, %v", h, err)
	}

	body := getAs(t, ctx, s, s.Server("rec-1").Addr()+"/metrics", s.Token)
	for _, want := range []string{"vigil_spec_revision 2", "vigil_master 1", `vigil_api_requests_total{code="401",endpoint="apply"} 2`, "vigil_recorder_"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestClientUnreachable(t *testing.T) {
	_, err := api.NewClient("127.0.0.1:1", "").State(ctxFor(t, 5*time.Second))
	var ue *api.UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot reach vigil agent at https://127.0.0.1:1: is it running?") {
		t.Errorf("error %v", err)
	}
}

// TestUnusableStorage: a storage path that cannot be created is reported
// in the state and by health, and does not stop the agent.
func TestUnusableStorage(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	blocker := filepath.Join(s.DataDir("rec-1"), "blocked")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	spec := s.Spec(s.CameraSpec(1, "rec-1"))
	spec.Servers[0].Storage[0].Path = filepath.Join(blocker, "recordings") // a file is in the way
	if _, err := s.Commit(ctxFor(t, 20*time.Second), spec); err != nil {
		t.Fatal(err)
	}
	st, err := s.Wait(ctxFor(t, 10*time.Second), "rec-1", func(st *api.State) bool { return strings.Contains(st.Message, "cannot") })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Message, "cannot open storage") || !strings.Contains(server(st, "rec-1").Message, "cannot record") {
		t.Errorf("state message %q, server message %q", st.Message, server(st, "rec-1").Message)
	}
	if h, err := s.Client("rec-1").Health(ctxFor(t, 5*time.Second)); err != nil || h.Status != "degraded" {
		t.Errorf("health %+v, %v; want degraded", h, err)
	}
}

// TestFailingCamera: a camera the recorder cannot reach is shown failing,
// with the recorder's error as the reason; a camera whose stream drops has
// a gap in its state once it records again.
func TestFailingCamera(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	bad := s.CameraSpec(2, "rec-1")
	bad.URL = "rtsp://127.0.0.1:9/nothing"
	if _, err := s.Commit(ctxFor(t, 20*time.Second), s.Spec(s.CameraSpec(1, "rec-1"), bad)); err != nil {
		t.Fatal(err)
	}
	st, err := s.Wait(ctxFor(t, 15*time.Second), "rec-1", func(st *api.State) bool {
		return camera(st, "cam2").State == api.CameraFailing && camera(st, "cam1").State == api.CameraRecording
	})
	if err != nil {
		t.Fatalf("%v: %s", err, describe(st))
	}
	if r := camera(st, "cam2").Reason; !strings.Contains(r, "rec-1: ") {
		t.Errorf("reason %q does not name the server and its error", r)
	}

	// camsim's Drop occasionally leaves a just-started session playing
	// (seen in about half of the runs), so drop again until a gap shows.
	lastDrop := time.Time{}
	st, err = s.Wait(ctxFor(t, 20*time.Second), "rec-1", func(st *api.State) bool {
		g := camera(st, "cam1").LastGap
		if g == nil && time.Since(lastDrop) > 4*time.Second {
			s.Cams.Drop("cam1")
			lastDrop = time.Now()
		}
		return g != nil && !g.End.IsZero() && camera(st, "cam1").State == api.CameraRecording
	})
	if err != nil {
		t.Fatalf("no closed gap after a dropped stream: %v: %s", err, describe(st))
	}
	t.Logf("gap after a dropped stream: %+v", *camera(st, "cam1").LastGap)
}

// A change of storage limits (here the free-space floor) or of a camera's
// retention reaches the recorder without restarting any camera's session.
func TestStorageLimitsChangeWithoutRestart(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	spec := s.Spec(s.CameraSpec(1, "rec-1"))
	if _, err := s.Commit(ctxFor(t, 20*time.Second), spec); err != nil {
		t.Fatal(err)
	}
	st := waitRecorded(t, s, "rec-1", map[string][]string{"cam1": {"rec-1"}}, 20*time.Second)
	since := camera(st, "cam1").Recorders[0].Since
	spec.Servers[0].Storage[0].MinFree = 1 << 20
	spec.Cameras[0].Retention = 24 * time.Hour
	rev, err := s.Commit(ctxFor(t, 20*time.Second), spec)
	if err != nil {
		t.Fatal(err)
	}
	st, err = s.Wait(ctxFor(t, 10*time.Second), "rec-1", func(st *api.State) bool { return st.Revision == rev })
	if err != nil {
		t.Fatal(err)
	}
	if r := camera(st, "cam1").Recorders; len(r) != 1 || r[0].State != "recording" || !r[0].Since.Equal(since) {
		t.Errorf("recorders %+v after the change, want the session recording since %s", r, since)
	}
	if n := len(s.Cams.Stats()["cam1"].Sessions); n != 1 {
		t.Errorf("camsim saw %d sessions, want the first one only", n)
	}
}
