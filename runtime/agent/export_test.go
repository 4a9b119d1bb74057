package agent_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// TestExportKey: the first apply makes the site's export key; every server
// has the same one; only its public half is shown.
func TestExportKey(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2"}, 0)
	ctx := ctxFor(t, 60*time.Second)
	if _, err := s.Client("rec-1").ExportPublicKey(ctx); !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "first `vigil apply`") {
		t.Fatalf("before the first apply: %v, want 503 naming the first apply", err)
	}
	if _, err := s.Commit(ctx, s.Spec()); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, name := range s.Names() {
		// A follower has the key once it applied the entry that made it.
		var got *api.ExportPublicKey
		for got == nil {
			k, err := s.Client(name).ExportPublicKey(ctx)
			switch {
			case err == nil:
				got = k
			case ctx.Err() != nil:
				t.Fatalf("%s: %v", name, err)
			default:
				time.Sleep(20 * time.Millisecond)
			}
		}
		priv, err := s.Server(name).Agent().ExportKey()
		if err != nil {
			t.Fatal(err)
		}
		if want := hex.EncodeToString(priv.Public().(ed25519.PublicKey)); got.PublicKey != want || got.Site != s.Name {
			t.Errorf("%s answers %+v, want key %s of site %s", name, got, want, s.Name)
		}
		keys = append(keys, got.PublicKey)
		// The state shows no form of the private key.
		body := getAs(t, ctx, s, s.Server(name).Addr()+"/v1/state", s.Token)
		for _, form := range []string{hex.EncodeToString(priv.Seed()), base64.StdEncoding.EncodeToString(priv.Seed()), base64.StdEncoding.EncodeToString(priv)} {
			if strings.Contains(body, form) {
				t.Errorf("%s's state shows the private key", name)
			}
		}
	}
	if keys[0] != keys[1] {
		t.Errorf("servers have different keys: %v", keys)
	}
	// Another apply keeps the key.
	if _, err := s.Commit(ctx, s.Spec()); err != nil {
		t.Fatal(err)
	}
	if k, err := s.Client("rec-2").ExportPublicKey(ctx); err != nil || k.PublicKey != keys[0] {
		t.Errorf("after a second apply: %v %v, want %s", k, err, keys[0])
	}
}
