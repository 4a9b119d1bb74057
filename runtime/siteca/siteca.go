// Package siteca is a site's certificate authority, which the agents' HTTPS
// (the API, the console and agent-to-agent calls) is verified with.
//
// The CA is derived from the site key, as the raft, membership and
// configuration-signing keys are: its private key is an HMAC of the site
// key, and its certificate is made deterministically (fixed serial and
// validity, RFC 6979 signature), so every server of the site holds the
// same CA from its first start, before the site forms and when it joins,
// with nothing to hand out or replicate. The operator, who made the site
// key, can compute the CA certificate offline (vigil ca -config) and needs
// no trust on first use; a server's agent logs the fingerprint at start,
// and vigil ca fetches the certificate from an agent pinned by it.
//
// Each server issues itself a short-lived leaf certificate (Issue) for the
// names it is reached by; every leaf also names PeerName, which agents ask
// for and check when they call each other, so that a server that serves
// a certificate of the operator's PKI to browsers still proves to its
// peers that it belongs to the site.
package siteca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// PeerName is the DNS name of every leaf: agents send it (SNI) and verify
// it when they call each other.
const PeerName = "peer.vigil.internal"

// LeafValidity is how long an issued leaf certificate is valid; agents
// issue a new one well before it ends.
const LeafValidity = 90 * 24 * time.Hour

// CA is a site's certificate authority.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// New derives the CA of the site named site from its 32-byte key.
func New(site string, siteKey []byte) (*CA, error) {
	if len(siteKey) == 0 {
		return nil, fmt.Errorf("siteca: no site key")
	}
	var key *ecdsa.PrivateKey
	// A P-256 scalar from the key; the rare value out of range (about
	// 2^-32) takes the next counter.
	for i := 0; key == nil; i++ {
		m := hmac.New(sha256.New, siteKey)
		fmt.Fprintf(m, "vigil site CA key v1 %d", i)
		key, _ = ecdsa.ParseRawPrivateKey(elliptic.P256(), m.Sum(nil))
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("siteca: %w", err)
	}
	serial := sha256.Sum256(append([]byte("vigil site CA serial v1 "+site+"\n"), pub...))
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial[:16]),
		Subject:               pkix.Name{CommonName: "vigil site " + site + " CA", Organization: []string{"vigil"}},
		NotBefore:             time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2125, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	// A nil random source: the signature is deterministic (RFC 6979), so
	// every server makes the same certificate.
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("siteca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("siteca: %w", err)
	}
	return &CA{Cert: cert, key: key}, nil
}

// Fingerprint is the CA certificate's fingerprint (Fingerprint).
func (ca *CA) Fingerprint() string { return Fingerprint(ca.Cert) }

// PEM is the CA certificate in PEM, the file VIGIL_CACERT names.
func (ca *CA) PEM() []byte { return PEMOf(ca.Cert) }

// PEMOf is a certificate in PEM.
func PEMOf(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// Pool is a pool holding the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issue makes a leaf certificate for names (IP addresses and DNS names;
// PeerName is always added) with a fresh key, valid from now for
// LeafValidity. The chain served holds the CA too, so that a client can
// show which CA a server presents (vigil ca).
func (ca *CA) Issue(names []string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"vigil"}},
		NotBefore:    now.Add(-time.Hour), // a peer's clock may be behind
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range append(slices.Clone(names), PeerName) {
		if ip := net.ParseIP(n); ip != nil {
			if !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else if n != "" && !slices.Contains(tmpl.DNSNames, n) {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("siteca: issuing a certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is a certificate's SHA-256 fingerprint as openssl prints it
// (openssl x509 -noout -fingerprint -sha256): "AB:CD:…", 32 bytes.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// SameFingerprint reports whether a fingerprint as an operator types it
// (with or without colons, any case, an optional "sha256:" prefix) is
// cert's.
func SameFingerprint(typed string, cert *x509.Certificate) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		s = strings.TrimPrefix(s, "sha256:")
		s = strings.TrimPrefix(s, "sha256 fingerprint=")
		return strings.NewReplacer(":", "", " ", "").Replace(s)
	}
	return norm(typed) != "" && norm(typed) == norm(Fingerprint(cert))
}
