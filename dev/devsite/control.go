package devsite

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Verbs of Do, in the order help lists them.
var Verbs = []string{"stop", "kill", "start"}

// Do runs one control command on a server: "stop" (graceful: it leaves and
// its peers take over at once), "kill" (a crash: its peers notice after a few
// keepalives) or "start" (back with its data). The message says what to
// expect.
func (s *Site) Do(verb, server string) (string, error) {
	if !s.Has(server) {
		return "", fmt.Errorf("site %s has no server %q; its servers are %s", s.Name, server, strings.Join(s.opts.Servers, ", "))
	}
	running := s.Running(server)
	switch verb {
	case "stop", "kill":
		if !running {
			return "", fmt.Errorf("%s is not running; start it with: start %s", server, server)
		}
		if verb == "stop" {
			if err := s.Stop(server); err != nil {
				return "", fmt.Errorf("stopping %s: %w", server, err)
			}
			return fmt.Sprintf("stopped %s: it left the site, its backups take its cameras over now", server), nil
		}
		if err := s.Kill(server); err != nil {
			return "", fmt.Errorf("killing %s: %w", server, err)
		}
		return fmt.Sprintf("killed %s as a crash would: its backups take its cameras over once it is declared dead (a few keepalives)", server), nil
	case "start":
		if running {
			return "", fmt.Errorf("%s is already running", server)
		}
		if err := s.Start(server); err != nil {
			return "", fmt.Errorf("starting %s: %w", server, err)
		}
		return fmt.Sprintf("started %s: it rejoins the site and, with failback, its cameras come back to it", server), nil
	}
	return "", fmt.Errorf("unknown command %q: use %s", verb, strings.Join(Verbs, ", "))
}

// ControlHandler serves Do over HTTPS (ControlTLS) for `vigil dev stop
// SERVER` and the like from another terminal: POST /dev/VERB?server=NAME
// with the site's token as a bearer token. Answers are one line of text.
// notify, when not nil, gets the message of every command that succeeded.
func (s *Site) ControlHandler(notify func(msg string)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /dev/{verb}", func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.Token)) != 1 {
			http.Error(w, "wrong or missing token: set VIGIL_TOKEN to the token vigil dev printed", http.StatusUnauthorized)
			return
		}
		msg, err := s.Do(r.PathValue("verb"), r.URL.Query().Get("server"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if notify != nil {
			notify(msg)
		}
		fmt.Fprintln(w, msg)
	})
	return mux
}

// ControlTLS is the TLS configuration of the control endpoint at addr
// (host:port): a certificate of the site's CA for its host, so that the
// token goes to it over HTTPS as to the agents.
func (s *Site) ControlTLS(addr string) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	c, err := s.CA.Issue([]string{host, "localhost"}, time.Now())
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{*c}, MinVersion: tls.VersionTLS12}, nil
}

// Control asks the vigil dev whose control endpoint is at addr (host:port)
// to run verb on server, and returns its answer; roots is the site's CA
// (VIGIL_CACERT, as vigil dev printed it).
func Control(ctx context.Context, addr, token, verb, server string, roots *x509.CertPool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := "https://" + addr + "/dev/" + url.PathEscape(verb) + "?server=" + url.QueryEscape(server)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Do(req)
	if err != nil {
		if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
			return "", fmt.Errorf("the vigil dev on %s is not trusted (%w): set VIGIL_CACERT as vigil dev printed it", addr, err)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", fmt.Errorf("no vigil dev answers on %s: is it running in another terminal? (%w)", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(b))
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(msg)
	}
	return msg, nil
}
