package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

var now = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// site builds a small site: rec-1 and rec-2 recording, one camera on each.
func site() *spec.Site {
	return &spec.Site{
		Name: "hq", Keepalive: time.Second, Failback: true, TimeZone: "UTC",
		Servers: []*spec.Server{
			{Name: "rec-1", Address: "10.0.0.11", Port: 53540, Kind: spec.KindRecording},
			{Name: "rec-2", Address: "10.0.0.12", Port: 53540, Kind: spec.KindRecording},
		},
		Cameras: []*spec.Camera{
			{Name: "a", URL: "rtsp://10.1.0.1/s", Server: "rec-1", Backup: []string{"rec-2"}, Redundancy: "normal", Transport: "tcp", Balance: true},
			{Name: "b", URL: "rtsp://10.1.0.2/s", Server: "rec-2", Backup: []string{"rec-1"}, Redundancy: "normal", Transport: "tcp", Balance: true},
		},
	}
}

func liveOf(spec *spec.Site) *api.State {
	st := &api.State{Site: spec.Name, Revision: 3, Spec: spec.Redacted(testFP), FingerprintKey: testKey, Master: "rec-1", Answering: "rec-1", Version: "1.0"}
	for _, s := range spec.Servers {
		st.Servers = append(st.Servers, api.ServerState{Name: s.Name, Health: api.HealthAlive, Version: "1.0"})
	}
	return st
}

func actions(p *SitePlan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Action)+" "+c.Address)
	}
	return out
}

func TestNoChangesAgainstItsOwnRedactedSpec(t *testing.T) {
	want := site()
	want.Cameras[0].Password = "s3cret"
	want.Cameras[1].URL = "rtsp://admin:pw@10.1.0.2/s"
	p, err := Plan(want, liveOf(want), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() {
		t.Errorf("changes against the site's own spec: %v", actions(p))
	}
	if !p.NPlusOne.OK {
		t.Errorf("N+1 check failed: %+v", p.NPlusOne)
	}
}

func TestCredentialsInURLUpdateInPlace(t *testing.T) {
	old := site()
	old.Cameras[0].URL = "rtsp://admin:old@10.1.0.1/s"
	want := site()
	want.Cameras[0].URL = "rtsp://admin:new@10.1.0.1/s"
	p, err := Plan(want, liveOf(old), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(p); !cmp.Equal(got, []string{"update site.hq.camera.a"}) {
		t.Errorf("credential change: %v, want an update in place", got)
	}
	want.Cameras[0].URL = "rtsp://admin:new@10.1.0.99/s"
	p, _ = Plan(want, liveOf(old), Options{Now: now})
	if got := actions(p); !cmp.Equal(got, []string{"replace site.hq.camera.a"}) {
		t.Errorf("new host: %v, want a replace", got)
	}
	a := p.Changes[0].Attributes[0]
	if a.Name != "url" || !a.ForcesReplacement {
		t.Errorf("attribute %+v does not force replacement", a)
	}
	if s, _ := a.Before.(string); strings.Contains(s, "old") {
		t.Errorf("the old password shows: %q", s)
	}
}

// A certificate pin is not secret: its change shows, as an update in place.
func TestTLSSettingsShowAndUpdateInPlace(t *testing.T) {
	old := site()
	old.Cameras[0].URL = "rtsps://10.1.0.1/s"
	old.Cameras[0].TLSInsecure = true
	want := site()
	want.Cameras[0].URL = "rtsps://10.1.0.1/s"
	want.Cameras[0].TLSFingerprint = "sha256:" + strings.Repeat("ab", 32)
	p, err := Plan(want, liveOf(old), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(p); !cmp.Equal(got, []string{"update site.hq.camera.a"}) {
		t.Fatalf("pinning a camera: %v, want an update in place", got)
	}
	wantAttrs := []AttributeChange{
		{Name: "tls_fingerprint", After: want.Cameras[0].TLSFingerprint},
		{Name: "tls_insecure", Before: true},
	}
	if diff := cmp.Diff(wantAttrs, p.Changes[0].Attributes); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}

func TestSensitiveVariableHidesAttribute(t *testing.T) {
	old := site()
	want := site()
	want.Cameras[0].URL = "rtsp://10.1.0.1/s?token=T0KEN"
	p, err := Plan(want, liveOf(old), Options{Now: now, Sensitive: []string{"T0KEN", ""}})
	if err != nil {
		t.Fatal(err)
	}
	a := p.Changes[0].Attributes[0]
	if !a.Sensitive || a.Before != nil || a.After != nil {
		t.Errorf("attribute with a sensitive value: %+v", a)
	}
}

func TestMasterWithoutSuccessor(t *testing.T) {
	old := site()
	want := site()
	want.Servers = want.Servers[1:]
	want.Cameras = want.Cameras[1:]
	want.Cameras[0].Backup = nil
	live := liveOf(old)
	live.Answering = "rec-2"
	live.Servers[1].Health = api.HealthDead // the only other server is down
	p, err := Plan(want, live, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Summary, "no other live server of the site can take the master role") {
		t.Errorf("errors %+v", p.Errors)
	}
}

func TestCameraOnRemovedServerIsAnError(t *testing.T) {
	want := site()
	want.Servers = want.Servers[:1] // rec-2 goes, camera b stays on it
	p, err := Plan(want, liveOf(site()), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 1 || p.Errors[0].Address != "site.hq.camera.b" {
		t.Errorf("errors %+v", p.Errors)
	}
}

func TestSiteMismatch(t *testing.T) {
	live := liveOf(site())
	live.Site = "branch"
	_, err := Plan(site(), live, Options{Now: now})
	var mismatch *SiteMismatchError
	if !errors.As(err, &mismatch) || mismatch.Live != "branch" {
		t.Errorf("err %v", err)
	}
}

func TestSimulateRefusesUnknownAndRepeatedServers(t *testing.T) {
	if _, err := Simulate(site(), nil, []string{"rec-9"}, now); err == nil || !strings.Contains(err.Error(), "servers: rec-1, rec-2") {
		t.Errorf("unknown server: %v", err)
	}
	if _, err := Simulate(site(), nil, []string{"rec-1", "rec-1"}, now); err == nil {
		t.Error("a server named twice was accepted")
	}
}

func TestEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b any
		want bool
	}{
		{"x", "x", true}, {"x", "y", false},
		{1, 1, true}, {1, 2, false},
		{int64(1), int64(1), true}, {int64(1), int64(2), false},
		{1.5, 1.5, true}, {1.5, 2.5, false},
		{true, true, true}, {true, false, false},
		{[]string{"a", "b"}, []string{"a", "b"}, true},
		{[]string{"a", "b"}, []string{"b", "a"}, false}, // order is priority
		{[]string(nil), []string{}, true},
		{map[string]string{"k": "v"}, map[string]string{"k": "v"}, true},
		{map[string]string{"k": "v"}, map[string]string{"k": "w"}, false},
		{map[string]string{"k": "v"}, map[string]string{"j": "v"}, false},
		{map[string]string(nil), map[string]string{}, true},
	} {
		if got := equal(tc.a, tc.b); got != tc.want {
			t.Errorf("equal(%v, %v) = %v", tc.a, tc.b, got)
		}
	}
}

func TestPlanFileRoundTrip(t *testing.T) {
	want := site()
	want.Cameras[0].Password = "s3cret"
	p, err := Plan(want, liveOf(site()), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan")
	if err := WritePlanFile(path, NewPlanFile(p, []string{"s3cret"}, "1.0", now)); err != nil {
		t.Fatal(err)
	}
	f, err := ReadPlanFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.BaseRevision != 3 || f.Site != "hq" || f.Spec.Camera("a").Password != "s3cret" || f.Summary != p.Summary {
		t.Errorf("read back %+v", f)
	}
	if err := f.CheckCurrent("hq", 3); err != nil {
		t.Errorf("current plan refused: %v", err)
	}
	var stale *StalePlanError
	if err := f.CheckCurrent("hq", 4); !errors.As(err, &stale) || stale.Planned != 3 || stale.Live != 4 {
		t.Errorf("stale plan: %v", err)
	}
	if err := f.CheckCurrent("branch", 3); err == nil || !strings.Contains(err.Error(), `site "branch"`) {
		t.Errorf("other site: %v", err)
	}
}

func TestPlanFileChecks(t *testing.T) {
	p, err := Plan(site(), liveOf(site()), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	good, err := EncodePlanFile(NewPlanFile(p, nil, "1.0", now))
	if err != nil {
		t.Fatal(err)
	}
	// Re-indenting the file changes no content.
	var flat bytes.Buffer
	if err := json.Compact(&flat, good); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodePlanFile(flat.Bytes()); err != nil {
		t.Errorf("compacted file refused: %v", err)
	}
	for name, edit := range map[string]func([]byte) []byte{
		"revision": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"base_revision": 3`), []byte(`"base_revision": 4`), 1)
		},
		"address":  func(b []byte) []byte { return bytes.Replace(b, []byte(`10.0.0.12`), []byte(`10.0.0.66`), 1) },
		"checksum": func(b []byte) []byte { return bytes.Replace(b, []byte(`"sha256:`), []byte(`"sha256:00`), 1) },
	} {
		bad := edit(good)
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		if _, err := DecodePlanFile(bad); !errors.Is(err, ErrTampered) {
			t.Errorf("%s edited: %v, want ErrTampered", name, err)
		}
	}
	future := bytes.Replace(good, []byte(`"format_version": "2"`), []byte(`"format_version": "3"`), 1)
	if _, err := DecodePlanFile(future); err == nil || !strings.Contains(err.Error(), "format 3 is not supported") {
		t.Errorf("future format: %v", err)
	}
	// Format 1 wrote format_version as a number: refused for its version.
	old := bytes.Replace(good, []byte(`"format_version": "2"`), []byte(`"format_version": 1`), 1)
	if _, err := DecodePlanFile(old); err == nil || !strings.Contains(err.Error(), "format 1 is not supported") {
		t.Errorf("format 1: %v", err)
	}
	if _, err := DecodePlanFile([]byte(`site "hq" {}`)); err == nil || !strings.Contains(err.Error(), "not a vigil plan file") {
		t.Errorf("HCL given as a plan file: %v", err)
	}
}

func TestWritePlanFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan")
	// An existing world-readable file must not keep its mode.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _ := Plan(site(), liveOf(site()), Options{Now: now})
	if err := WritePlanFile(path, NewPlanFile(p, nil, "1.0", now)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

// TestWritePlanFileFollowsNoSymlink: a symlink planted at the plan's path
// is replaced, its target left alone, and no other file is left behind.
func TestWritePlanFileFollowsNoSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "plan")
	if err := os.Symlink(victim, path); err != nil {
		t.Fatal(err)
	}
	p, _ := Plan(site(), liveOf(site()), Options{Now: now})
	if err := WritePlanFile(path, NewPlanFile(p, []string{"s3cret"}, "1.0", now)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the symlink's target was written: %q", b)
	}
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Errorf("plan file %v, %v: want a regular file of mode 0600", st.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files in the directory, want the plan and the victim", len(entries))
	}
}

func TestFirstApplyMustIncludeTheAnsweringServer(t *testing.T) {
	live := &api.State{Site: "hq", Answering: "rec-9"}
	p, err := Plan(site(), live, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Summary, "rec-9, is not a server of the configuration") {
		t.Errorf("errors %+v", p.Errors)
	}
}

// Every camera attribute change is seen, through the fast path too.
func TestEveryCameraAttributeIsCompared(t *testing.T) {
	for name, edit := range map[string]func(c *spec.Camera){
		"url":              func(c *spec.Camera) { c.URL = "rtsp://10.1.0.1/other" },
		"username":         func(c *spec.Camera) { c.Username = "admin" },
		"password":         func(c *spec.Camera) { c.Password = "pw" },
		"server":           func(c *spec.Camera) { c.Server, c.Backup = "rec-2", nil },
		"backup":           func(c *spec.Camera) { c.Backup = nil },
		"group":            func(c *spec.Camera) { c.Backup, c.Group = nil, "g" },
		"locked":           func(c *spec.Camera) { c.Locked = true },
		"redundancy":       func(c *spec.Camera) { c.Redundancy = "fast" },
		"transport":        func(c *spec.Camera) { c.Transport = "udp" },
		"retention":        func(c *spec.Camera) { c.Retention = time.Hour },
		"segment_duration": func(c *spec.Camera) { c.SegmentDuration = time.Minute },
		"stall_timeout":    func(c *spec.Camera) { c.StallTimeout = time.Second },
		"balance":          func(c *spec.Camera) { c.Balance = false },
		"labels":           func(c *spec.Camera) { c.Labels = map[string]string{"zone": "n"} },
	} {
		want := site()
		edit(want.Cameras[0])
		p, err := Plan(want, liveOf(site()), Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range p.Changes {
			for _, a := range c.Attributes {
				found = found || (c.Name == "a" && a.Name == name)
			}
		}
		if !found {
			t.Errorf("%s changed: changes %v", name, actions(p))
		}
	}
}
