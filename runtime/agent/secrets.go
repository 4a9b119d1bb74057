package agent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"vigil/hcl/spec"
	"vigil/runtime/access"
)

// fingerprintKey is the key of the site's secret fingerprints (the
// camera passwords and notifier secrets GET /v1/state shows), derived from
// the site key, which every server of the site holds and which never
// leaves the site: so the fingerprints are the same on every server, and
// nobody without the key can test a guessed password against them. The
// derivation (HMAC-SHA-256 with a fixed label, as configimport's signing
// key) keeps it apart from the site key's other uses. It is not kept in
// the replicated state, so a state snapshot or backup does not hold it,
// and it needs no step when a site upgrades: the fingerprints of every
// spec become keyed at once.
func fingerprintKey(siteKey []byte) []byte {
	m := hmac.New(sha256.New, siteKey)
	m.Write([]byte("vigil secret fingerprint key\n"))
	return m.Sum(nil)
}

// withFingerprintKey adds the fingerprint key to an encoded state (a JSON
// object), for a caller with the API token. The cached encoding is shared
// by every caller and never holds the key.
func withFingerprintKey(state, key []byte) []byte {
	if len(state) == 0 || state[0] != '{' {
		return state
	}
	out := fmt.Appendf(nil, "{\n  \"fingerprint_key\": %q,", base64.StdEncoding.EncodeToString(key))
	return append(out, state[1:]...)
}

// mayApply reports whether the request comes from a caller that may apply
// (an admin identity, or the agent's API token): only such a caller gets
// the fingerprint key.
func (a *Agent) mayApply(r *http.Request) bool {
	if id, ok := access.From(r.Context()); ok {
		return id.Role.Allows(access.Admin)
	}
	tok, ok := bearerToken(r)
	return ok && a.cfg.checkToken(tok)
}

// keepPasswords puts back the committed secrets where the request carries
// the fingerprint /v1/state shows (the configuration keeps the committed
// secret), so that re-applying a spec read from the API never replaces a
// password by its fingerprint. It refuses a fingerprint that matches no
// committed secret, and a camera that keeps its password while its URL
// names another destination (scheme, host or port): the kept password
// would go to a host that was never given it.
//
// A legacy fingerprint (unkeyed, of an earlier version) still keeps the
// committed secret it matches, so that a spec saved before an upgrade
// applies as before.
func (a *Agent) keepPasswords(s *spec.Site) []spec.Diagnostic {
	cur := a.cl.State().Spec
	var diags []spec.Diagnostic
	refuse := func(summary, detail string, args ...any) {
		diags = append(diags, spec.Diagnostic{Severity: spec.SeverityError, Summary: summary, Detail: fmt.Sprintf(detail, args...)})
	}
	const notCommitted = "The spec carries a fingerprint, as GET /v1/state shows, that matches no committed %s: send the real %s."
	for _, c := range s.Cameras {
		if !spec.KeepsPassword(c) {
			continue
		}
		var old *spec.Camera
		if cur != nil {
			old = cur.Camera(c.Name)
		}
		if old == nil {
			refuse(fmt.Sprintf("Camera %q: password is a fingerprint", c.Name), notCommitted, "password", "password")
			continue
		}
		if from, to := spec.CameraDestination(old.URL), spec.CameraDestination(c.URL); from != to {
			refuse(fmt.Sprintf("Camera %q: kept password for another host", c.Name),
				"The spec keeps camera %q's committed password (it carries its fingerprint) but its url now names %s, not %s: a kept password is never sent to another host. Send the camera's password with the new url.", c.Name, to, from)
			continue
		}
		if spec.IsFingerprint(c.Password) {
			if !a.fingerprintOf(c.Password, old.Password) {
				refuse(fmt.Sprintf("Camera %q: password is a fingerprint", c.Name), notCommitted, "password", "password")
				continue
			}
			c.Password = old.Password
		}
		if pw := spec.URLPassword(c.URL); spec.IsFingerprint(pw) {
			committed := spec.URLPassword(old.URL)
			if !a.fingerprintOf(pw, committed) {
				refuse(fmt.Sprintf("Camera %q: url password is a fingerprint", c.Name), notCommitted, "url password", "password in the url")
				continue
			}
			c.URL = spec.WithURLPassword(c.URL, old.URL)
		}
	}
	for _, n := range s.Notifiers {
		var old *spec.Notifier
		if cur != nil {
			old = cur.Notifier(n.Name)
		}
		for i, p := range n.Secrets() {
			if !spec.IsFingerprint(*p) {
				continue
			}
			if old == nil || old.Channel() != n.Channel() || !a.fingerprintOf(*p, *old.Secrets()[i]) {
				refuse(fmt.Sprintf("Notifier %q: secret is a fingerprint", n.Name), notCommitted, "secret", "secret")
				continue
			}
			*p = *old.Secrets()[i]
		}
	}
	committed := map[string]string{}
	if cur != nil {
		for _, sec := range cur.AccessSecrets() {
			committed[sec.Kind+"\x00"+sec.Name] = *sec.Value
		}
	}
	for _, sec := range s.AccessSecrets() {
		if !spec.IsFingerprint(*sec.Value) {
			continue
		}
		old, ok := committed[sec.Kind+"\x00"+sec.Name]
		if !ok || !a.fingerprintOf(*sec.Value, old) {
			refuse(fmt.Sprintf("%s %q: hash is a fingerprint", strings.ToUpper(sec.Kind[:1])+sec.Kind[1:], sec.Name),
				"The spec carries a hash fingerprint, as GET /v1/state shows it, that matches no committed hash: send the hash from the configuration.")
			continue
		}
		*sec.Value = old
	}
	return diags
}

// fingerprintOf reports whether fp is the fingerprint of the committed
// secret, keyed or legacy.
func (a *Agent) fingerprintOf(fp, secret string) bool {
	if secret == "" {
		return false
	}
	want := a.fp(secret)
	if spec.IsLegacyFingerprint(fp) {
		want = spec.LegacyFingerprint(secret)
	}
	return hmac.Equal([]byte(fp), []byte(want))
}
