package main

import (
	"crypto/x509"
	"fmt"
	"os"
	"sync/atomic"

	"vigil/runtime/api"
)

// trustedCA is the pool of -ca-cert or VIGIL_CACERT that every command's
// API client trusts for HTTPS; nil trusts the system's. It is atomic because
// run stores it on each command line and in-process callers (the tests, two
// concurrent applies) run command lines side by side.
var trustedCA atomic.Pointer[x509.CertPool]

// loadTrustedCA reads the global -ca-cert FILE, or VIGIL_CACERT without it.
func loadTrustedCA(flagFile string) (*x509.CertPool, error) {
	file, from := flagFile, "-ca-cert"
	if file == "" {
		file, from = os.Getenv(api.EnvCACert), api.EnvCACert
	}
	if file == "" {
		return nil, nil
	}
	pool, err := api.LoadCA(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", from, err)
	}
	return pool, nil
}

// newClient is the API client of every command: it trusts -ca-cert or
// VIGIL_CACERT.
func newClient(address, token string) *api.Client {
	return api.NewClient(address, token, api.WithCA(trustedCA.Load()))
}
