package spec

import "testing"

func TestFingerprintForms(t *testing.T) {
	for s, want := range map[string]int{
		NewFingerprinter([]byte("key"))("pw"): keyedDigits,
		LegacyFingerprint("pw"):               legacyDigits,
		"0123456789abcdef)":                   0,
		"(sensitive:0123456789ab)":            0,
		"(sensitive:0123456789abcdeg)":        0,
		"(sensitive)":                         0,
	} {
		if got := fingerprintDigits(s); got != want {
			t.Errorf("%q: %d digits, want %d", s, got, want)
		}
	}
}

// A URL's password is put back by its own text, percent-encoding kept.
func TestWithURLPassword(t *testing.T) {
	got := WithURLPassword("rtsp://u:(sensitive:0123456789abcdef)@h:554/two?x=1", "rtsp://u:p%40ss@h/one")
	if want := "rtsp://u:p%40ss@h:554/two?x=1"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}
