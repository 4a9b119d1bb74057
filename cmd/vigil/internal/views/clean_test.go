package views

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// TestSiteTextCannotDriveTheTerminal: escape sequences in a camera's error
// and in an event reach vigil status and vigil events escaped.
func TestSiteTextCannotDriveTheTerminal(t *testing.T) {
	evil := "401 \x1b]0;pwned\x07\x1b[2J\x1b[1A\r\u009bX done"
	var out bytes.Buffer
	Event(&out, api.Event{Time: time.Now(), Severity: "error", Kind: "camera.failed", Camera: "gate\x1b[31m", Message: evil}, false)
	st := &api.State{Site: "hq", Cameras: []api.CameraState{{Name: "gate", State: "failed", Reason: evil}}}
	Status(&out, st, Options{})
	text := out.String()
	for _, bad := range []string{"\x1b]", "\x1b[2J", "\x1b[1A", "\r", "\x07", "\u009b", "\x1b[31m"} {
		if strings.Contains(text, bad) {
			t.Errorf("output contains %q:\n%s", bad, text)
		}
	}
	if !strings.Contains(text, `401 \x1b]0;pwned\x07\x1b[2J`) {
		t.Errorf("the text is not shown escaped:\n%s", text)
	}
}
