package cluster

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The raft transport is TCP wrapped in TLS 1.3 with a throwaway self-signed
// certificate, so the traffic is encrypted. Certificates are not verified:
// authentication is by the site key instead. After the TLS handshake both
// ends send HMAC-SHA256(raft key, role || EKM), where EKM is keying material
// exported from this very TLS session (RFC 8446 section 7.5). Only a holder of
// the site key can compute it, and since the EKM differs for every session a
// man in the middle (who would run two sessions) cannot relay it. Raft bytes
// flow only after both MACs have been checked.

const (
	ekmLabel        = "EXPORTER-vigil-raft-auth"
	authRoleClient  = "vigil raft client"
	authRoleServer  = "vigil raft server"
	authTimeout     = 5 * time.Second
	acceptQueueSize = 16
)

// errAuth is returned when a peer does not prove it holds the site key.
var errAuth = errors.New("peer did not prove it holds this site's key (wrong or missing site key)")

// streamLayer implements raft.StreamLayer.
type streamLayer struct {
	ln        net.Listener
	advertise net.Addr
	key       []byte // derived raft key
	server    *tls.Config
	client    *tls.Config
	log       *slog.Logger
	onRefuse  func(remote string, err error)

	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newStreamLayer(bind string, advertise net.Addr, key []byte, log *slog.Logger, onRefuse func(string, error)) (*streamLayer, error) {
	cert, err := selfSignedCert()
	if err != nil {
		return nil, fmt.Errorf("raft transport certificate: %w", err)
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft transport: %w", err)
	}
	s := &streamLayer{
		ln:        ln,
		advertise: advertise,
		key:       key,
		server: &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS13,
		},
		client: &tls.Config{
			// Peers are authenticated by the site key (see above), not by
			// their certificate.
			InsecureSkipVerify: true,
			MinVersion:         tls.VersionTLS13,
		},
		log:      log,
		onRefuse: onRefuse,
		conns:    make(chan net.Conn, acceptQueueSize),
		done:     make(chan struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// acceptLoop accepts TCP connections and authenticates each in its own
// goroutine, so a slow or hostile peer cannot hold up the others.
func (s *streamLayer) acceptLoop() {
	defer s.wg.Done()
	for {
		raw, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Error("raft transport accept failed", "err", err)
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			conn, err := s.handshake(raw, false)
			if err != nil {
				raw.Close()
				s.onRefuse(raw.RemoteAddr().String(), err)
				return
			}
			select {
			case s.conns <- conn:
			case <-s.done:
				conn.Close()
			}
		}()
	}
}

// handshake runs TLS and the site-key proof on raw; client selects the side.
func (s *streamLayer) handshake(raw net.Conn, client bool) (net.Conn, error) {
	deadline := time.Now().Add(authTimeout)
	if err := raw.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var tc *tls.Conn
	if client {
		tc = tls.Client(raw, s.client)
	} else {
		tc = tls.Server(raw, s.server)
	}
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	cs := tc.ConnectionState()
	ekm, err := cs.ExportKeyingMaterial(ekmLabel, nil, 32)
	if err != nil {
		return nil, fmt.Errorf("TLS keying material: %w", err)
	}
	mine, theirs := authRoleServer, authRoleClient
	if client {
		mine, theirs = authRoleClient, authRoleServer
	}
	// Both sides write first, then read: 32 bytes never block on a socket.
	if _, err := tc.Write(authMAC(s.key, mine, ekm)); err != nil {
		return nil, fmt.Errorf("sending site-key proof: %w", err)
	}
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(tc, got); err != nil {
		return nil, fmt.Errorf("%w: %v", errAuth, err)
	}
	if !hmac.Equal(got, authMAC(s.key, theirs, ekm)) {
		return nil, errAuth
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return tc, nil
}

func authMAC(key []byte, role string, ekm []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(role))
	m.Write(ekm)
	return m.Sum(nil)
}

// Accept implements net.Listener: it returns authenticated connections only.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (s *streamLayer) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.done)
		err = s.ln.Close()
	})
	return err
}

// Addr implements net.Listener; raft advertises it to its peers.
func (s *streamLayer) Addr() net.Addr { return s.advertise }

// Dial implements raft.StreamLayer.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	raw, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, err
	}
	conn, err := s.handshake(raw, true)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("raft connection to %s refused: %w", address, err)
	}
	return conn, nil
}

// selfSignedCert makes an Ed25519 certificate for this process's lifetime.
func selfSignedCert() (tls.Certificate, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "vigil raft"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, nil
}
