package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/evidence"
)

// TestExportPublicKeyAndVerify: vigil export -public-key prints the site's
// key; vigil verify passes an intact export, fails after a one-byte edit of
// either file, and with -public-key fails an export the site did not sign.
func TestExportPublicKeyAndVerify(t *testing.T) {
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	trustSites(t, s)
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Server("rec-1").Addr()
	t.Setenv("VIGIL_TOKEN", s.Token)
	var out, errb strings.Builder
	if code := run([]string{"export", "-public-key", "-address", addr}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no export key yet") {
		t.Fatalf("before apply: exit %d, %s", code, errb.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.Commit(ctx, s.Spec()); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"export", "-public-key", "-address", addr}, &out, &errb); code != 0 {
		t.Fatalf("export -public-key: exit %d, %s", code, errb.String())
	}
	siteKey := strings.TrimSpace(out.String())
	if _, err := evidence.ParsePublicKey(siteKey); err != nil {
		t.Fatalf("printed key %q: %v", siteKey, err)
	}

	// An export signed with another key.
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	mp4 := filepath.Join(t.TempDir(), "gate.mp4")
	if err := os.WriteFile(mp4, []byte("not really a video, but bytes all the same"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, _ := evidence.HashFile(mp4)
	start := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	m := &evidence.Manifest{FormatVersion: evidence.FormatVersion, Site: "hq", Camera: "gate", RequestedStart: start, RequestedEnd: start.Add(time.Minute),
		ActualStart: start, ActualEnd: start.Add(time.Minute), ExportedBy: "test", ExportedAt: start.Add(time.Hour), MP4SHA256: sum}
	if err := evidence.Sign(m, priv); err != nil {
		t.Fatal(err)
	}
	if err := evidence.WriteFile(mp4, m); err != nil {
		t.Fatal(err)
	}
	verify := func(want int, mustSay string, args ...string) {
		t.Helper()
		var out, errb strings.Builder
		code := run(append([]string{"verify"}, append(args, mp4)...), &out, &errb)
		text := out.String() + errb.String()
		if code != want || !strings.Contains(text, mustSay) {
			t.Fatalf("verify %v: exit %d, want %d saying %q:\n%s", args, code, want, mustSay, text)
		}
		if want == 0 && strings.Count(out.String(), "\n") != 1 {
			t.Errorf("summary is not one line: %q", out.String())
		}
	}
	verify(0, "OK: "+mp4+": camera gate of site hq")
	if code := run([]string{"verify", evidence.ManifestPath(mp4)}, io.Discard, io.Discard); code != 0 {
		t.Errorf("verify FILE.json: exit %d, want the pair checked", code)
	}
	verify(0, "signed by the trusted site key", "-public-key", hex.EncodeToString(pub))
	verify(1, "not with the trusted key "+siteKey, "-public-key", siteKey)
	verify(2, "64 hex digits", "-public-key", "xyz")

	for _, file := range []string{mp4, evidence.ManifestPath(mp4)} {
		orig, _ := os.ReadFile(file)
		edited := append([]byte(nil), orig...)
		edited[len(edited)/2]++
		os.WriteFile(file, edited, 0o644)
		verify(1, "FAILED: "+mp4)
		os.WriteFile(file, orig, 0o644)
		verify(0, "OK: ")
	}
}
