package planner

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"vigil/hcl/spec"
)

// testKey is the fingerprint key of the test sites' live states.
var (
	testKey = []byte("test site fingerprint key")
	testFP  = spec.NewFingerprinter(testKey)
)

// Secrets are compared by their keyed fingerprints: an unchanged password
// is no change, a changed one is, in the camera's password, its URL and a
// notifier; a configuration that keeps the committed password (gives its
// fingerprint) is no change either.
func TestPasswordChangesByKeyedFingerprint(t *testing.T) {
	old := site()
	old.Cameras[0].Password = "s3cret"
	old.Cameras[1].URL = "rtsp://admin:pw@10.1.0.2/s"
	old.Notifiers = []*spec.Notifier{{Name: "hook", Webhook: &spec.WebhookNotifier{URL: "https://h.example/x", Secret: "hooksecret"}}}
	same := func() *spec.Site {
		s := site()
		s.Cameras[0].Password = "s3cret"
		s.Cameras[1].URL = "rtsp://admin:pw@10.1.0.2/s"
		s.Notifiers = []*spec.Notifier{{Name: "hook", Webhook: &spec.WebhookNotifier{URL: "https://h.example/x", Secret: "hooksecret"}}}
		return s
	}
	for _, tc := range []struct {
		name string
		edit func(s *spec.Site)
		want []string
	}{
		{"unchanged", func(*spec.Site) {}, nil},
		{"kept by fingerprint", func(s *spec.Site) {
			s.Cameras[0].Password = testFP("s3cret")
			s.Cameras[1].URL = "rtsp://admin:" + testFP("pw") + "@10.1.0.2/s"
			s.Notifiers[0].Webhook.Secret = testFP("hooksecret")
		}, nil},
		{"kept by a legacy fingerprint", func(s *spec.Site) { s.Cameras[0].Password = spec.LegacyFingerprint("s3cret") }, nil},
		{"password", func(s *spec.Site) { s.Cameras[0].Password = "n3w" }, []string{"update site.hq.camera.a"}},
		{"url password", func(s *spec.Site) { s.Cameras[1].URL = "rtsp://admin:n3w@10.1.0.2/s" }, []string{"update site.hq.camera.b"}},
		{"notifier secret", func(s *spec.Site) { s.Notifiers[0].Webhook.Secret = "n3w" }, []string{"update site.hq.notifier.hook"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := same()
			tc.edit(want)
			p, err := Plan(want, liveOf(old), Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(p); !cmp.Equal(got, tc.want) {
				t.Errorf("changes %v, want %v", got, tc.want)
			}
			if len(p.Errors) > 0 || len(p.Warnings) > 0 {
				t.Errorf("errors %+v, warnings %+v", p.Errors, p.Warnings)
			}
		})
	}
}

// The live state's fingerprints do not let anyone test a guessed password
// without the site's key: they are neither the unkeyed fingerprints of
// earlier versions nor those of another key.
func TestFingerprintsNeedTheSiteKey(t *testing.T) {
	s := site()
	s.Cameras[0].Password = "s3cret"
	got := liveOf(s).Spec.Cameras[0].Password
	if !spec.IsFingerprint(got) || spec.IsLegacyFingerprint(got) {
		t.Fatalf("live password %q, want a keyed fingerprint", got)
	}
	for _, guess := range []string{spec.LegacyFingerprint("s3cret"), spec.NewFingerprinter(nil)("s3cret"), spec.NewFingerprinter([]byte("another site"))("s3cret")} {
		if guess == got {
			t.Errorf("the guess %q matches the live fingerprint without the site's key", guess)
		}
	}
}

// A plan made without the site's fingerprint key (no API token) cannot
// compare secrets: it shows them unchanged and says so.
func TestPlanWithoutFingerprintKey(t *testing.T) {
	old := site()
	old.Cameras[0].Password = "s3cret"
	want := site()
	want.Cameras[0].Password = "n3w"
	live := liveOf(old)
	live.FingerprintKey = nil
	p, err := Plan(want, live, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() || len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0].Summary, "camera a were not compared") {
		t.Errorf("changes %v, warnings %+v; want none and one warning naming camera a", actions(p), p.Warnings)
	}
}

// A camera that keeps its committed password (the configuration gives the
// fingerprint) cannot move to another scheme, host or port: the plan has
// an error naming the camera and what to do. Another path on the same host
// is fine, and so is a new host with the password given again.
func TestKeptPasswordNeverGoesToAnotherHost(t *testing.T) {
	old := site()
	old.Cameras[0].Password = "s3cret"
	old.Cameras[1].URL = "rtsp://admin:pw@10.1.0.2/s"
	for _, tc := range []struct {
		name   string
		edit   func(s *spec.Site)
		errors int
	}{
		{"same host, other path", func(s *spec.Site) { s.Cameras[0].URL = "rtsp://10.1.0.1:554/other" }, 0},
		{"other host, password given", func(s *spec.Site) {
			s.Cameras[0].URL = "rtsp://198.51.100.7/s"
			s.Cameras[0].Password = "s3cret"
		}, 0},
		{"other host", func(s *spec.Site) { s.Cameras[0].URL = "rtsp://198.51.100.7/s" }, 1},
		{"other port", func(s *spec.Site) { s.Cameras[0].URL = "rtsp://10.1.0.1:8554/s" }, 1},
		{"other scheme", func(s *spec.Site) { s.Cameras[0].URL = "rtsps://10.1.0.1/s" }, 1},
		{"url password kept, other host", func(s *spec.Site) { s.Cameras[1].URL = "rtsp://admin:" + testFP("pw") + "@198.51.100.8/s" }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := site()
			want.Cameras[0].Password = testFP("s3cret")
			want.Cameras[1].URL = "rtsp://admin:" + testFP("pw") + "@10.1.0.2/s"
			tc.edit(want)
			p, err := Plan(want, liveOf(old), Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Errors) != tc.errors {
				t.Fatalf("errors %+v, want %d", p.Errors, tc.errors)
			}
			if tc.errors > 0 {
				e := p.Errors[0]
				if !strings.HasPrefix(e.Address, "site.hq.camera.") || !strings.Contains(e.Summary, "never sent to another host") || !strings.Contains(e.Hint, "give the camera's password again") {
					t.Errorf("error %+v", e)
				}
			}
		})
	}
}
