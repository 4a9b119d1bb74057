package spec

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"net/url"
	"strings"
	"sync"
)

// A fingerprint is a short, stable stand-in for a secret, "(sensitive:" and
// hex digits ")": equal secrets give equal fingerprints, so that a plan
// shows whether a password changed, but the value is not shown.
//
// A site's fingerprints are keyed (HMAC-SHA-256 under a key of the site's,
// see NewFingerprinter): whoever reads them without the key cannot test a
// guessed password against them. Earlier versions made them unkeyed (32
// bits of a salted SHA-256, the same salt everywhere), which a word list
// reverses offline; those are only recognised (IsLegacyFingerprint), so
// that a spec that still carries one keeps its password.
const (
	fingerprintPrefix = "(sensitive:"
	keyedDigits       = 16 // 64 bits of the HMAC
	legacyDigits      = 8
	// legacySalt is the fixed salt of the unkeyed fingerprints.
	legacySalt = "vigil camera password fingerprint\x00"
)

// Fingerprinter gives a secret's fingerprint; a fingerprint or "" is
// returned as is.
type Fingerprinter func(secret string) string

// NewFingerprinter fingerprints secrets with HMAC-SHA-256 under key, the
// site's fingerprint key.
// It is safe for concurrent use; its MACs are pooled, as a site has
// thousands of secrets to fingerprint at once.
func NewFingerprinter(key []byte) Fingerprinter {
	macs := sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	return func(secret string) string {
		if secret == "" || IsFingerprint(secret) {
			return secret
		}
		m := macs.Get().(hash.Hash)
		defer macs.Put(m)
		m.Reset()
		m.Write([]byte(secret))
		var sum [sha256.Size]byte
		return fingerprintPrefix + hex.EncodeToString(m.Sum(sum[:0]))[:keyedDigits] + ")"
	}
}

// LegacyFingerprint is the unkeyed fingerprint of earlier versions, to
// recognise one that a spec still carries. Never show it.
func LegacyFingerprint(secret string) string {
	if secret == "" || IsFingerprint(secret) {
		return secret
	}
	sum := sha256.Sum256([]byte(legacySalt + secret))
	return fingerprintPrefix + hex.EncodeToString(sum[:legacyDigits/2]) + ")"
}

// IsFingerprint reports whether s has the form of a fingerprint, keyed or
// legacy.
func IsFingerprint(s string) bool {
	return fingerprintDigits(s) > 0
}

// IsLegacyFingerprint reports whether s is an unkeyed fingerprint of an
// earlier version.
func IsLegacyFingerprint(s string) bool {
	return fingerprintDigits(s) == legacyDigits
}

// fingerprintDigits is the number of hex digits of a fingerprint, 0 for
// anything else.
func fingerprintDigits(s string) int {
	digits, ok := strings.CutPrefix(s, fingerprintPrefix)
	if !ok {
		return 0
	}
	if digits, ok = strings.CutSuffix(digits, ")"); !ok {
		return 0
	}
	if len(digits) != keyedDigits && len(digits) != legacyDigits {
		return 0
	}
	if _, err := hex.DecodeString(digits); err != nil {
		return 0
	}
	return len(digits)
}

// hidden stands in for a secret where no fingerprint is given.
const hidden = "(sensitive)"

// or is fp, or, when fp is nil, a Fingerprinter that hides every secret
// behind "(sensitive)".
func (fp Fingerprinter) or() Fingerprinter {
	if fp != nil {
		return fp
	}
	return func(secret string) string {
		if secret == "" {
			return ""
		}
		return hidden
	}
}

// Redacted returns a deep copy of the site in which every camera password,
// the password part of every camera URL, every notifier secret and every
// user's and token's hash is replaced by its fingerprint under fp, or by
// "(sensitive)" when fp is nil. Use it for anything shown to people or
// stored outside the cluster: plans, status, golden files.
func (s *Site) Redacted(fp Fingerprinter) *Site {
	// A JSON round trip is the simplest complete deep copy; ranges are not
	// part of the JSON and are carried over below.
	data, err := json.Marshal(s)
	if err != nil {
		panic("spec: a Site always marshals: " + err.Error())
	}
	out := &Site{}
	if err := json.Unmarshal(data, out); err != nil {
		panic("spec: a Site always unmarshals: " + err.Error())
	}
	copyRanges(s, out)
	fp = fp.or()
	for _, c := range out.Cameras {
		c.Password = fp(c.Password)
		c.URL = RedactURL(c.URL, fp)
	}
	redactAlerting(out, fp)
	redactAccess(out, fp)
	return out
}

// RedactURL fingerprints the password of a URL's user information under
// fp (nil: "(sensitive)"). It edits the text rather than re-serialising the
// URL, so that the fingerprint stays readable instead of percent-encoded.
func RedactURL(raw string, fp Fingerprinter) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	pw, ok := u.User.Password()
	start, end, found := passwordSpan(raw)
	if !ok || !found {
		return raw
	}
	return raw[:start] + fp.or()(pw) + raw[end:]
}

// WithURLPassword is raw with the password of its user information
// replaced by that of from, as from writes it (percent-encoded). raw is
// returned as is when either has no password.
func WithURLPassword(raw, from string) string {
	start, end, ok := passwordSpan(raw)
	fs, fe, fok := passwordSpan(from)
	if !ok || !fok {
		return raw
	}
	return raw[:start] + from[fs:fe] + raw[end:]
}

// passwordSpan finds the password's text in a URL with user information
// (scheme://user:password@host/...): raw[start:end].
func passwordSpan(raw string) (start, end int, ok bool) {
	scheme := strings.Index(raw, "://")
	if scheme < 0 {
		return 0, 0, false
	}
	rest := raw[scheme+3:]
	hostEnd := strings.IndexAny(rest, "/?#")
	if hostEnd < 0 {
		hostEnd = len(rest)
	}
	at := strings.LastIndex(rest[:hostEnd], "@")
	if at < 0 {
		return 0, 0, false
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return 0, 0, false
	}
	return scheme + 3 + colon + 1, scheme + 3 + at, true
}

func copyRanges(from, to *Site) {
	to.DeclRange, to.Ranges = from.DeclRange, from.Ranges
	for i, v := range from.Servers {
		to.Servers[i].DeclRange, to.Servers[i].Ranges = v.DeclRange, v.Ranges
		for j, st := range v.Storage {
			to.Servers[i].Storage[j].DeclRange, to.Servers[i].Storage[j].Ranges = st.DeclRange, st.Ranges
		}
		if n := v.Network; n != nil {
			to.Servers[i].Network.DeclRange = n.DeclRange
			for j, x := range n.Interfaces {
				to.Servers[i].Network.Interfaces[j].DeclRange, to.Servers[i].Network.Interfaces[j].Ranges = x.DeclRange, x.Ranges
			}
			for j, x := range n.Routes {
				to.Servers[i].Network.Routes[j].DeclRange, to.Servers[i].Network.Routes[j].Ranges = x.DeclRange, x.Ranges
			}
		}
	}
	for i, g := range from.Groups {
		to.Groups[i].DeclRange, to.Groups[i].Ranges = g.DeclRange, g.Ranges
	}
	for i, c := range from.Cameras {
		to.Cameras[i].DeclRange, to.Cameras[i].Ranges = c.DeclRange, c.Ranges
	}
	if from.Balancing != nil {
		to.Balancing.DeclRange, to.Balancing.Ranges = from.Balancing.DeclRange, from.Balancing.Ranges
	}
	copyAlertRanges(from, to)
	copyAccessRanges(from, to)
	for i, h := range from.Holds {
		to.Holds[i].DeclRange, to.Holds[i].Ranges = h.DeclRange, h.Ranges
	}
}
