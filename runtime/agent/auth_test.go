package agent

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"vigil/hcl/spec"
	"vigil/runtime/access"
)

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
		rt := route{need: access.Viewer}
		for _, c := range []struct{ name, token string }{{fmt.Sprintf("token block of %d", n), last}, {fmt.Sprintf("agent token, %d blocks", n), a.cfg.Token}} {
			b.Run(c.name, func(b *testing.B) {
				r := httptest.NewRequest(http.MethodGet, "/v1/state", nil)
				r.Header.Set("Authorization", "Bearer "+c.token)
				for b.Loop() {
					if _, id, err := a.authenticate(r, rt); err != "" || id.Role != access.Viewer && id.Role != access.Admin {
						b.Fatalf("%s: %+v %s", c.name, id, err)
					}
				}
			})
		}
	}
}
