package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/siteca"
)

func init() {
	register("ca", "Show the site's CA fingerprint and write its certificate (for VIGIL_CACERT)", runCA)
}

// runCA is `vigil ca`: the site's CA certificate, computed from an agent
// configuration (its site key) or fetched from an agent and trusted only
// when its fingerprint is the one the operator gives (or VIGIL_CACERT
// already trusts it). Fetching sends nothing but a TLS handshake.
func runCA(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("ca", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (env VIGIL_ADDR)")
	pin := fs.String("fingerprint", "", "the CA's SHA-256 `FINGERPRINT` to accept (the agent logs it at start; vigil ca -config computes it)")
	config := fs.String("config", "", "compute the CA from the agent configuration `FILE` (its site and site key) instead of asking an agent")
	out := fs.String("o", "", "write the CA certificate (PEM) to `FILE` instead of stdout")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: vigil ca [-address URL] [-fingerprint FINGERPRINT] [-o FILE]
       vigil ca -config AGENT.hcl [-o FILE]

The agents serve HTTPS with certificates of the site's own CA, derived
from the site key. vigil ca writes the CA's certificate, for VIGIL_CACERT
(or -ca-cert) and browsers, and prints its fingerprint on stderr.

With -config it computes the CA from an agent configuration, offline. Else
it asks the agent at -address which CA it presents, and writes it only when
its fingerprint is FINGERPRINT (or VIGIL_CACERT trusts it already); without
one it prints the fingerprint to compare with the one the agent logged.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	var ca *x509.Certificate
	if *config != "" {
		cfg, ok := loadAgentConfig(*config, stderr)
		if !ok {
			return exitError
		}
		c, err := siteca.New(cfg.Site, cfg.SiteKey)
		if err != nil {
			return fail(stdout, stderr, false, err)
		}
		ca = c.Cert
	} else {
		base := api.NormalizeAddress(*address)
		presented, err := presentedCA(base)
		if err != nil {
			return fail(stdout, stderr, false, err)
		}
		switch {
		case *pin != "" && !siteca.SameFingerprint(*pin, presented):
			return fail(stdout, stderr, false, fmt.Errorf("the agent at %s presents the CA %q with fingerprint %s, not %s: do not trust it", base, presented.Subject.CommonName, siteca.Fingerprint(presented), *pin))
		case *pin == "" && !trusts(trustedCA.Load(), presented):
			fmt.Fprintf(stderr, "The agent at %s presents the CA %q, SHA-256 fingerprint\n  %s\n"+
				"Compare it with the fingerprint the agent logged at start (or vigil ca -config AGENT.hcl on a server), then:\n"+
				"  vigil ca -address %s -fingerprint %s -o vigil-ca.pem\n  export VIGIL_CACERT=$PWD/vigil-ca.pem\n",
				base, presented.Subject.CommonName, siteca.Fingerprint(presented), base, siteca.Fingerprint(presented))
			return exitError
		}
		ca = presented
	}
	pemText := siteca.PEMOf(ca)
	if *out == "" {
		stdout.Write(pemText)
	} else if err := os.WriteFile(*out, pemText, 0o644); err != nil {
		return fail(stdout, stderr, false, err)
	}
	fmt.Fprintf(stderr, "CA %q, SHA-256 fingerprint %s\n", ca.Subject.CommonName, siteca.Fingerprint(ca))
	if *out != "" {
		fmt.Fprintf(stderr, "Trust it with: export VIGIL_CACERT=%s\n", *out)
	}
	return exitOK
}

// trusts reports whether pool (VIGIL_CACERT) holds cert.
func trusts(pool *x509.CertPool, cert *x509.Certificate) bool {
	if pool == nil {
		return false
	}
	_, err := cert.Verify(x509.VerifyOptions{Roots: pool})
	return err == nil
}

// presentedCA is the CA certificate an agent presents with its own (the
// last of its chain), checked to have issued it; nothing but the TLS
// handshake is sent.
func presentedCA(base string) (*x509.Certificate, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("%s is not an https:// address", base)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: &tls.Config{InsecureSkipVerify: true}}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, &api.UnreachableError{Address: base, Err: err}
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	ca := chain[len(chain)-1]
	if len(chain) < 2 || !ca.IsCA {
		return nil, fmt.Errorf("the agent at %s presents no CA with its certificate (issued by %q): it serves a certificate of your own PKI, whose CA VIGIL_CACERT should name", base, chain[0].Issuer.CommonName)
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1 : len(chain)-1] {
		inter.AddCert(c)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
		return nil, errors.Join(fmt.Errorf("the agent at %s presents a CA that did not issue its certificate", base), err)
	}
	return ca, nil
}
