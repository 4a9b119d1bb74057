package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// certPinPrefix starts a camera's tls_fingerprint: the hash it names.
const certPinPrefix = "sha256:"

// CertFingerprint is the tls_fingerprint that pins a certificate, given in
// its DER form: "sha256:" and the SHA-256 of der in lower-case hex, the
// digits `openssl x509 -noout -fingerprint -sha256` prints.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return certPinPrefix + hex.EncodeToString(sum[:])
}

// CanonicalCertFingerprint writes a tls_fingerprint as CertFingerprint
// does: openssl's "SHA256 Fingerprint=AB:CD:…" digits, upper case and
// colons are accepted as written by people. A value that is no
// fingerprint is returned as given, for validation to report.
func CanonicalCertFingerprint(s string) string {
	t := strings.TrimSpace(s)
	if len(t) < len(certPinPrefix) || !strings.EqualFold(t[:len(certPinPrefix)], certPinPrefix) {
		return s
	}
	digits := strings.ToLower(strings.ReplaceAll(t[len(certPinPrefix):], ":", ""))
	if !ValidCertFingerprint(certPinPrefix + digits) {
		return s
	}
	return certPinPrefix + digits
}

// ValidCertFingerprint reports whether s is a tls_fingerprint in the form
// CertFingerprint writes.
func ValidCertFingerprint(s string) bool {
	digits, ok := strings.CutPrefix(s, certPinPrefix)
	if !ok || len(digits) != 2*sha256.Size || strings.ToLower(digits) != digits {
		return false
	}
	_, err := hex.DecodeString(digits)
	return err == nil
}
