package recorder

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// tlsConfig is how an rtsps:// camera's certificate is checked: by default
// against the system's roots and the URL's host (gortsplib fills in the
// server name, as net/http does); pinned to one certificate by
// TLSFingerprint, whoever signed it (a camera's self-signed one); or not
// at all with TLSInsecure. The camera's password is sent only after the
// check passed.
func tlsConfig(c Camera) *tls.Config {
	switch {
	case c.TLSInsecure:
		return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for in the configuration: tls_insecure = true
	case c.TLSFingerprint != "":
		return &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the pin replaces the chain check: VerifyConnection
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return &pinError{want: c.TLSFingerprint}
				}
				if got := spec.CertFingerprint(cs.PeerCertificates[0].Raw); got != c.TLSFingerprint {
					return &pinError{want: c.TLSFingerprint, got: got}
				}
				return nil
			},
		}
	}
	return nil // gortsplib's default: verified with the system's roots
}

// pinError is a camera certificate that is not the pinned one.
type pinError struct{ want, got string }

func (e *pinError) Error() string {
	if e.got == "" {
		return "the camera presented no certificate"
	}
	return fmt.Sprintf("the camera's certificate is %s, not the pinned tls_fingerprint %s", e.got, e.want)
}

// certFailure classifies a refused camera certificate, or returns nil when
// err is not about one. The message names the certificate's fingerprint
// and what to do: a camera whose certificate changed, or one that is not
// the camera, must not get its password.
func certFailure(err error) error {
	if pe, ok := errors.AsType[*pinError](err); ok {
		return failure(api.CauseCertificate, "%v: if the camera's certificate was replaced, check the new one and set tls_fingerprint = %q", pe, pe.got)
	}
	ve, ok := errors.AsType[*tls.CertificateVerificationError](err)
	if !ok {
		return nil
	}
	why := ve.Err.Error()
	switch ve.Err.(type) {
	case x509.UnknownAuthorityError:
		why = "it is not signed by an authority this server trusts (a self-signed camera certificate?)"
	case x509.HostnameError:
		why = "it is not for the host of the camera's url: " + ve.Err.Error()
	}
	fp := ""
	if len(ve.UnverifiedCertificates) > 0 {
		fp = fmt.Sprintf(" Its fingerprint is %s: after checking it on the camera, pin it with tls_fingerprint = %q, or set tls_insecure = true to skip the check.",
			spec.CertFingerprint(ve.UnverifiedCertificates[0].Raw), spec.CertFingerprint(ve.UnverifiedCertificates[0].Raw))
	}
	return failure(api.CauseCertificate, "the camera's certificate was refused: %s.%s", why, fp)
}
