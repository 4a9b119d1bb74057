package agent

import (
	"testing"
	"time"

	"vigil/runtime/api"
)

// A camera whose recorder fails opens a site gap with the recorder's own
// cause: a full disk is "storage" in the site's events too, and a peer
// that does not say why is "camera unreachable".
func TestSiteGapCauseIsTheRecorders(t *testing.T) {
	for _, c := range []struct{ said, want api.GapCause }{
		{api.CauseStorage, api.CauseStorage},
		{api.CauseTimestampJump, api.CauseTimestampJump},
		{"", api.CauseUnreachable},
	} {
		r := newGapRun(t)
		r.records("a", at(0))
		r.pass(at(time.Second))
		r.session["a"] = api.Recorder{Server: "a", State: sessionFailing, Cause: c.said, Since: at(2 * time.Second)}
		for i := 2; i < 10; i++ {
			r.pass(at(time.Duration(i) * time.Second))
		}
		if len(r.opened) != 1 || r.opened[0].Cause != c.want {
			t.Errorf("recorder failing with cause %q: site gaps opened %+v, want one %q", c.said, r.opened, c.want)
		}
	}
}
