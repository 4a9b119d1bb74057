package agent

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// TestEventsOfHiddenCameras: a caller limited to some cameras gets no
// event about another camera, whether by its camera field or, for an
// event about no one camera (a takeover), by naming it in its message.
func TestEventsOfHiddenCameras(t *testing.T) {
	site := &spec.Site{Name: "hq", Cameras: []*spec.Camera{{Name: "cam1"}, {Name: "cam10"}, {Name: "lobby.east"}}}
	a := &Agent{}
	a.view.idx = newSpecIndex(1, site, spec.NewFingerprinter(make([]byte, 32)))
	events := []struct {
		ev   api.Event
		kept bool
	}{
		{api.Event{Kind: "camera.up", Camera: "cam10", Message: "cam10 is up"}, true},
		{api.Event{Kind: "camera.up", Camera: "cam1", Message: "cam1 is up"}, false},
		{api.Event{Kind: spec.EventTakeoverStarted, Message: "rec-2 is dead: rec-1 takes over cam10"}, true},
		{api.Event{Kind: spec.EventTakeoverStarted, Message: "rec-2 is dead: rec-1 takes over cam1, cam10"}, false},
		{api.Event{Kind: spec.EventTakeoverStarted, Message: "rec-1 takes over lobby.east."}, false},
		{api.Event{Kind: spec.EventTakeoverFinished, Message: "rec-1 records cam1."}, false},
		{api.Event{Kind: "server.up", Message: "rec-2 is alive"}, true},
	}
	for _, who := range []struct {
		id   access.Identity
		hide bool
	}{{access.Identity{Name: "v", Kind: "token", Role: access.Operator, Cameras: []string{"cam10"}}, true}, {access.Identity{Name: "all", Kind: "token", Role: access.Operator}, false}} {
		r := httptest.NewRequest(http.MethodGet, "/v1/events", nil)
		r = r.WithContext(access.WithIdentity(r.Context(), who.id))
		var out strings.Builder
		send := a.eventSender(&out, r)
		for _, e := range events {
			send(e.ev)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var ev api.Event
			json.Unmarshal([]byte(line), &ev)
			got = append(got, ev.Message)
		}
		var want []string
		for _, e := range events {
			if e.kept || !who.hide {
				want = append(want, e.ev.Message)
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s gets %q, want %q", who.id.Name, got, want)
		}
	}
}

// BenchmarkAuthenticate measures what the authentication adds to a
// request: a bearer token found among a site's token blocks (one SHA-256
// and a constant-time comparison per block), for sites of 10 and 1,000
// tokens; the agent's own token is compared first.
func BenchmarkAuthenticate(b *testing.B) {
	for _, n := range []int{10, 1000} {
		site := &spec.Site{Name: "hq"}
		var last string
		for i := range n {
			tok, hash, err := access.NewToken()
			if err != nil {
				b.Fatal(err)
			}
			site.Tokens = append(site.Tokens, &spec.Token{Name: fmt.Sprintf("t%d", i), Role: "viewer", Hash: hash})
			last = tok
		}
		a := &Agent{cfg: Config{Token: "the-agent-token-0123456789"}, peerToken: peerTokenFor(make([]byte, 32))}
		a.view.idx = newSpecIndex(1, site, spec.NewFingerprinter(make([]byte, 32)))
		for _, c := range []struct{ name, token string }{{fmt.Sprintf("token block of %d", n), last}, {fmt.Sprintf("agent token, %d blocks", n), a.cfg.Token}} {
			b.Run(c.name, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, "/v1/state", nil)
				r.Header.Set("Authorization", "Bearer "+c.token)
				for b.Loop() {
					if _, id, err := a.authenticate(r); err != "" || id.Role != access.Viewer && id.Role != access.Admin {
						b.Fatalf("%s: %+v %s", c.name, id, err)
					}
				}
			})
		}
	}
}
