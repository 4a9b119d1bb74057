package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
)

// fingerprintSalt keeps fingerprints from being plain SHA-256 sums of
// passwords, which precomputed tables would reverse.
const fingerprintSalt = "vigil camera password fingerprint\x00"

// Fingerprint returns a short, stable stand-in for a secret: equal secrets
// give equal fingerprints, so a change is visible in a plan, but the value
// is not shown. A value that already is a fingerprint is returned as is.
func Fingerprint(secret string) string {
	if secret == "" || IsFingerprint(secret) {
		return secret
	}
	sum := sha256.Sum256([]byte(fingerprintSalt + secret))
	return "(sensitive:" + hex.EncodeToString(sum[:4]) + ")"
}

// IsFingerprint reports whether s has the form Fingerprint produces.
func IsFingerprint(s string) bool {
	if !strings.HasPrefix(s, "(sensitive:") || !strings.HasSuffix(s, ")") || len(s) != len("(sensitive:)")+8 {
		return false
	}
	_, err := hex.DecodeString(s[len("(sensitive:") : len(s)-1])
	return err == nil
}

// Redacted returns a deep copy of the site in which every camera password,
// the password part of every camera URL, every notifier secret and every
// user's and token's hash is replaced by its Fingerprint. Use it for
// anything shown to people or stored outside the cluster: plans, status,
// golden files.
func (s *Site) Redacted() *Site {
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
	for _, c := range out.Cameras {
		c.Password = Fingerprint(c.Password)
		c.URL = RedactURL(c.URL)
	}
	redactAlerting(out)
	redactAccess(out)
	return out
}

// RedactURL fingerprints the password of a URL's user information. It
// edits the text rather than re-serialising the URL, so that the
// fingerprint stays readable instead of percent-encoded.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	pw, ok := u.User.Password()
	if !ok {
		return raw
	}
	scheme := strings.Index(raw, "://")
	if scheme < 0 {
		return raw
	}
	rest := raw[scheme+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	user, _, found := strings.Cut(rest[:max(at, 0)], ":")
	if at < 0 || !found {
		return raw
	}
	return raw[:scheme+3] + user + ":" + Fingerprint(pw) + rest[at:]
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
