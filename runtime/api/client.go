package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"vigil/hcl/spec"
)

// DefaultAddress is the agent address used when neither -address nor
// VIGIL_ADDR is given.
const DefaultAddress = "https://127.0.0.1:53540"

// Environment variables read by the command line.
const (
	EnvAddress = "VIGIL_ADDR"
	EnvToken   = "VIGIL_TOKEN"
	// EnvCACert names a PEM file of the certificate authorities the
	// command line trusts for HTTPS (the site's CA: vigil ca), instead of
	// the system's; -ca-cert overrides it.
	EnvCACert = "VIGIL_CACERT"
)

// unaryTimeout bounds a request whose context has no deadline of its own.
const unaryTimeout = 30 * time.Second

// AddressFromEnv returns VIGIL_ADDR, or DefaultAddress when it is unset.
func AddressFromEnv() string {
	if a := os.Getenv(EnvAddress); a != "" {
		return a
	}
	return DefaultAddress
}

// TokenFromEnv returns VIGIL_TOKEN (empty when unset).
func TokenFromEnv() string { return os.Getenv(EnvToken) }

// Client speaks the agent's HTTP API. Any agent of a site answers: agents
// forward state-changing calls to the master themselves. A Client is safe for
// concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client for the agent at address ("https://host:port",
// "host:port" or "host"; the scheme defaults to https and the port to
// 53540). token (VIGIL_TOKEN) is sent with every call, over HTTPS only:
// every endpoint but GET /v1/health needs one.
func NewClient(address, token string, opts ...Option) *Client {
	c := NewClientHTTP(address, token, &http.Client{})
	for _, o := range opts {
		o(c)
	}
	return c
}

// Option configures a Client made by NewClient.
type Option func(*Client)

// WithCA makes the client trust the certificate authorities of pool for
// HTTPS instead of the system's: the site's CA (VIGIL_CACERT, -ca-cert).
// A nil pool leaves the system's.
func WithCA(pool *x509.CertPool) Option {
	return func(c *Client) {
		if pool == nil {
			return
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.http = &http.Client{Transport: t}
	}
}

// LoadCA reads a PEM file of certificates (VIGIL_CACERT, -ca-cert) into a
// pool to trust.
func LoadCA(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate (vigil ca writes the site's)", file)
	}
	return pool, nil
}

// NewClientHTTP is NewClient with the HTTP client to use: its transport
// decides how connections are made (from inside a network namespace, say).
func NewClientHTTP(address, token string, h *http.Client) *Client {
	return &Client{base: NormalizeAddress(address), token: token, http: h}
}

// NormalizeAddress turns "host", "host:port" or a URL into a base URL without
// a trailing slash; the scheme defaults to https.
func NormalizeAddress(address string) string {
	a := strings.TrimRight(strings.TrimSpace(address), "/")
	if a == "" {
		return DefaultAddress
	}
	if !strings.Contains(a, "://") {
		a = "https://" + a
	}
	scheme, hostport, _ := strings.Cut(a, "://")
	host, rest, _ := strings.Cut(hostport, "/")
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "53540")
	}
	if rest != "" {
		return scheme + "://" + host + "/" + rest
	}
	return scheme + "://" + host
}

// Address is the base URL the client talks to.
func (c *Client) Address() string { return c.base }

// State returns the site's live state as the agent sees it.
func (c *Client) State(ctx context.Context) (*State, error) {
	var st State
	if err := c.do(ctx, http.MethodGet, "/v1/state", nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// WaitState polls the agent's state every interval until cond holds, and
// returns that state. When ctx ends first it returns the last state it read
// (nil if none) and an error naming ctx's error and, without a state, the
// last request's error.
func (c *Client) WaitState(ctx context.Context, interval time.Duration, cond func(*State) bool) (*State, error) {
	var last *State
	var lastErr error
	for {
		st, err := c.State(ctx)
		if err == nil {
			last = st
			if cond(st) {
				return st, nil
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				return nil, fmt.Errorf("%w (last error: %v)", ctx.Err(), lastErr)
			}
			return last, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// Health returns the agent's health summary.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	if err := c.do(ctx, http.MethodGet, "/v1/health", nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Apply commits a spec planned against req.BaseRevision. Errors are
// *StaleError (409), *ValidationError (422) or *StatusError (anything else,
// including 401 and 503).
func (c *Client) Apply(ctx context.Context, req ApplyRequest) (*ApplyResponse, error) {
	var resp ApplyResponse
	if err := c.do(ctx, http.MethodPost, "/v1/apply", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// TransferMaster moves the master role to server and returns the new master.
func (c *Client) TransferMaster(ctx context.Context, server string) (string, error) {
	var resp TransferResponse
	if err := c.do(ctx, http.MethodPost, "/v1/master/transfer", TransferRequest{Server: server}, &resp); err != nil {
		return "", err
	}
	return resp.Master, nil
}

// AlertTest sends a test notification to a notifier of the site and
// returns what its server answered.
func (c *Client) AlertTest(ctx context.Context, notifier string) (*AlertTestResponse, error) {
	var resp AlertTestResponse
	if err := c.do(ctx, http.MethodPost, "/v1/alerts/test", AlertTestRequest{Notifier: notifier}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Gaps returns the site-wide gaps the answering agent observed since it
// started, of one camera ("" for all), oldest first.
func (c *Client) Gaps(ctx context.Context, camera string) ([]Gap, error) {
	var out []Gap
	if err := c.do(ctx, http.MethodGet, "/v1/gaps?camera="+url.QueryEscape(camera), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Drain drains server (hands every camera away, make-before-break) or,
// with undo, ends its drain.
func (c *Client) Drain(ctx context.Context, server string, undo bool) (*DrainResponse, error) {
	var resp DrainResponse
	if err := c.do(ctx, http.MethodPost, "/v1/drain", DrainRequest{Server: server, Undo: undo}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Stats returns the site's daily recorded bytes per server and camera, as
// committed by the master, for dates on or after since ("2006-01-02"; ""
// for all).
func (c *Client) Stats(ctx context.Context, since string) ([]DailyStat, error) {
	var out []DailyStat
	if err := c.do(ctx, http.MethodGet, "/v1/stats?since="+url.QueryEscape(since), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ExportPublicKey returns the public half of the site's export key.
func (c *Client) ExportPublicKey(ctx context.Context) (*ExportPublicKey, error) {
	var k ExportPublicKey
	if err := c.do(ctx, http.MethodGet, "/v1/export/public-key", nil, &k); err != nil {
		return nil, err
	}
	return &k, nil
}

// HoldFootage asks which footage of the site the holds cover.
func (c *Client) HoldFootage(ctx context.Context, req HoldFootageRequest) (*HoldFootage, error) {
	var out HoldFootage
	if err := c.do(ctx, http.MethodPost, "/v1/holds/footage", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Events streams the agent's events, starting with its recent backlog. The
// channel is closed when ctx ends or the connection drops.
func (c *Client) Events(ctx context.Context) (<-chan Event, error) {
	s, err := c.stream(ctx, "/v1/events")
	if err != nil {
		return nil, err
	}
	return s.Events, nil
}

// EventOptions are the modes of EventHistory.
type EventOptions struct {
	// Follow keeps the stream open with the new events after the history.
	Follow bool
	// Local asks the agent for its own events only, not the site's.
	Local bool
}

// EventStream is an answer of EventHistory.
type EventStream struct {
	// Events are the matching events, oldest first, then (with Follow)
	// the new ones; closed at the end, or when ctx ends or the connection
	// drops.
	Events <-chan Event
	// Unanswered names the servers of the site whose events are missing
	// because they did not answer in time.
	Unanswered []string
}

// EventHistory returns the site's events that match f, merged by time
// from every server the agent reached.
func (c *Client) EventHistory(ctx context.Context, f EventFilter, opts EventOptions) (*EventStream, error) {
	q := f.Query()
	q.Set("history", "1")
	if opts.Follow {
		q.Set("follow", "1")
	}
	if opts.Local {
		q.Set("local", "1")
	}
	return c.stream(ctx, "/v1/events?"+q.Encode())
}

// stream reads an NDJSON stream of events.
func (c *Client) stream(ctx context.Context, path string) (*EventStream, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	out := &EventStream{}
	if h := resp.Header.Get(UnansweredHeader); h != "" {
		out.Unanswered = strings.Split(h, ",")
	}
	ch := make(chan Event, 64)
	out.Events = ch
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev Event
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, fmt.Errorf("bad agent address %q: %w", c.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		if req.URL.Scheme != "https" {
			return nil, fmt.Errorf("refusing to send the API token in clear text to %s: use an https:// address", c.base)
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, unaryTimeout)
		defer cancel()
	}
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return decodeError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading answer of %s %s: %w", method, c.base+path, err)
	}
	return nil
}

func (c *Client) transportError(err error) error {
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return err
	}
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
		return &CertificateError{Address: c.base, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("vigil agent at %s did not answer: %w", c.base, err)
	}
	return &UnreachableError{Address: c.base, Err: err}
}

// decodeError turns a non-2xx answer into a typed error.
func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var e Error
	if json.Unmarshal(b, &e) != nil || e.Error == "" {
		e.Error = strings.TrimSpace(string(b))
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
	}
	switch resp.StatusCode {
	case http.StatusConflict:
		return &StaleError{Revision: e.Revision, BaseRevision: e.BaseRevision, Message: e.Error}
	case http.StatusUnprocessableEntity:
		return &ValidationError{Message: e.Error, Diagnostics: e.Diagnostics}
	}
	return &StatusError{StatusCode: resp.StatusCode, Message: e.Error, Master: e.Master, OutcomeUnknown: e.OutcomeUnknown}
}

// UnreachableError means no agent answered at the address.
type UnreachableError struct {
	Address string
	Err     error
}

func (e *UnreachableError) Error() string {
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("cannot reach vigil agent at %s: is it running? (connection refused)", e.Address)
	}
	return fmt.Sprintf("cannot reach vigil agent at %s: is it running? (%v)", e.Address, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// CertificateError means the agent's certificate is not one the client
// trusts: nothing was sent to it.
type CertificateError struct {
	Address string
	Err     error
}

func (e *CertificateError) Error() string {
	return fmt.Sprintf("the agent at %s is not trusted, nothing was sent to it (%v): set VIGIL_CACERT (or -ca-cert) to your site's CA certificate; vigil ca -address %s shows the CA the agent presents and its fingerprint", e.Address, e.Err, e.Address)
}

func (e *CertificateError) Unwrap() error { return e.Err }

// StaleError is a refused apply: the spec was planned against BaseRevision
// but Revision is committed now. Plan again.
type StaleError struct {
	Revision     uint64
	BaseRevision uint64
	Message      string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the site changed since this change was planned: planned against revision %d, committed revision is %d; run vigil plan again", e.BaseRevision, e.Revision)
}

// ValidationError is a refused apply: the spec is invalid.
type ValidationError struct {
	Message     string
	Diagnostics []spec.Diagnostic
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for _, d := range e.Diagnostics {
		b.WriteString("\n  ")
		if d.Range != nil {
			fmt.Fprintf(&b, "%s:%d,%d: ", d.Range.Filename, d.Range.Start.Line, d.Range.Start.Column)
		}
		fmt.Fprintf(&b, "%s: %s", d.Severity, d.Summary)
		if d.Detail != "" {
			b.WriteString("; " + d.Detail)
		}
	}
	return b.String()
}

// Errors that a *StatusError matches with errors.Is.
var (
	// ErrUnauthorized: the token is missing or wrong (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the caller may not do this, or see that camera (403).
	ErrForbidden = errors.New("forbidden")
	// ErrUnavailable: the site cannot commit now, e.g. no master or no
	// quorum (503).
	ErrUnavailable = errors.New("unavailable")
	// ErrNotFound: the named object does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrOutcomeUnknown: an apply was sent to the site's quorum but not
	// confirmed (503 with Error.OutcomeUnknown); it may have been
	// committed.
	ErrOutcomeUnknown = errors.New("outcome unknown")
)

// StatusError is any other refused request.
type StatusError struct {
	StatusCode int
	Message    string
	// Master is the master's API address when the agent named it.
	Master string
	// OutcomeUnknown: see Error.OutcomeUnknown.
	OutcomeUnknown bool
}

func (e *StatusError) Error() string {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return "the agent refused the request (401): " + e.Message + "; set VIGIL_TOKEN to a token of this site (vigil token new makes one; the agent configuration's token works too)"
	case http.StatusForbidden:
		return "the agent refused the request (403): " + e.Message + "; the token in VIGIL_TOKEN lacks the permission: ask an admin of the site for a token with the role needed"
	}
	return fmt.Sprintf("the agent refused the request (%d): %s", e.StatusCode, e.Message)
}

// Is matches ErrUnauthorized, ErrForbidden, ErrUnavailable and ErrNotFound
// by status code, and ErrOutcomeUnknown.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrOutcomeUnknown:
		return e.OutcomeUnknown
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrUnavailable:
		return e.StatusCode == http.StatusServiceUnavailable
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}
