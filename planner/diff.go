package planner

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"vigil/hcl/spec"
)

// attr is one flattened attribute of a resource. val is one of string, int,
// int64, float64, bool, []string or map[string]string; durations, hour
// windows and weekdays are flattened to strings.
type attr struct {
	name      string
	val       any
	sensitive bool
	// replace says whether a change from one value to another forces
	// replacement; nil means never.
	replace func(before, after any) bool
}

// differ compares typed resources attribute by attribute.
type differ struct {
	sensitive []string
	// fp fingerprints a secret as the live site does; nil when the site
	// did not give its key (see differ.secret).
	fp spec.Fingerprinter
	// uncompared names the resources whose secrets could not be compared
	// for want of the key.
	uncompared []string
}

func newDiffer(sensitive []string, fp spec.Fingerprinter) *differ {
	var s []string
	for _, v := range sensitive {
		if v != "" {
			s = append(s, v)
		}
	}
	return &differ{sensitive: s, fp: fp}
}

// site diffs the whole site. Changes come out in configuration order for
// creates and updates and in live order for deletes; order() arranges them.
//
// have is the live spec, whose secrets are fingerprints (spec.Site.Redacted):
// want is redacted the same way so that equal secrets compare equal.
func (d *differ) site(want, have *spec.Site) []Change {
	want = d.redacted(want, have)
	base := "site." + want.Name
	var out []Change
	var haveAttrs []attr
	if have != nil {
		haveAttrs = siteAttrs(have)
	}
	if c, ok := d.resource(base, TypeSite, want.Name, siteAttrs(want), haveAttrs, have != nil, true); ok {
		out = append(out, c)
	}

	var haveServers []*spec.Server
	var haveGroups []*spec.Group
	var haveCameras []*spec.Camera
	var haveBalancing *spec.Balancing
	if have != nil {
		haveServers, haveGroups, haveCameras, haveBalancing = have.Servers, have.Groups, have.Cameras, have.Balancing
	}

	// Servers.
	oldServers := make(map[string]*spec.Server, len(haveServers))
	for _, s := range haveServers {
		oldServers[s.Name] = s
	}
	for _, s := range want.Servers {
		old := oldServers[s.Name]
		var oa []attr
		if old != nil {
			oa = serverAttrs(old)
		}
		if c, ok := d.resource(base+".server."+s.Name, TypeServer, s.Name, serverAttrs(s), oa, old != nil, true); ok {
			out = append(out, c)
		}
	}
	for _, s := range haveServers {
		if want.Server(s.Name) == nil {
			c, _ := d.resource(base+".server."+s.Name, TypeServer, s.Name, nil, serverAttrs(s), true, false)
			out = append(out, c)
		}
	}

	// Groups.
	oldGroups := make(map[string]*spec.Group, len(haveGroups))
	for _, g := range haveGroups {
		oldGroups[g.Name] = g
	}
	newGroups := make(map[string]bool, len(want.Groups))
	for _, g := range want.Groups {
		newGroups[g.Name] = true
		old := oldGroups[g.Name]
		var oa []attr
		if old != nil {
			oa = groupAttrs(old)
		}
		if c, ok := d.resource(base+".group."+g.Name, TypeGroup, g.Name, groupAttrs(g), oa, old != nil, true); ok {
			out = append(out, c)
		}
	}
	for _, g := range haveGroups {
		if !newGroups[g.Name] {
			c, _ := d.resource(base+".group."+g.Name, TypeGroup, g.Name, nil, groupAttrs(g), true, false)
			out = append(out, c)
		}
	}

	// Cameras. Sites hold thousands of them, hence the maps.
	oldCameras := make(map[string]*spec.Camera, len(haveCameras))
	for _, c := range haveCameras {
		oldCameras[c.Name] = c
	}
	newCameras := make(map[string]bool, len(want.Cameras))
	for _, c := range want.Cameras {
		newCameras[c.Name] = true
		old := oldCameras[c.Name]
		if old != nil && sameCamera(c, old) {
			continue
		}
		var oa []attr
		if old != nil {
			oa = cameraAttrs(old)
		}
		ch, ok := d.resource(base+".camera."+c.Name, TypeCamera, c.Name, cameraAttrs(c), oa, old != nil, true)
		if !ok {
			continue
		}
		// A new primary server is a move, unless something else already
		// forces a replacement.
		if ch.Action == Update && old.Server != c.Server {
			ch.Action = Move
			ch.From, ch.To = old.Server, c.Server
		}
		out = append(out, ch)
	}
	for _, c := range haveCameras {
		if !newCameras[c.Name] {
			ch, _ := d.resource(base+".camera."+c.Name, TypeCamera, c.Name, nil, cameraAttrs(c), true, false)
			out = append(out, ch)
		}
	}

	// Balancing.
	var na, oa []attr
	if want.Balancing != nil {
		na = balancingAttrs(want.Balancing)
	}
	if haveBalancing != nil {
		oa = balancingAttrs(haveBalancing)
	}
	if c, ok := d.resource(base+".balancing", TypeBalancing, "", na, oa, haveBalancing != nil, want.Balancing != nil); ok {
		out = append(out, c)
	}
	var haveNotifiers []*spec.Notifier
	var haveAlerts []*spec.Alert
	var haveHolds []*spec.Hold
	var haveUsers []*spec.User
	var haveTokens []*spec.Token
	if have != nil {
		haveNotifiers, haveAlerts, haveHolds = have.Notifiers, have.Alerts, have.Holds
		haveUsers, haveTokens = have.Users, have.Tokens
	}
	out = append(out, diffNamed(d, base, TypeNotifier, want.Notifiers, haveNotifiers, func(n *spec.Notifier) string { return n.Name }, notifierAttrs)...)
	out = append(out, diffNamed(d, base, TypeAlert, want.Alerts, haveAlerts, func(a *spec.Alert) string { return a.Name }, alertAttrs)...)
	out = append(out, diffNamed(d, base, TypeHold, want.Holds, haveHolds, func(h *spec.Hold) string { return h.Name }, holdAttrs)...)
	out = append(out, diffNamed(d, base, TypeUser, want.Users, haveUsers, func(u *spec.User) string { return u.Name }, userAttrs)...)
	out = append(out, diffNamed(d, base, TypeToken, want.Tokens, haveTokens, func(t *spec.Token) string { return t.Name }, tokenAttrs)...)
	return out
}

// diffNamed diffs a list of named resources of one type: creates and
// updates in configuration order, then deletes in live order.
func diffNamed[T any](d *differ, base, typ string, want, have []T, name func(T) string, attrs func(T) []attr) []Change {
	old := make(map[string]T, len(have))
	for _, h := range have {
		old[name(h)] = h
	}
	wanted := make(map[string]bool, len(want))
	var out []Change
	for _, w := range want {
		wanted[name(w)] = true
		h, ok := old[name(w)]
		var oa []attr
		if ok {
			oa = attrs(h)
		}
		if c, changed := d.resource(base+"."+typ+"."+name(w), typ, name(w), attrs(w), oa, ok, true); changed {
			out = append(out, c)
		}
	}
	for _, h := range have {
		if !wanted[name(h)] {
			c, _ := d.resource(base+"."+typ+"."+name(h), typ, name(h), nil, attrs(h), true, false)
			out = append(out, c)
		}
	}
	return out
}

// notifierAttrs flattens a notifier of a redacted site (see
// differ.redacted): secrets are fingerprints and show as (sensitive).
func notifierAttrs(n *spec.Notifier) []attr {
	secret := func(name, v string) attr { return attr{name: name, val: v, sensitive: true} }
	switch {
	case n.SMTP != nil:
		m := n.SMTP
		return []attr{{name: "smtp.server", val: m.Server}, {name: "smtp.from", val: m.From}, {name: "smtp.to", val: m.To},
			{name: "smtp.username", val: m.Username}, secret("smtp.password", m.Password)}
	case n.Webhook != nil:
		return []attr{{name: "webhook.url", val: n.Webhook.URL}, secret("webhook.secret", n.Webhook.Secret)}
	case n.MQTT != nil:
		m := n.MQTT
		return []attr{{name: "mqtt.broker", val: m.Broker}, {name: "mqtt.topic", val: m.Topic},
			{name: "mqtt.username", val: m.Username}, secret("mqtt.password", m.Password)}
	}
	return nil
}

// userAttrs flattens a user of a redacted site (see differ.redacted): its
// password hash is a fingerprint and shows as (sensitive), like a
// notifier's secrets.
func userAttrs(u *spec.User) []attr {
	return []attr{
		{name: "role", val: u.Role},
		{name: "cameras", val: u.Cameras},
		{name: "password_hash", val: u.PasswordHash, sensitive: true},
	}
}

func tokenAttrs(t *spec.Token) []attr {
	return []attr{
		{name: "role", val: t.Role},
		{name: "cameras", val: t.Cameras},
		{name: "hash", val: t.Hash, sensitive: true},
	}
}

func alertAttrs(a *spec.Alert) []attr {
	return []attr{
		{name: "when", val: a.When},
		{name: "for", val: duration(a.For)},
		{name: "cameras", val: a.Cameras},
		{name: "servers", val: a.Servers},
		{name: "notify", val: a.Notify},
	}
}

// resource compares one resource's flattened attributes. exists and wanted
// say whether it is live and whether the configuration has it. It reports
// false when there is nothing to do.
func (d *differ) resource(address, typ, name string, want, have []attr, exists, wanted bool) (Change, bool) {
	c := Change{Address: address, Type: typ, Name: name}
	switch {
	case !exists && !wanted:
		return c, false
	case !exists:
		c.Action = Create
		for _, a := range want {
			if isZero(a.val) {
				continue
			}
			c.Attributes = append(c.Attributes, d.change(a.name, nil, a.val, a.sensitive, false))
		}
		return c, true
	case !wanted:
		c.Action = Delete
		for _, a := range have {
			if isZero(a.val) {
				continue
			}
			c.Attributes = append(c.Attributes, d.change(a.name, a.val, nil, a.sensitive, false))
		}
		return c, true
	}

	index := make(map[string]int, len(have))
	for i, a := range have {
		index[a.name] = i
	}
	seen := make([]bool, len(have))
	replace := false
	for _, a := range want {
		i, ok := index[a.name]
		if !ok {
			if !isZero(a.val) {
				c.Attributes = append(c.Attributes, d.change(a.name, nil, a.val, a.sensitive, false))
			}
			continue
		}
		seen[i] = true
		if equal(a.val, have[i].val) {
			continue
		}
		forces := a.replace != nil && a.replace(have[i].val, a.val)
		replace = replace || forces
		// An attribute set where it was unset (or the reverse) shows as
		// added (removed), not as a change from an empty value.
		before, after := have[i].val, a.val
		if isZero(before) {
			before = nil
		}
		if isZero(after) {
			after = nil
		}
		c.Attributes = append(c.Attributes, d.change(a.name, before, after, a.sensitive || have[i].sensitive, forces))
	}
	for i, a := range have {
		if !seen[i] && !isZero(a.val) {
			c.Attributes = append(c.Attributes, d.change(a.name, a.val, nil, a.sensitive, false))
		}
	}
	if len(c.Attributes) == 0 {
		return c, false
	}
	c.Action = Update
	if replace {
		c.Action = Replace
	}
	return c, true
}

// change builds one attribute change, hiding sensitive values: declared
// sensitive attributes and any value containing a sensitive variable.
func (d *differ) change(name string, before, after any, sensitive, forces bool) AttributeChange {
	if sensitive || d.containsSecret(before) || d.containsSecret(after) {
		return AttributeChange{Name: name, Sensitive: true, ForcesReplacement: forces}
	}
	return AttributeChange{Name: name, Before: before, After: after, ForcesReplacement: forces}
}

func (d *differ) containsSecret(v any) bool {
	if len(d.sensitive) == 0 || v == nil {
		return false
	}
	has := func(s string) bool {
		for _, secret := range d.sensitive {
			if strings.Contains(s, secret) {
				return true
			}
		}
		return false
	}
	switch x := v.(type) {
	case string:
		return has(x)
	case []string:
		for _, s := range x {
			if has(s) {
				return true
			}
		}
	case map[string]string:
		for k, s := range x {
			if has(k) || has(s) {
				return true
			}
		}
	}
	return false
}

// Attributes that force replacement, and why:
//
//   - server address and port: a server's membership and raft addresses
//     derive from them, so the cluster sees a member leave and a new one
//     join; its cameras are covered by backups in between.
//   - camera url, when it names another source (scheme, host, port, path or
//     query): the recorder closes the old stream's recording and starts a
//     new session; the camera's earlier recordings stay under its name.
//
// Everything else is updated in place: credentials (including those inside
// the URL), transport and the certificate check (tls_fingerprint,
// tls_insecure) reconnect the same source; backup lists, groups,
// redundancy, storage limits and balancing settings change what the agents
// do without tearing anything down. A camera's primary server is a move, not
// a replacement.
func always(_, _ any) bool { return true }

// otherSource reports whether two camera URLs name different sources, that
// is whether they differ in more than their user information.
func otherSource(before, after any) bool {
	a, _ := before.(string)
	b, _ := after.(string)
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return a != b
	}
	ua.User, ub.User = nil, nil
	return ua.String() != ub.String()
}

// displayURL writes a redacted camera URL with its password fingerprint
// unescaped: rtsp://viewer:(sensitive:3738c6137debe7cc)@10.1.0.2/stream1.
func displayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	pw, ok := u.User.Password()
	if !ok || !spec.IsFingerprint(pw) {
		return raw
	}
	user := url.User(u.User.Username()).String()
	u.User = nil
	scheme, rest, _ := strings.Cut(u.String(), "://")
	return scheme + "://" + user + ":" + pw + "@" + rest
}

func siteAttrs(s *spec.Site) []attr {
	return []attr{
		{name: "description", val: s.Description},
		{name: "parent", val: s.Parent},
		{name: "virtual", val: s.Virtual},
		{name: "keepalive", val: duration(s.Keepalive)},
		{name: "failback", val: s.Failback},
		{name: "max_concurrent_failovers", val: s.MaxConcurrentFailovers},
		{name: "virtual_ip", val: s.VirtualIP},
		{name: "time_sync", val: s.TimeSync},
		{name: "time_zone", val: s.TimeZone},
		{name: "event_retention", val: duration(s.EventRetention)},
		{name: "audit_retention", val: duration(s.AuditRetention)},
	}
}

func serverAttrs(s *spec.Server) []attr {
	a := []attr{
		{name: "address", val: s.Address, replace: always},
		{name: "port", val: s.Port, replace: always},
		{name: "external_address", val: s.ExternalAddress},
		{name: "external_port", val: s.ExternalPort},
		{name: "kind", val: string(s.Kind)},
		{name: "max_cameras", val: s.MaxCameras},
	}
	for _, st := range s.Storage {
		p := fmt.Sprintf("storage[%q].", st.Name)
		a = append(a,
			attr{name: p + "path", val: st.Path},
			attr{name: p + "max_size", val: size(st.MaxSize)},
			attr{name: p + "max_age", val: duration(st.MaxAge)},
			attr{name: p + "min_free", val: size(st.MinFree)},
			attr{name: p + "min_free_percent", val: st.MinFreePercent},
		)
	}
	if n := s.Network; n != nil {
		for _, i := range n.Interfaces {
			p := fmt.Sprintf("network.interface[%q].", i.Name)
			a = append(a,
				attr{name: p + "addresses", val: i.Addresses},
				attr{name: p + "mtu", val: i.MTU},
				attr{name: p + "dhcp", val: i.DHCP},
			)
		}
		for _, r := range n.Routes {
			p := fmt.Sprintf("network.route[%q].", r.Destination)
			a = append(a,
				attr{name: p + "gateway", val: r.Gateway},
				attr{name: p + "interface", val: r.Interface},
			)
		}
	}
	return a
}

func groupAttrs(g *spec.Group) []attr {
	return []attr{{name: "servers", val: g.Servers}}
}

// cameraAttrs flattens a camera of a redacted site: the password is a
// fingerprint.
func cameraAttrs(c *spec.Camera) []attr {
	return []attr{
		{name: "url", val: displayURL(c.URL), replace: otherSource},
		{name: "username", val: c.Username},
		{name: "password", val: c.Password, sensitive: true},
		{name: "server", val: c.Server},
		{name: "backup", val: c.Backup},
		{name: "group", val: c.Group},
		{name: "locked", val: c.Locked},
		{name: "redundancy", val: string(c.Redundancy)},
		{name: "transport", val: string(c.Transport)},
		{name: "tls_fingerprint", val: c.TLSFingerprint},
		{name: "tls_insecure", val: onlyTrue(c.TLSInsecure)},
		{name: "retention", val: duration(c.Retention)},
		{name: "segment_duration", val: duration(c.SegmentDuration)},
		{name: "stall_timeout", val: duration(c.StallTimeout)},
		{name: "balance", val: c.Balance},
		{name: "labels", val: c.Labels},
	}
}

// sameCamera is the fast path of the camera comparison: most cameras of a
// large site do not change, and flattening them all costs more than this.
// It compares exactly the fields cameraAttrs lists.
func sameCamera(a, b *spec.Camera) bool {
	return a.URL == b.URL && a.Username == b.Username && a.Password == b.Password &&
		a.Server == b.Server && equal(a.Backup, b.Backup) && a.Group == b.Group &&
		a.Locked == b.Locked && a.Redundancy == b.Redundancy && a.Transport == b.Transport &&
		a.TLSFingerprint == b.TLSFingerprint && a.TLSInsecure == b.TLSInsecure && a.Retention == b.Retention && a.SegmentDuration == b.SegmentDuration &&
		a.StallTimeout == b.StallTimeout && a.Balance == b.Balance && equal(a.Labels, b.Labels)
}

func balancingAttrs(b *spec.Balancing) []attr {
	days := make([]string, len(b.Weekdays))
	for i, w := range b.Weekdays {
		days[i] = strings.ToLower(w.String())
	}
	return []attr{
		{name: "enabled", val: b.Enabled},
		{name: "history_days", val: b.HistoryDays},
		{name: "min_days_between_moves", val: b.MinDaysBetweenMoves},
		{name: "window", val: spec.FormatHourWindow(b.Window)},
		{name: "weekdays", val: days},
		{name: "cameras", val: b.Cameras},
		{name: "labels", val: b.Labels},
		{name: "tolerance_percent", val: b.TolerancePercent},
	}
}

// duration writes d the way configurations do ("90s", "14d"); zero is "",
// which listings leave out.
// size writes a byte count as the configuration writes sizes ("1GB"); ""
// when unset.
func size(b int64) string {
	if b == 0 {
		return ""
	}
	return spec.FormatSizeExact(b)
}

func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return spec.FormatDuration(d)
}

// equal compares two flattened values of the same attribute.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int:
		y, ok := b.(int)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []string:
		y, ok := b.([]string)
		return ok && slices.Equal(x, y)
	case map[string]string:
		y, ok := b.(map[string]string)
		return ok && maps.Equal(x, y)
	}
	panic(fmt.Sprintf("planner: no comparison for %T", a))
}

// onlyTrue is a boolean attribute that defaults to false and is shown only
// where it is set: nil for false.
func onlyTrue(b bool) any {
	if b {
		return true
	}
	return nil
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case int:
		return x == 0
	case int64:
		return x == 0
	case float64:
		return x == 0
	case bool:
		// false is shown: several booleans default to true.
		return false
	case []string:
		return len(x) == 0
	case map[string]string:
		return len(x) == 0
	}
	return false
}
