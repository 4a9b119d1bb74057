package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/api"
)

// startSite starts an in-process site of the named servers recording
// cameras simulated cameras, stopped when the test ends; VIGIL_TOKEN is its
// token meanwhile. Under -short the test is skipped.
func startSite(t *testing.T, servers []string, cameras int) *devsite.Site {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a site of agents and a camera simulator")
	}
	s, err := devsite.New(devsite.Options{Servers: servers, Cameras: cameras, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	trustSites(t, s)
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(api.EnvToken, s.Token)
	return s
}

// vigil recordings, vigil export and vigil verify against a one-server
// site recording a simulated camera.
func TestRecordingsExportVerify(t *testing.T) {
	s := startSite(t, []string{"rec-1"}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Commit(ctx, s.Spec(s.CameraSpec(1, "rec-1"))); err != nil {
		t.Fatal(err)
	}
	addr := s.Server("rec-1").Addr()
	start := time.Now()
	// Wait for four seconds of closed segments.
	for {
		r, err := s.Client("rec-1").Recordings(ctx, "cam1", start.Add(-time.Minute), time.Now())
		if err == nil && len(r.Spans) == 1 && r.Spans[0].End.Sub(r.Spans[0].Start) > 5*time.Second {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no recording: %+v %v", r, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	code, out, errs := vigil(t, "recordings", "cam1", "-since", "1m", "-address", addr)
	if code != 0 || !strings.Contains(out, "Camera cam1, ") || !strings.Contains(out, "recorded on rec-1") {
		t.Fatalf("vigil recordings: exit %d\n%s%s", code, out, errs)
	}
	from, to := start.Add(time.Second).UTC().Format(time.RFC3339Nano), start.Add(4*time.Second).UTC().Format(time.RFC3339Nano)
	file := filepath.Join(t.TempDir(), "cam1.mp4")
	code, out, errs = vigil(t, "export", "cam1", "-start", from, "-end", to, "-o", file, "-address", addr)
	if code != 0 || !strings.Contains(out, "Exported cam1: "+file) {
		t.Fatalf("vigil export: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs = vigil(t, "verify", file); code != 0 || !strings.HasPrefix(out, "OK: ") {
		t.Fatalf("vigil verify: exit %d\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0x80
	os.WriteFile(file, b, 0o644)
	if code, _, errs = vigil(t, "verify", file); code != 1 || !strings.Contains(errs, "FAILED") {
		t.Errorf("vigil verify after a changed byte: exit %d\n%s", code, errs)
	}
	// Without the token, no export.
	t.Setenv(api.EnvToken, "")
	if code, _, errs = vigil(t, "export", "cam1", "-start", from, "-end", to, "-o", file+"2", "-address", addr); code != 1 || !strings.Contains(errs, "401") {
		t.Errorf("export without a token: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(file + "2"); err == nil {
		t.Error("a refused export left a file")
	}
}
