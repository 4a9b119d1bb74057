package agent_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// fingerprintIn is the fingerprint of secret in a state read with the API
// token (which carries the site's fingerprint key).
func fingerprintIn(st *api.State, secret string) string {
	return spec.NewFingerprinter(st.FingerprintKey)(secret)
}

// stateAt waits for the state of a committed revision.
func stateAt(ctx context.Context, t *testing.T, c *api.Client, rev uint64) *api.State {
	t.Helper()
	for {
		st, err := c.State(ctx)
		if err == nil && st.Revision >= rev && st.Spec != nil {
			return st
		}
		if ctx.Err() != nil {
			t.Fatalf("the state never shows revision %d: %v", rev, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecretsStaySecret: the camera password, the site key and the key of
// the fingerprints never show in a viewer's state, events or metrics;
// the state's fingerprints cannot be tested against a guessed password
// without the site's key; a caller with the API token gets the key and can
// compare. A camera's tls_fingerprint is not secret and shows.
func TestSecretsStaySecret(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Cameras: 1, Keepalive: time.Second, Dir: t.TempDir(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 30*time.Second)
	const password = "correct-horse-battery"
	site := s.Spec(s.CameraSpec(1, "rec-1"), s.CameraSpec(2, "rec-1"))
	site.Cameras[0].Password = password
	site.Cameras[1].URL = "rtsps://viewer:" + password + "@127.0.0.1:1/s"
	site.Cameras[1].TLSFingerprint = "sha256:" + strings.Repeat("ab", 32)
	viewer, hash, err := access.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	site.Tokens = []*spec.Token{{Name: "viewer", Role: "viewer", Hash: hash}}
	admin := s.Client("rec-1")
	resp, err := admin.Apply(ctx, api.ApplyRequest{Spec: site})
	if err != nil {
		t.Fatal(err)
	}
	stateAt(ctx, t, admin, resp.Revision)

	addr := s.Server("rec-1").Addr()
	_, viewed := get(t, s, viewer, addr+"/v1/state")
	_, metrics := get(t, s, viewer, addr+"/metrics")
	// The events up to the apply's (the backlog comes first).
	evctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := admin.Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	var events strings.Builder
	for ev := range stream {
		fmt.Fprintf(&events, "%+v\n", ev)
		if ev.Kind == "config.applied" {
			break
		}
	}
	cancel()
	st, err := api.NewClient(addr, viewer, api.WithCA(s.CA.Pool())).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	withToken, err := admin.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fpKey := withToken.FingerprintKey
	if len(fpKey) == 0 || st.FingerprintKey != nil {
		t.Fatalf("fingerprint key: %d bytes with the token, %d for a viewer; want it only with the token", len(fpKey), len(st.FingerprintKey))
	}
	for what, out := range map[string]string{"state": string(viewed), "metrics": string(metrics), "events": events.String()} {
		for secret, text := range map[string]string{
			"the camera password": password,
			"the site key":        base64.StdEncoding.EncodeToString(key),
			"the fingerprint key": base64.StdEncoding.EncodeToString(fpKey),
		} {
			if strings.Contains(out, text) {
				t.Errorf("the %s shows %s", what, secret)
			}
		}
	}
	if !strings.Contains(string(viewed), site.Cameras[1].TLSFingerprint) {
		t.Errorf("the state does not show cam2's tls_fingerprint (not a secret)")
	}

	got := st.Spec.Cameras[0].Password
	if !spec.IsFingerprint(got) || spec.IsLegacyFingerprint(got) {
		t.Fatalf("the state shows password %q, want a keyed fingerprint", got)
	}
	for _, guess := range []string{spec.LegacyFingerprint(password), spec.NewFingerprinter(nil)(password), spec.NewFingerprinter(key)(password)} {
		if guess == got {
			t.Errorf("a guess made without the fingerprint key (%s) matches the state's fingerprint", guess)
		}
	}
	if fingerprintIn(withToken, password) != got {
		t.Errorf("with the fingerprint key, the password's fingerprint is %s, not the state's %s", fingerprintIn(withToken, password), got)
	}
	if want := "rtsps://viewer:" + got + "@127.0.0.1:1/s"; st.Spec.Cameras[1].URL != want {
		t.Errorf("cam2's url in the state: %s, want %s", st.Spec.Cameras[1].URL, want)
	}
}

// TestKeptPasswordNeverSentElsewhere: a spec that keeps a camera's
// committed password (carries the state's fingerprint) may change the
// camera's path, not its scheme, host or port; a legacy fingerprint (of an
// earlier version) still keeps the password it matches.
func TestKeptPasswordNeverSentElsewhere(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	ctx := ctxFor(t, 30*time.Second)
	site := s.Spec(s.CameraSpec(1, "rec-1"))
	site.Cameras[0].Password = "s3cret"
	site.Cameras[0].URL = "rtsp://127.0.0.1:1/one"
	c := s.Client("rec-1")
	resp, err := c.Apply(ctx, api.ApplyRequest{Spec: site})
	if err != nil {
		t.Fatal(err)
	}
	rev := resp.Revision
	apply := func(edit func(cam *spec.Camera)) error {
		st := stateAt(ctx, t, c, rev)
		next := *st.Spec
		cam := *st.Spec.Cameras[0]
		edit(&cam)
		next.Cameras = []*spec.Camera{&cam}
		resp, err := c.Apply(ctx, api.ApplyRequest{Spec: next, BaseRevision: st.Revision})
		if err == nil {
			rev = resp.Revision
		}
		return err
	}
	var verr *api.ValidationError
	for _, url := range []string{"rtsp://203.0.113.9:1/one", "rtsp://127.0.0.1:2/one", "rtsps://127.0.0.1:1/one"} {
		err := apply(func(cam *spec.Camera) { cam.URL = url })
		if !errors.As(err, &verr) || !strings.Contains(err.Error(), "never sent to another host") {
			t.Errorf("kept password with url %s: %v, want a refusal", url, err)
		}
	}
	if err := apply(func(cam *spec.Camera) { cam.URL = "rtsp://127.0.0.1:1/two" }); err != nil {
		t.Fatalf("kept password, same host, another path: %v", err)
	}
	if err := apply(func(cam *spec.Camera) { cam.Password = spec.LegacyFingerprint("s3cret") }); err != nil {
		t.Fatalf("a legacy fingerprint of the committed password: %v", err)
	}
	if err := apply(func(cam *spec.Camera) { cam.Password = spec.LegacyFingerprint("other") }); !errors.As(err, &verr) {
		t.Errorf("a legacy fingerprint of another password: %v, want a refusal", err)
	}
	st := stateAt(ctx, t, c, rev)
	if cam := st.Spec.Cameras[0]; cam.URL != "rtsp://127.0.0.1:1/two" || cam.Password != fingerprintIn(st, "s3cret") {
		t.Errorf("after the applies: %s with password %s, want the new path and the kept password", cam.URL, cam.Password)
	}
}
