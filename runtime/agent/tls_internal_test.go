package agent

import (
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/siteca"
)

// A committed spec that gives this server an external address, or the
// site a virtual IP, gets a certificate for them at the next pass; an
// unchanged spec keeps the certificate.
func TestCertificateFollowsTheSpec(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(testKey)
	cfg := &Config{Server: "rec-1", Site: "hq", Bind: "10.0.0.1", SiteKey: key}
	st, err := newServerTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := st.leaf.Load()
	verify := func(name string) error {
		_, err := st.leaf.Load().Leaf.Verify(x509.VerifyOptions{Roots: st.ca.Pool(), DNSName: name})
		return err
	}
	for _, n := range []string{"rec-1", "10.0.0.1", "127.0.0.1", siteca.PeerName} {
		if err := verify(n); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if verify("cams.example.com") == nil {
		t.Error("an external address before the spec names it")
	}
	site := &spec.Site{Name: "hq", VirtualIP: "10.0.0.10/24", Servers: []*spec.Server{{Name: "rec-1", Address: "10.0.0.1", ExternalAddress: "cams.example.com"}}}
	now := time.Now()
	if err := st.refresh(cfg, site, now); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"cams.example.com", "10.0.0.10"} {
		if err := verify(n); err != nil {
			t.Errorf("%s after the spec names it: %v", n, err)
		}
	}
	second := st.leaf.Load()
	if second == first {
		t.Error("no new certificate")
	}
	same := *site
	if st.refresh(cfg, &same, now); st.leaf.Load() != second {
		t.Error("a new certificate for the same names")
	}
	if st.refresh(cfg, &same, now.Add(siteca.LeafValidity/2+time.Hour)); st.leaf.Load() == second {
		t.Error("no new certificate half-way through the old one's validity")
	}
}
