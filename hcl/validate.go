package hcl

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
	"time"
	// Time zones must resolve on the appliance, which has no zoneinfo files.
	_ "time/tzdata"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
)

// Bounds of the validated values.
const (
	MinKeepalive       = 100 * time.Millisecond
	MaxKeepalive       = 60 * time.Second
	MinSegmentDuration = time.Second
	MaxSegmentDuration = time.Hour
	MinStallTimeout    = 500 * time.Millisecond
	MaxStallTimeout    = 10 * time.Minute
	MinEventRetention  = time.Hour
	MaxEventRetention  = 366 * 24 * time.Hour
	MinAuditRetention  = 24 * time.Hour
	MaxAuditRetention  = 3660 * 24 * time.Hour
	// PortsPerServer: the API port, membership (port+1) and raft (port+2).
	PortsPerServer = 3
)

var hostnameRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

type validator struct {
	diags hhcl.Diagnostics
}

// at returns the range of attribute key, else the fallback, else nil (a spec
// that did not come from files has no ranges).
func at(rs map[string]spec.Range, key string, fallback spec.Range) *hhcl.Range {
	if r, ok := rs[key]; ok {
		return hclRange(r).Ptr()
	}
	if fallback.Filename != "" {
		return hclRange(fallback).Ptr()
	}
	return nil
}

// given reports whether the files set attribute key. A required attribute
// that was given but is empty failed to decode, and that error was
// reported already.
func given(rs map[string]spec.Range, key string) bool {
	_, ok := rs[key]
	return ok
}

// atElem is at for element i of a list attribute.
func atElem(rs map[string]spec.Range, key string, i int, fallback spec.Range) *hhcl.Range {
	if r, ok := rs[elemKey(key, i)]; ok {
		return hclRange(r).Ptr()
	}
	return at(rs, key, fallback)
}

func (v *validator) errorf(r *hhcl.Range, summary, format string, args ...any) {
	v.diags = append(v.diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: r})
}

func (v *validator) warnf(r *hhcl.Range, summary, format string, args ...any) {
	v.diags = append(v.diags, &hhcl.Diagnostic{Severity: hhcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: r})
}

func (v *validator) name(kind, name string, rs map[string]spec.Range, decl spec.Range) {
	if !spec.ValidName(name) {
		v.errorf(at(rs, "name", decl), "Invalid "+kind+" name",
			"%q is not a valid %s name: use 1 to 63 letters, digits, dots, dashes and underscores, starting with a letter or digit.", name, kind)
	}
}

// caseClash reports a name that differs only in case from one seen
// before in the same scope: servers and cameras name directories, which
// are one directory on case-insensitive filesystems. seen maps lower-case
// names to their first spelling.
func (v *validator) caseClash(kind, name, scope string, decl spec.Range, seen map[string]string) {
	k := strings.ToLower(name)
	if prev, ok := seen[k]; ok && prev != name {
		v.errorf(at(nil, "", decl), "Names differ only in case",
			"The %s names %q and %q in %s differ only in case: on some filesystems they are the same directory. Rename one.", kind, prev, name, scope)
		return
	}
	seen[k] = name
}

// duplicate reports a name declared twice in one scope.
func (v *validator) duplicate(kind, name, scope string, decl, prev spec.Range) {
	where := ""
	if prev.Filename != "" {
		where = " at " + rangeString(hclRange(prev))
	}
	article := "A"
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		article = "An"
	}
	v.errorf(at(nil, "", decl), "Duplicate "+kind+" name", article+" %s named %q is already declared in %s%s. %s names must be unique within %s.",
		kind, name, scope, where, strings.ToUpper(kind[:1])+kind[1:], scope)
}

// bounds checks duration attribute key of a block declared at decl.
func (v *validator) bounds(rs map[string]spec.Range, key string, decl spec.Range, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		v.errorf(at(rs, key, decl), "Value out of range", "%s must be between %s and %s; it is %s.", key, spec.FormatDuration(lo), spec.FormatDuration(hi), spec.FormatDuration(d))
	}
}

// ValidateSite checks one decoded site against every rule that concerns a
// single site. Load applies it to each site of the configuration; the agent
// applies it to a spec that arrives over the API (whose objects carry no
// source ranges, so the diagnostics then have no Subject). It gives no
// capacity warning (LoadOptions.Capacity).
func ValidateSite(s *spec.Site) hhcl.Diagnostics {
	return validateSite(s, nil, true)
}

// validateSite checks a site; advice (the warnings) is left out when the
// caller already found errors in it, capacity advice also without a check.
func validateSite(s *spec.Site, capacity func(*spec.Site) map[string][]string, advise bool) hhcl.Diagnostics {
	v := &validator{}
	v.site(s, advise)
	if advise && capacity != nil && !v.hasErrors() {
		v.diags = append(v.diags, capacityWarnings(s, capacity(s))...)
	}
	return v.diags
}

func (v *validator) site(s *spec.Site, advise bool) {
	scope := fmt.Sprintf("site %q", s.Name)
	v.name("site", s.Name, s.Ranges, s.DeclRange)
	if s.Parent != "" && s.Parent == s.Name {
		// A site rule, so that the API refuses it as files do.
		v.errorf(at(s.Ranges, "parent", s.DeclRange), "Site is its own parent", "Site %q names itself as its parent.", s.Name)
	}
	v.bounds(s.Ranges, "keepalive", s.DeclRange, s.Keepalive, MinKeepalive, MaxKeepalive)
	v.alerting(s, scope)
	if s.EventRetention != 0 {
		v.bounds(s.Ranges, "event_retention", s.DeclRange, s.EventRetention, MinEventRetention, MaxEventRetention)
	}
	if s.AuditRetention != 0 {
		v.bounds(s.Ranges, "audit_retention", s.DeclRange, s.AuditRetention, MinAuditRetention, MaxAuditRetention)
	}
	if s.MaxConcurrentFailovers < 0 {
		v.errorf(at(s.Ranges, "max_concurrent_failovers", s.DeclRange), "Value out of range", "max_concurrent_failovers must be 0 (no limit) or more.")
	}
	if s.VirtualIP != "" && !validIPOrPrefix(s.VirtualIP) {
		v.errorf(at(s.Ranges, "virtual_ip", s.DeclRange), "Invalid virtual IP", "%q is not an IP address or an address with a prefix length (\"10.0.0.10/24\").", s.VirtualIP)
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil || s.TimeZone == "" || s.TimeZone == "Local" {
		v.errorf(at(s.Ranges, "time_zone", s.DeclRange), "Unknown time zone", "%q is not an IANA time zone name such as \"UTC\" or \"Europe/Berlin\".", s.TimeZone)
	}

	servers := map[string]*spec.Server{}
	var serverNames []string
	folded := map[string]string{}
	for _, sv := range s.Servers {
		if prev, ok := servers[sv.Name]; ok {
			v.duplicate("server", sv.Name, scope, sv.DeclRange, prev.DeclRange)
			continue
		}
		v.caseClash("server", sv.Name, scope, sv.DeclRange, folded)
		servers[sv.Name] = sv
		serverNames = append(serverNames, sv.Name)
		v.server(s, sv)
	}
	v.portConflicts(s.Servers, func(a, b *spec.Server) bool { return true })

	groups := map[string]*spec.Group{}
	var groupNames []string
	for _, g := range s.Groups {
		if prev, ok := groups[g.Name]; ok {
			v.duplicate("group", g.Name, scope, g.DeclRange, prev.DeclRange)
			continue
		}
		groups[g.Name] = g
		groupNames = append(groupNames, g.Name)
		v.name("group", g.Name, g.Ranges, g.DeclRange)
		if len(g.Servers) == 0 {
			v.errorf(at(g.Ranges, "servers", g.DeclRange), "Empty group", "Group %q lists no servers; give it one or more in priority order.", g.Name)
		}
		seen := map[string]bool{}
		for i, m := range g.Servers {
			r := atElem(g.Ranges, "servers", i, g.DeclRange)
			if seen[m] {
				v.errorf(r, "Duplicate group member", "Group %q lists server %q twice.", g.Name, m)
				continue
			}
			seen[m] = true
			sv := servers[m]
			if sv == nil {
				v.errorf(r, "Reference to undeclared server", "Group %q lists server %q, but %s has no server by that name; a group's members must be servers of its own site.%s",
					g.Name, m, scope, didYouMean(m, "servers", scope, serverNames))
				continue
			}
			if sv.Kind.Valid() && !sv.Kind.CanRecord() {
				v.errorf(r, "Server cannot record", "Group %q lists server %q, which is a %s server and records nothing. Only recording and standby servers take cameras over.", g.Name, m, sv.Kind)
			}
		}
	}

	cameras := map[string]*spec.Camera{}
	var cameraNames []string
	primaries := map[string]int{} // cameras per primary server
	folded = map[string]string{}
	for _, c := range s.Cameras {
		if prev, ok := cameras[c.Name]; ok {
			v.duplicate("camera", c.Name, scope, c.DeclRange, prev.DeclRange)
			continue
		}
		v.caseClash("camera", c.Name, scope, c.DeclRange, folded)
		cameras[c.Name] = c
		cameraNames = append(cameraNames, c.Name)
		v.camera(scope, c, servers, serverNames, groups, groupNames)
		if sv := servers[c.Server]; sv != nil {
			primaries[sv.Name]++
		}
	}
	for _, sv := range s.Servers {
		if n := primaries[sv.Name]; sv.MaxCameras > 0 && n > sv.MaxCameras && servers[sv.Name] == sv {
			v.errorf(at(sv.Ranges, "max_cameras", sv.DeclRange), "Too many cameras for server",
				"Server %q is the primary server of %d cameras, but its max_cameras is %d. Move %d of them to another server or raise max_cameras.",
				sv.Name, n, sv.MaxCameras, n-sv.MaxCameras)
		}
	}
	if b := s.Balancing; b != nil {
		v.balancing(s, b, cameraNames)
	}
	v.access(s, scope, cameraNames)
	holds := map[string]*spec.Hold{}
	for _, h := range s.Holds {
		if prev, ok := holds[h.Name]; ok {
			v.duplicate("hold", h.Name, scope, h.DeclRange, prev.DeclRange)
			continue
		}
		holds[h.Name] = h
		v.hold(scope, h, cameraNames)
	}

	if !advise || v.hasErrors() {
		// Advice about a site that does not load is noise.
		return
	}
	v.witnessWarning(s)
}

func (v *validator) hasErrors() bool { return v.diags.HasErrors() }

func (v *validator) server(s *spec.Site, sv *spec.Server) {
	v.name("server", sv.Name, sv.Ranges, sv.DeclRange)
	if !sv.Kind.Valid() {
		v.errorf(at(sv.Ranges, "kind", sv.DeclRange), "Invalid server kind", "%q is not a server kind: use \"recording\" (the default), \"standby\", \"witness\" or \"virtual\".", sv.Kind)
	}
	if s.Virtual && sv.Kind != spec.KindVirtual {
		v.errorf(at(sv.Ranges, "kind", sv.DeclRange), "Non-virtual server in a virtual site",
			"Site %q is virtual, so it holds only virtual servers, but server %q is a %s server. Set kind = \"virtual\" or move the server to a real site.", s.Name, sv.Name, sv.Kind)
	}
	switch {
	case sv.Address == "" && sv.Kind != spec.KindVirtual:
		v.errorf(at(sv.Ranges, "address", sv.DeclRange), "Missing server address", "Server %q needs an address (an IP address or a host name) on which its peers reach it.", sv.Name)
	case sv.Address != "" && !validHost(sv.Address):
		v.errorf(at(sv.Ranges, "address", sv.DeclRange), "Invalid server address", "%q is neither an IP address nor a host name.", sv.Address)
	}
	if sv.Port < 1 || sv.Port > 65535-(PortsPerServer-1) {
		v.errorf(at(sv.Ranges, "port", sv.DeclRange), "Value out of range",
			"port must be between 1 and %d, because the server also uses port+1 (membership) and port+2 (raft); it is %d.", 65535-(PortsPerServer-1), sv.Port)
	}
	if sv.ExternalAddress != "" && !validHost(sv.ExternalAddress) {
		v.errorf(at(sv.Ranges, "external_address", sv.DeclRange), "Invalid external address", "%q is neither an IP address nor a host name.", sv.ExternalAddress)
	}
	if sv.ExternalPort < 0 || sv.ExternalPort > 65535 {
		v.errorf(at(sv.Ranges, "external_port", sv.DeclRange), "Value out of range", "external_port must be between 1 and 65535; it is %d.", sv.ExternalPort)
	}
	if sv.MaxCameras < 0 {
		v.errorf(at(sv.Ranges, "max_cameras", sv.DeclRange), "Value out of range", "max_cameras must be 0 (no limit) or more; it is %d.", sv.MaxCameras)
	}
	if len(sv.Storage) == 0 && sv.Kind.CanRecord() {
		v.errorf(at(nil, "", sv.DeclRange), "Missing storage", "Server %q is a %s server, so it needs at least one storage block saying where it records.", sv.Name, sv.Kind)
	}
	storage := map[string]*spec.Storage{}
	for _, st := range sv.Storage {
		if prev, ok := storage[st.Name]; ok {
			v.duplicate("storage", st.Name, fmt.Sprintf("server %q", sv.Name), st.DeclRange, prev.DeclRange)
			continue
		}
		storage[st.Name] = st
		v.name("storage", st.Name, st.Ranges, st.DeclRange)
		if st.Path == "" && !given(st.Ranges, "path") {
			v.errorf(at(st.Ranges, "path", st.DeclRange), "Missing storage path", "Storage %q of server %q needs a path.", st.Name, sv.Name)
		} else if err := spec.CheckStoragePath(st.Path); err != nil {
			v.errorf(at(st.Ranges, "path", st.DeclRange), "Storage path not allowed", "Storage %q of server %q: %v.", st.Name, sv.Name, err)
		}
		if st.MaxSize < 0 {
			v.errorf(at(st.Ranges, "max_size", st.DeclRange), "Value out of range", "max_size must not be negative.")
		}
		if st.MaxAge < 0 || st.MaxAge > 0 && st.MaxAge < time.Hour {
			v.errorf(at(st.Ranges, "max_age", st.DeclRange), "Value out of range", "max_age must be at least 1h; it is %s.", spec.FormatDuration(st.MaxAge))
		}
		if !(st.MinFreePercent >= 0 && st.MinFreePercent < 100) { // NaN too
			v.errorf(at(st.Ranges, "min_free", st.DeclRange), "Value out of range", "A free-space floor in percent must be between 0%% and 100%% (exclusive); it is %g%%.", st.MinFreePercent)
		}
		if st.MinFree < 0 {
			v.errorf(at(st.Ranges, "min_free", st.DeclRange), "Value out of range", "min_free must not be negative.")
		}
		if st.MinFree > 0 && st.MinFreePercent > 0 {
			v.errorf(at(st.Ranges, "min_free", st.DeclRange), "Conflicting free-space floors", "Storage %q sets min_free both in bytes and in percent; choose one.", st.Name)
		}
	}
	if sv.Network != nil {
		v.network(sv)
	}
}

var ifnameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,15}$`)

func (v *validator) network(sv *spec.Server) {
	ifaces := map[string]*spec.Interface{}
	var names []string
	for _, i := range sv.Network.Interfaces {
		if prev, ok := ifaces[i.Name]; ok {
			v.duplicate("interface", i.Name, fmt.Sprintf("the network of server %q", sv.Name), i.DeclRange, prev.DeclRange)
			continue
		}
		ifaces[i.Name] = i
		names = append(names, i.Name)
		if !ifnameRE.MatchString(i.Name) {
			v.errorf(at(i.Ranges, "name", i.DeclRange), "Invalid interface name", "%q is not a Linux interface name (1 to 15 letters, digits, dots, dashes, colons, underscores).", i.Name)
		}
		for j, a := range i.Addresses {
			if _, err := netip.ParsePrefix(a); err != nil {
				v.errorf(atElem(i.Ranges, "addresses", j, i.DeclRange), "Invalid interface address", "%q is not an address with a prefix length, such as \"10.0.0.11/24\".", a)
			}
		}
		if i.MTU != 0 && (i.MTU < 68 || i.MTU > 65535) {
			v.errorf(at(i.Ranges, "mtu", i.DeclRange), "Value out of range", "mtu must be between 68 and 65535; it is %d.", i.MTU)
		}
	}
	for _, r := range sv.Network.Routes {
		if _, err := netip.ParsePrefix(r.Destination); err != nil && !(r.Destination == "" && given(r.Ranges, "destination")) {
			v.errorf(at(r.Ranges, "destination", r.DeclRange), "Invalid route destination", "%q is not a network with a prefix length, such as \"0.0.0.0/0\" or \"10.1.0.0/16\".", r.Destination)
		}
		if r.Gateway != "" {
			if _, err := netip.ParseAddr(r.Gateway); err != nil {
				v.errorf(at(r.Ranges, "gateway", r.DeclRange), "Invalid route gateway", "%q is not an IP address.", r.Gateway)
			}
		}
		if r.Gateway == "" && r.Interface == "" {
			v.errorf(at(nil, "", r.DeclRange), "Incomplete route", "A route needs a gateway, an interface, or both.")
		}
		if r.Interface != "" && len(names) > 0 && ifaces[r.Interface] == nil {
			v.errorf(at(r.Ranges, "interface", r.DeclRange), "Reference to undeclared interface", "The route names interface %q, which the network of server %q does not declare.%s",
				r.Interface, sv.Name, didYouMean(r.Interface, "interfaces", fmt.Sprintf("server %q", sv.Name), names))
		}
	}
}

// portConflicts reports servers on one address whose port ranges
// [port, port+2] overlap; pairs for which report returns false are left to
// another check.
func (v *validator) portConflicts(servers []*spec.Server, report func(a, b *spec.Server) bool) {
	byAddr := map[string][]*spec.Server{}
	var addrs []string
	for _, sv := range servers {
		if sv.Address == "" {
			continue
		}
		// One key per address however it is written: ::ffff:10.0.0.1 is
		// 10.0.0.1, ::0:1 is ::1, a host name's case and final dot do
		// not count.
		key := strings.TrimSuffix(strings.ToLower(sv.Address), ".")
		if ip, err := netip.ParseAddr(sv.Address); err == nil {
			key = ip.Unmap().WithZone("").String()
		}
		if byAddr[key] == nil {
			addrs = append(addrs, key)
		}
		byAddr[key] = append(byAddr[key], sv)
	}
	for _, addr := range addrs {
		list := byAddr[addr]
		sort.SliceStable(list, func(i, j int) bool { return list[i].Port < list[j].Port })
		for i := 1; i < len(list); i++ {
			a, b := list[i-1], list[i]
			if b.Port-a.Port >= PortsPerServer || !report(a, b) {
				continue
			}
			v.errorf(at(b.Ranges, "port", b.DeclRange), "Port conflict",
				"Servers %q and %q both use address %s, with ports %d and %d. A server uses its port and the next two (membership on port+1, raft on port+2), so servers sharing an address need ports at least %d apart.",
				a.Name, b.Name, b.Address, a.Port, b.Port, PortsPerServer)
		}
	}
}

// camera checks camera c; scope names its site in messages.
func (v *validator) camera(scope string, c *spec.Camera, servers map[string]*spec.Server, serverNames []string, groups map[string]*spec.Group, groupNames []string) {
	v.name("camera", c.Name, c.Ranges, c.DeclRange)
	v.cameraURL(c)
	v.cameraTLS(c)

	switch sv := servers[c.Server]; {
	case c.Server == "" && given(c.Ranges, "server"):
		// The value did not decode; that error is reported already.
	case c.Server == "" && c.Locked:
		v.errorf(at(c.Ranges, "locked", c.DeclRange), "Locked camera without a server",
			"Camera %q is locked, which keeps it on its primary server even while that server is down, but it names no server. Set server to the server that must record it.", c.Name)
	case c.Server == "":
		v.errorf(at(nil, "", c.DeclRange), "Missing primary server", "Camera %q needs a server: the primary server that records it.%s", c.Name, didYouMean("", "servers", scope, serverNames))
	case sv == nil:
		v.errorf(at(c.Ranges, "server", c.DeclRange), "Reference to undeclared server",
			"Camera %q names %q as its primary server, but %s has no server by that name.%s", c.Name, c.Server, scope, didYouMean(c.Server, "servers", scope, serverNames))
	case sv.Kind != spec.KindRecording:
		v.errorf(at(c.Ranges, "server", c.DeclRange), "Server cannot be a primary",
			"Camera %q names %q as its primary server, but that is a %s server. %s Choose a recording server.", c.Name, c.Server, sv.Kind, kindRole(sv.Kind))
	}

	if len(c.Backup) > 0 && c.Group != "" {
		v.errorf(at(c.Ranges, "group", c.DeclRange), "Both backup and group",
			"Camera %q sets both a backup list and a group; they are two ways to say the same thing, so choose one.", c.Name)
	}
	seen := map[string]bool{}
	for i, b := range c.Backup {
		// The range only when there is an error: building it allocates.
		r := func() *hhcl.Range { return atElem(c.Ranges, "backup", i, c.DeclRange) }
		sv := servers[b]
		switch {
		case seen[b]:
			v.errorf(r(), "Duplicate backup server", "Camera %q lists backup server %q twice.", c.Name, b)
		case b == c.Server:
			v.errorf(r(), "Primary server listed as backup", "Camera %q lists its primary server %q as a backup; a backup must be another server.", c.Name, b)
		case sv == nil:
			v.errorf(r(), "Reference to undeclared server",
				"Camera %q lists %q as a backup server, but %s has no server by that name; backups must be servers of the camera's own site.%s",
				c.Name, b, scope, didYouMean(b, "servers", scope, serverNames))
		case sv.Kind.Valid() && !sv.Kind.CanRecord():
			v.errorf(r(), "Server cannot record", "Camera %q lists %q as a backup server, but that is a %s server. %s", c.Name, b, sv.Kind, kindRole(sv.Kind))
		}
		seen[b] = true
	}
	if c.Group != "" && groups[c.Group] == nil {
		v.errorf(at(c.Ranges, "group", c.DeclRange), "Reference to undeclared group",
			"Camera %q names group %q, but %s has no group by that name; a camera's group must be in its own site.%s", c.Name, c.Group, scope, didYouMean(c.Group, "groups", scope, groupNames))
	}

	switch {
	case c.Redundancy == spec.RedundancyConstant:
		if len(c.Backup) == 0 && c.Group == "" {
			v.errorf(at(c.Ranges, "redundancy", c.DeclRange), "Constant redundancy without a backup",
				"Camera %q has constant redundancy, which records it on its primary and its first backup at all times, but it has no backup list or group.", c.Name)
		}
	case !c.Redundancy.Valid():
		v.errorf(at(c.Ranges, "redundancy", c.DeclRange), "Invalid redundancy", "%q is not a redundancy mode: use \"normal\" (the default), \"fast\" or \"constant\".", c.Redundancy)
	}
	if !c.Transport.Valid() {
		v.errorf(at(c.Ranges, "transport", c.DeclRange), "Invalid transport", "%q is not an RTSP transport: use \"tcp\" (the default) or \"udp\".", c.Transport)
	}
	v.bounds(c.Ranges, "segment_duration", c.DeclRange, c.SegmentDuration, MinSegmentDuration, MaxSegmentDuration)
	v.bounds(c.Ranges, "stall_timeout", c.DeclRange, c.StallTimeout, MinStallTimeout, MaxStallTimeout)
	if c.Retention < 0 || c.Retention > 0 && c.Retention < c.SegmentDuration {
		v.errorf(at(c.Ranges, "retention", c.DeclRange), "Value out of range", "retention must be at least one segment (%s); it is %s.", spec.FormatDuration(c.SegmentDuration), spec.FormatDuration(c.Retention))
	}
}

func kindRole(kind spec.ServerKind) string {
	switch kind {
	case spec.KindStandby:
		return "Standby servers record only while covering for a failed server."
	case spec.KindWitness:
		return "Witness servers only vote in the site's quorum and record nothing."
	case spec.KindVirtual:
		return "Virtual servers are organisational and record nothing."
	}
	return ""
}

func (v *validator) cameraURL(c *spec.Camera) {
	r := func() *hhcl.Range { return at(c.Ranges, "url", c.DeclRange) }
	if c.URL == "" && given(c.Ranges, "url") {
		return
	}
	if c.URL == "" {
		v.errorf(r(), "Missing camera URL", "Camera %q needs a url, such as \"rtsp://192.0.2.10:554/stream1\".", c.Name)
		return
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		v.errorf(r(), "Invalid camera URL", "The url of camera %q is not a valid URL: %s.", c.Name, err)
		return
	}
	if s := strings.ToLower(u.Scheme); s != "rtsp" && s != "rtsps" {
		v.errorf(r(), "Invalid camera URL", "The url of camera %q must start with rtsp:// or rtsps://; it is %q.", c.Name, u.Redacted())
		return
	}
	if u.Hostname() == "" {
		v.errorf(r(), "Invalid camera URL", "The url of camera %q has no host: %q.", c.Name, u.Redacted())
	}
}

// cameraTLS checks tls_fingerprint and tls_insecure: they say how an
// rtsps:// camera's certificate is checked, so they need one, and they
// exclude each other.
func (v *validator) cameraTLS(c *spec.Camera) {
	if c.TLSFingerprint == "" && !c.TLSInsecure {
		return
	}
	attr := "tls_fingerprint"
	if c.TLSFingerprint == "" {
		attr = "tls_insecure"
	}
	r := at(c.Ranges, attr, c.DeclRange)
	if u, err := url.Parse(c.URL); err == nil && !strings.EqualFold(u.Scheme, "rtsps") {
		v.errorf(r, "TLS setting without rtsps", "Camera %q sets %s, but its url is not rtsps://: only an rtsps:// camera has a certificate to check.", c.Name, attr)
		return
	}
	if c.TLSFingerprint != "" && c.TLSInsecure {
		v.errorf(r, "Conflicting TLS settings", "Camera %q sets both tls_fingerprint and tls_insecure: pin the certificate (tls_fingerprint) or skip its check (tls_insecure), not both.", c.Name)
		return
	}
	if c.TLSFingerprint != "" && !spec.ValidCertFingerprint(c.TLSFingerprint) {
		v.errorf(r, "Invalid TLS fingerprint", "Camera %q: tls_fingerprint must be \"sha256:\" and the certificate's 64-digit SHA-256 in hex (as `openssl x509 -noout -fingerprint -sha256` prints it, colons allowed); it is %q.", c.Name, c.TLSFingerprint)
	}
}

func (v *validator) balancing(s *spec.Site, b *spec.Balancing, cameraNames []string) {
	if b.HistoryDays < 1 || b.HistoryDays > 365 {
		v.errorf(at(b.Ranges, "history_days", b.DeclRange), "Value out of range", "history_days must be between 1 and 365; it is %d.", b.HistoryDays)
	}
	if b.MinDaysBetweenMoves < 1 || b.MinDaysBetweenMoves > 365 {
		v.errorf(at(b.Ranges, "min_days_between_moves", b.DeclRange), "Value out of range", "min_days_between_moves must be between 1 and 365; it is %d.", b.MinDaysBetweenMoves)
	}
	if b.TolerancePercent <= 0 || b.TolerancePercent > 100 {
		v.errorf(at(b.Ranges, "tolerance_percent", b.DeclRange), "Value out of range", "tolerance_percent must be more than 0 and at most 100; it is %g.", b.TolerancePercent)
	}
	w := b.Window
	if w.StartMinute < 0 || w.StartMinute >= 24*60 || w.EndMinute < 0 || w.EndMinute > 24*60 || w.StartMinute == w.EndMinute {
		v.errorf(at(b.Ranges, "window", b.DeclRange), "Invalid hour window", "The balancing window must start between 00:00 and 23:59, end by 24:00, and not be empty.")
	}
	v.cameraPatterns(fmt.Sprintf("site %q", s.Name), "balancing", b.Cameras, b.Ranges, b.DeclRange, cameraNames, "")
}

// cameraPatterns checks a list of camera names and glob patterns of owner
// ("balancing", `hold "x"`). A name of no camera is an error, unless
// unknownOK explains why it may stand (then it is a warning).
func (v *validator) cameraPatterns(scope, owner string, list []string, rs map[string]spec.Range, decl spec.Range, cameraNames []string, unknownOK string) {
	exists := map[string]bool{}
	for _, n := range cameraNames {
		exists[n] = true
	}
	for i, p := range list {
		r := atElem(rs, "cameras", i, decl)
		if !strings.ContainsAny(p, "*?[\\") {
			if exists[p] {
				continue
			}
			detail := fmt.Sprintf("%s names camera %q, but %s has no camera by that name.", strings.ToUpper(owner[:1])+owner[1:], p, scope)
			if unknownOK == "" {
				v.errorf(r, "Reference to undeclared camera", "%s%s", detail, didYouMean(p, "cameras", scope, cameraNames))
			} else {
				v.warnf(r, "Reference to undeclared camera", "%s %s%s", detail, unknownOK, didYouMean(p, "cameras", scope, cameraNames))
			}
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			v.errorf(r, "Invalid camera pattern", "%q is not a valid glob pattern (use * for any run of characters, ? for one, [a-z] for a class).", p)
			continue
		}
		matched := false
		for _, n := range cameraNames {
			if ok, _ := path.Match(p, n); ok {
				matched = true
				break
			}
		}
		if !matched {
			v.warnf(r, "Pattern matches no camera", "The %s pattern %q matches no camera of %s.", owner, p, scope)
		}
	}
}

// hold checks an evidence lock: a name, cameras, and a period that is not
// empty. Whether it has ended is the planner's to say: it knows the time.
func (v *validator) hold(scope string, h *spec.Hold, cameraNames []string) {
	v.name("hold", h.Name, h.Ranges, h.DeclRange)
	owner := fmt.Sprintf("hold %q", h.Name)
	if len(h.Cameras) == 0 {
		v.errorf(at(h.Ranges, "cameras", h.DeclRange), "Hold without cameras", "Hold %q names no camera; list the cameras whose footage it keeps, by name or pattern (\"dock-*\").", h.Name)
	}
	v.cameraPatterns(scope, owner, h.Cameras, h.Ranges, h.DeclRange, cameraNames,
		"The hold still keeps footage recorded under that name, by a camera since removed.")
	for _, a := range []struct {
		name string
		t    time.Time
	}{{"from", h.From}, {"to", h.To}} {
		if a.t.IsZero() && !given(h.Ranges, a.name) {
			v.errorf(at(h.Ranges, a.name, h.DeclRange), "Missing hold period", "Hold %q has no %q: a hold keeps the footage from a time to a time.", h.Name, a.name)
		}
	}
	if !h.From.IsZero() && !h.To.IsZero() && !h.To.After(h.From) {
		v.errorf(at(h.Ranges, "to", h.DeclRange), "Empty hold period", "Hold %q ends (to = %s) no later than it starts (from = %s).",
			h.Name, h.To.UTC().Format(time.RFC3339), h.From.UTC().Format(time.RFC3339))
	}
}

func (v *validator) witnessWarning(s *spec.Site) {
	var voters, witnesses int
	for _, sv := range s.Servers {
		switch {
		case sv.Kind.CanRecord():
			voters++
		case sv.Kind == spec.KindWitness:
			witnesses++
		}
	}
	if voters == 2 && witnesses == 0 {
		v.warnf(at(nil, "", s.DeclRange), "Two-server site without a witness",
			"Site %q has two servers and no witness. Both keep recording and take over each other's cameras when one fails, but configuration changes need a majority, which one server alone is not: while either server is down the site cannot change its configuration. Add a server with kind = \"witness\" to give the site a third vote.", s.Name)
	}
}

func validIPOrPrefix(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func validHost(s string) bool {
	return net.ParseIP(s) != nil || len(s) <= 253 && hostnameRE.MatchString(s)
}

// validateConfig applies the rules that span sites: unique site names,
// parent links and cross-site port clashes. (The loader applies the site
// rules while it decodes each site.)
func validateConfig(cfg *Config) hhcl.Diagnostics {
	v := &validator{}
	if cfg.Domain != nil {
		v.name("domain", cfg.Domain.Name, cfg.Domain.Ranges, cfg.Domain.DeclRange)
	}
	sites := map[string]*spec.Site{}
	var names []string
	for _, s := range cfg.Sites {
		if prev, ok := sites[s.Name]; ok {
			v.duplicate("site", s.Name, "the configuration", s.DeclRange, prev.DeclRange)
			continue
		}
		sites[s.Name] = s
		names = append(names, s.Name)
	}
	for _, s := range cfg.Sites {
		if sites[s.Name] != s {
			continue
		}
		if s.Parent == "" {
			continue
		}
		r := at(s.Ranges, "parent", s.DeclRange)
		switch {
		case s.Parent == s.Name:
			// Reported by the site's own rules (ValidateSite).
		case sites[s.Parent] == nil:
			v.errorf(r, "Reference to undeclared site", "Site %q names %q as its parent, but the configuration has no site by that name.%s",
				s.Name, s.Parent, didYouMean(s.Parent, "sites", "the configuration", names))
		}
	}
	v.siteCycles(cfg.Sites, sites)

	var all []*spec.Server
	siteOf := map[*spec.Server]string{}
	for _, s := range cfg.Sites {
		for _, sv := range s.Servers {
			all = append(all, sv)
			siteOf[sv] = s.Name
		}
	}
	// Clashes inside one site were reported by ValidateSite.
	v.portConflicts(all, func(a, b *spec.Server) bool { return siteOf[a] != siteOf[b] })
	return v.diags
}

// siteCycles reports each loop in the parent links once, at the first site
// of the loop in declaration order.
func (v *validator) siteCycles(list []*spec.Site, sites map[string]*spec.Site) {
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	for _, start := range list {
		if state[start.Name] != unvisited {
			continue
		}
		var path []*spec.Site
		s := start
		for s != nil && state[s.Name] == unvisited && s.Parent != s.Name {
			state[s.Name] = onPath
			path = append(path, s)
			s = sites[s.Parent]
		}
		if s != nil && state[s.Name] == onPath && s.Parent != s.Name {
			i := 0
			for path[i] != s {
				i++
			}
			loop := path[i:]
			first := loop[0]
			for _, x := range loop {
				if indexOfSite(list, x) < indexOfSite(list, first) {
					first = x
				}
			}
			var chain []string
			j := 0
			for loop[j] != first {
				j++
			}
			for k := 0; k <= len(loop); k++ {
				chain = append(chain, fmt.Sprintf("%q", loop[(j+k)%len(loop)].Name))
			}
			v.errorf(at(first.Ranges, "parent", first.DeclRange), "Cycle in the site tree",
				"The parent links of these sites form a loop: %s. A domain is a tree: follow parents upward and you must reach a site without a parent.", strings.Join(chain, " → "))
		}
		for _, p := range path {
			state[p.Name] = done
		}
	}
}

func indexOfSite(list []*spec.Site, s *spec.Site) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
