package siteca

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// Every server of a site derives the same CA certificate from the site
// key; another key or site gives another.
func TestCAIsDerivedFromTheSiteKey(t *testing.T) {
	a, err := New("lobby", key(1))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New("lobby", key(1))
	if !bytes.Equal(a.Cert.Raw, b.Cert.Raw) || a.Fingerprint() != b.Fingerprint() {
		t.Fatal("two derivations from one key differ")
	}
	for _, other := range []*CA{must(New("lobby", key(2))), must(New("dock", key(1)))} {
		if other.Fingerprint() == a.Fingerprint() {
			t.Error("another key or site gives the same CA")
		}
	}
	if !a.Cert.IsCA || a.Cert.Subject.CommonName != "vigil site lobby CA" {
		t.Errorf("CA certificate %+v", a.Cert.Subject)
	}
	if _, err := New("lobby", nil); err == nil {
		t.Error("a CA without a site key")
	}
}

func must(ca *CA, err error) *CA {
	if err != nil {
		panic(err)
	}
	return ca
}

// A leaf verifies with the CA for its names and PeerName, and not with
// another site's CA.
func TestIssue(t *testing.T) {
	ca := must(New("lobby", key(1)))
	now := time.Now()
	c, err := ca.Issue([]string{"srv-1", "10.0.0.1", "cams.example.com", "10.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Certificate) != 2 || !bytes.Equal(c.Certificate[1], ca.Cert.Raw) {
		t.Error("the served chain does not end with the CA")
	}
	if len(c.Leaf.IPAddresses) != 1 {
		t.Errorf("IP addresses %v, want 10.0.0.1 once", c.Leaf.IPAddresses)
	}
	for _, name := range []string{"srv-1", "10.0.0.1", "cams.example.com", PeerName} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name, CurrentTime: now}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "10.0.0.2"}); err == nil {
		t.Error("verified for a name it does not have")
	}
	other := must(New("lobby", key(2)))
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: other.Pool(), DNSName: PeerName}); err == nil {
		t.Error("verified with another site's CA")
	}
}

// The fingerprint is the one openssl prints, and a typed one matches in
// any of the usual spellings.
func TestFingerprint(t *testing.T) {
	ca := must(New("lobby", key(1)))
	fp := ca.Fingerprint()
	for _, typed := range []string{fp, strings.ToLower(fp), strings.ReplaceAll(fp, ":", ""), "sha256:" + fp, "SHA256 Fingerprint=" + fp} {
		if !SameFingerprint(typed, ca.Cert) {
			t.Errorf("%q does not match", typed)
		}
	}
	if SameFingerprint("", ca.Cert) || SameFingerprint(fp[:20], ca.Cert) {
		t.Error("a partial fingerprint matches")
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl to compare with")
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(file, ca.PEM(), 0o600)
	out, err := exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", file).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "="+fp) {
		t.Errorf("openssl says %q, we say %s", got, fp)
	}
}
