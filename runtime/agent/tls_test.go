package agent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/agent"
	"vigil/runtime/api"
	"vigil/runtime/siteca"
)

// The API serves HTTPS with a certificate of the site's CA from the
// agent's first start, before the site forms: a client without the CA is
// refused (and sends nothing), one with it is served; a server that joins
// the formed site has a certificate of the same CA, for its address.
func TestHTTPSWithSiteCA(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2"}, 0)
	ctx := ctxFor(t, 60*time.Second)
	// Before the site forms.
	if _, err := s.Client("rec-1").Health(ctx); err != nil {
		t.Fatalf("with the site CA, before the site formed: %v", err)
	}
	_, err := api.NewClient(s.Server("rec-1").Addr(), s.Token).State(ctx)
	var ce *api.CertificateError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "VIGIL_CACERT") {
		t.Errorf("without the site CA: %v, want a certificate error naming VIGIL_CACERT", err)
	}
	if _, err := s.Commit(ctx, s.Spec()); err != nil {
		t.Fatal(err)
	}
	// Every server's certificate is the site CA's, for the address the
	// spec gives it, and names the CA's fingerprint in the state.
	for _, name := range s.Names() {
		leaf := servedLeaf(t, s, name, "")
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.CA.Pool(), DNSName: s.Server(name).IP}); err != nil {
			t.Errorf("%s's certificate: %v", name, err)
		}
		st, err := s.Client(name).State(ctx)
		if err != nil || st.CAFingerprint != s.CA.Fingerprint() {
			t.Errorf("%s: state's CA fingerprint %q (%v), want %s", name, st.CAFingerprint, err, s.CA.Fingerprint())
		}
	}
	// A server that joins the formed site.
	j, err := devsite.New(devsite.Options{Name: s.Name, Key: s.Key, Token: s.Token, Servers: []string{"rec-3"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(j.Close)
	cfg := &j.Server("rec-3").Config
	cfg.Join = []string{strings.TrimPrefix(s.Server("rec-1").Addr(), "https://")}
	if err := j.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Client("rec-3").Health(ctx); err != nil {
		t.Errorf("the joining server, with the site CA: %v", err)
	}
	if fp := siteca.Fingerprint(servedCA(t, j, "rec-3")); fp != s.CA.Fingerprint() {
		t.Errorf("the joining server presents CA %s, the site's is %s", fp, s.CA.Fingerprint())
	}
}

// servedLeaf is the leaf certificate a server presents for serverName
// (SNI; "" for none), read without verifying it.
func servedLeaf(t *testing.T, s *devsite.Site, name, serverName string) *x509.Certificate {
	t.Helper()
	return servedChain(t, s, name, serverName)[0]
}

func servedCA(t *testing.T, s *devsite.Site, name string) *x509.Certificate {
	t.Helper()
	chain := servedChain(t, s, name, "")
	return chain[len(chain)-1]
}

func servedChain(t *testing.T, s *devsite.Site, name, serverName string) []*x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", strings.TrimPrefix(s.Server(name).Addr(), "https://"), &tls.Config{InsecureSkipVerify: true, ServerName: serverName})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates
}

// An operator's certificate and key (the company's PKI) are served to
// clients; agents, which ask for siteca.PeerName, still get the site's.
func TestGivenCertificate(t *testing.T) {
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	pki, certFile, keyFile := companyPKI(t, s.Server("rec-1").IP)
	cfg := &s.Server("rec-1").Config
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, 30*time.Second)
	if _, err := api.NewClient(s.Server("rec-1").Addr(), s.Token, api.WithCA(pki)).Health(ctx); err != nil {
		t.Errorf("with the company's CA: %v", err)
	}
	var ce *api.CertificateError
	if _, err := s.Client("rec-1").Health(ctx); !errors.As(err, &ce) {
		t.Errorf("with the site CA: %v, want a certificate error", err)
	}
	leaf := servedLeaf(t, s, "rec-1", siteca.PeerName)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.CA.Pool(), DNSName: siteca.PeerName}); err != nil {
		t.Errorf("what peers get: %v", err)
	}
}

// companyPKI makes a CA and a certificate for ip signed by it, as files.
func companyPKI(t *testing.T, ip string) (*x509.CertPool, string, string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Example Corp CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "cams.example.com"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(ip)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certFile, keyFile
}

// Plain HTTP on the API port is redirected to https by default, and not
// answered at all with plain_http = "off".
func TestPlainHTTP(t *testing.T) {
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1", "rec-2"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.Server("rec-2").Config.PlainHTTP = agent.PlainHTTPOff
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	plain := "http://" + strings.TrimPrefix(s.Server("rec-1").Addr(), "https://")
	resp, err := noFollow.Get(plain + "/v1/health?x=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := s.Server("rec-1").Addr() + "/v1/health?x=1"; resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("plain HTTP: %s to %q, want 308 to %s", resp.Status, resp.Header.Get("Location"), want)
	}
	// Off: the connection is closed unanswered.
	c, err := net.Dial("tcp", strings.TrimPrefix(s.Server("rec-2").Addr(), "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := c.Read(make([]byte, 64)); n > 0 || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("plain HTTP when off: read %d bytes (%v), want the connection closed", n, err)
	}
	if _, err := s.Client("rec-2").Health(ctxFor(t, 10*time.Second)); err != nil {
		t.Errorf("HTTPS when plain HTTP is off: %v", err)
	}
}
