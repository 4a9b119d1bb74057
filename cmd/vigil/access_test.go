package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// TestReadsNeedAToken: on a site with users, the read commands send
// VIGIL_TOKEN, and say what to do when the agent refuses: set it (401),
// or get a token with the role needed (403).
func TestReadsNeedAToken(t *testing.T) {
	s := startSite(t, []string{"rec-1"}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	viewer, hash, err := access.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	site := s.Spec(s.CameraSpec(1, "rec-1"))
	site.Tokens = []*spec.Token{{Name: "wall", Role: "viewer", Hash: hash}}
	site.Users = []*spec.User{{Name: "alice", Role: "admin", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"}}
	if _, err := s.Commit(ctx, site); err != nil {
		t.Fatal(err)
	}
	addr := s.Server("rec-1").Addr()
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return st.Spec != nil && len(st.Spec.Tokens) == 1 }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		args  []string
		want  string
	}{
		{"", []string{"status", "-address", addr}, "(401): missing credentials"},
		{"", []string{"recordings", "-address", addr, "cam1"}, "set VIGIL_TOKEN to a token of this site"},
		{"wrong-token-of-nobody", []string{"status", "-address", addr}, "(401): wrong API token"},
		{viewer, []string{"events", "-address", addr}, `(403): token "wall" (viewer) may not use GET /v1/events: it needs the operator role`},
	} {
		t.Setenv(api.EnvToken, tc.token)
		var out, errb strings.Builder
		if code := run(tc.args, &out, &errb); code != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("vigil %s with token %q: exit %d, %q; want 1 and %q", strings.Join(tc.args, " "), tc.token, code, errb.String(), tc.want)
		}
	}
	t.Setenv(api.EnvToken, viewer)
	var out, errb strings.Builder
	if code := run([]string{"status", "-address", addr}, &out, &errb); code != 0 || !strings.Contains(out.String(), "cam1") {
		t.Errorf("vigil status as a viewer: exit %d, %s%s", code, out.String(), errb.String())
	}
}
