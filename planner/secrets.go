package planner

import (
	"fmt"
	"slices"
	"strings"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// keptPasswords refuses a camera that keeps its committed password (the
// configuration gives the fingerprint /v1/state shows, not the password)
// while its URL names another destination (scheme, host or port) than the
// committed one: the agent would send the kept password to a host that
// was never given it. The agent refuses such a spec too; this says so at
// plan time, naming the camera and what to do.
func keptPasswords(desired *spec.Site, live *api.State) []Problem {
	var out []Problem
	for _, c := range desired.Cameras {
		if !spec.KeepsPassword(c) {
			continue
		}
		address := "site." + desired.Name + ".camera." + c.Name
		var old *spec.Camera
		if live.Spec != nil {
			old = live.Spec.Camera(c.Name)
		}
		if old == nil {
			out = append(out, Problem{Address: address,
				Summary: fmt.Sprintf("camera %s gives a password fingerprint, but the site has no committed camera %s whose password it could keep", c.Name, c.Name),
				Hint:    "give the camera's password (password = var.…), not its fingerprint"})
			continue
		}
		if from, to := spec.CameraDestination(old.URL), spec.CameraDestination(c.URL); from != to {
			out = append(out, Problem{Address: address,
				Summary: fmt.Sprintf("camera %s moves from %s to %s but keeps its committed password (the configuration gives its fingerprint): a kept password is never sent to another host", c.Name, from, to),
				Hint:    "give the camera's password again (password = var.…, or in the url) to send it to " + to + ", or keep the url's scheme, host and port"})
		}
	}
	return out
}

// redacted is want with its secrets replaced by the fingerprints the live
// site (have, nil before the first apply) would show for them (see
// differ.secret). Only the cameras that hold a secret are copied: a deep
// copy of a whole 2,500-camera site costs more than the rest of the plan.
func (d *differ) redacted(want, have *spec.Site) *spec.Site {
	var cams []*spec.Camera
	var at []int
	for i, c := range want.Cameras {
		if c.Password != "" || strings.Contains(c.URL, "@") {
			cams = append(cams, c)
			at = append(at, i)
		}
	}
	if len(cams) == 0 && len(want.Notifiers) == 0 && len(want.Users) == 0 && len(want.Tokens) == 0 {
		return want
	}
	keep := func(secret string) string { return secret }
	r := (&spec.Site{Name: want.Name, Cameras: cams, Notifiers: want.Notifiers, Users: want.Users, Tokens: want.Tokens}).Redacted(keep)
	out := *want
	out.Cameras = slices.Clone(want.Cameras)
	live := map[string]*spec.Camera{} // Site.Camera searches the list: a site has thousands
	if have != nil && len(cams) > 0 {
		for _, c := range have.Cameras {
			live[c.Name] = c
		}
	}
	for k, i := range at {
		c := r.Cameras[k]
		old := live[c.Name]
		livePw, liveURLPw := "", ""
		if old != nil {
			livePw, liveURLPw = old.Password, spec.URLPassword(old.URL)
		}
		c.Password = d.secret("camera "+c.Name, c.Password, livePw)
		if pw := spec.URLPassword(c.URL); pw != "" {
			c.URL = spec.RedactURL(c.URL, func(string) string { return d.secret("camera "+c.Name, pw, liveURLPw) })
		}
		out.Cameras[i] = c
	}
	out.Notifiers = r.Notifiers
	for _, n := range out.Notifiers {
		var old []*string
		if have != nil {
			if o := have.Notifier(n.Name); o != nil && o.Channel() == n.Channel() {
				old = o.Secrets()
			}
		}
		for i, p := range n.Secrets() {
			live := ""
			if i < len(old) {
				live = *old[i]
			}
			*p = d.secret("notifier "+n.Name, *p, live)
		}
	}
	out.Users, out.Tokens = r.Users, r.Tokens
	committed := map[string]string{}
	if have != nil {
		for _, sec := range have.AccessSecrets() {
			committed[sec.Kind+"\x00"+sec.Name] = *sec.Value
		}
	}
	for _, sec := range out.AccessSecrets() {
		*sec.Value = d.secret(sec.Kind+" "+sec.Name, *sec.Value, committed[sec.Kind+"\x00"+sec.Name])
	}
	return &out
}

// secret is the fingerprint that stands for a desired secret in the diff,
// given the live site's fingerprint of the same secret (live, "" when it
// has none):
//   - a fingerprint is kept as given: the configuration keeps the
//     committed secret. A legacy (unkeyed) fingerprint counts as the live
//     one: the agent checks it against the committed secret on apply, and
//     a plan that showed it as a change would show it for ever.
//   - against a site of an earlier version (legacy live fingerprints), the
//     legacy fingerprint;
//   - with the site's key, the keyed fingerprint;
//   - without it, the secret cannot be compared: it counts as unchanged
//     and the plan says so (what names the resource).
func (d *differ) secret(what, value, live string) string {
	switch {
	case value == "":
		return ""
	case spec.IsFingerprint(value):
		if spec.IsLegacyFingerprint(value) && spec.IsFingerprint(live) {
			return live
		}
		return value
	case spec.IsLegacyFingerprint(live):
		return spec.LegacyFingerprint(value)
	case d.fp != nil:
		return d.fp(value)
	case live != "":
		if !slices.Contains(d.uncompared, what) {
			d.uncompared = append(d.uncompared, what)
		}
		return live
	}
	return "(sensitive)"
}

// uncomparedWarning says which secrets a plan made without the site's
// fingerprint key could not compare.
func uncomparedWarning(names []string) []Problem {
	if len(names) == 0 {
		return nil
	}
	return []Problem{{Summary: fmt.Sprintf("The site did not give its fingerprint key, so the secrets of %s were not compared and show as unchanged: plan with an API token that may apply (VIGIL_TOKEN) to see whether they change.", joinNames(names))}}
}
