// Package spec is vigil's committed spec: the plain Go model of a site
// (servers, cameras, groups, balancing, notifiers, alerts, holds, users
// and tokens) that `vigil apply` commits through raft, that the API
// carries and that the planner, the assignment and the agent work on. It
// knows nothing of the configuration language: package hcl parses and
// validates files into it.
//
// Every object keeps the source range of its block (DeclRange) and of each
// attribute it was given (Ranges, keyed by attribute name), so that hcl's
// diagnostics, the planner and hot reload can point at the line that caused
// a problem. Ranges are not part of the JSON form: the JSON of a Site is the
// spec that `vigil apply` commits to the cluster, and must not change.
package spec

import "time"

// Domain names the tree of sites managed as one system.
type Domain struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Site is a set of servers that share one configuration and take over each
// other's cameras. Its JSON form is the spec committed to the site's cluster.
type Site struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Parent is the name of the parent site in the domain tree, or "".
	Parent  string `json:"parent,omitempty"`
	Virtual bool   `json:"virtual"`
	// Keepalive is the membership probe interval (100ms to 60s; default 1s).
	Keepalive time.Duration `json:"keepalive"`
	// Failback returns cameras to their primary when it comes back (default true).
	Failback bool `json:"failback"`
	// MaxConcurrentFailovers bounds how many dead servers are covered at once;
	// 0 means no limit.
	MaxConcurrentFailovers int    `json:"max_concurrent_failovers"`
	VirtualIP              string `json:"virtual_ip,omitempty"`
	TimeSync               bool   `json:"time_sync"`
	// TimeZone is an IANA zone name for balancing windows; default "UTC".
	TimeZone string `json:"time_zone"`
	// EventRetention is how long every agent keeps its events on disk;
	// 0 means the default, 10 days.
	EventRetention time.Duration `json:"event_retention"`
	// AuditRetention is how long the site's audit log (kept in the
	// replicated state) keeps its entries; 0 means the default, 365 days.
	AuditRetention time.Duration `json:"audit_retention"`

	Servers   []*Server  `json:"servers"`
	Groups    []*Group   `json:"groups,omitempty"`
	Cameras   []*Camera  `json:"cameras"`
	Balancing *Balancing `json:"balancing,omitempty"`
	// Notifiers and Alerts: see alerts.go.
	Notifiers []*Notifier `json:"notifiers,omitempty"`
	Alerts    []*Alert    `json:"alerts,omitempty"`
	// Holds are evidence locks: footage that retention keeps.
	Holds []*Hold `json:"holds,omitempty"`
	// Users and Tokens: who may use the API and the console (access.go).
	Users  []*User  `json:"users,omitempty"`
	Tokens []*Token `json:"tokens,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Default ports; `port` moves the API port and the others follow it.
const (
	DefaultAPIPort = 53540
	// Membership port is Port+1, raft port is Port+2.
)

// Server is one machine running the agent.
type Server struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Port is the HTTP API port; membership uses Port+1 and raft Port+2.
	Port            int    `json:"port"`
	ExternalAddress string `json:"external_address,omitempty"`
	ExternalPort    int    `json:"external_port"`
	// Kind is one of KindRecording (default), KindStandby, KindWitness, KindVirtual.
	Kind ServerKind `json:"kind"`
	// MaxCameras bounds the cameras this server records at once; 0 means no limit.
	MaxCameras int        `json:"max_cameras"`
	Storage    []*Storage `json:"storage,omitempty"`
	Network    *Network   `json:"network,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Storage is one recording volume of a server.
type Storage struct {
	Name string `json:"name"`
	// Path is the recording directory; a relative path is relative to the
	// agent's data directory (so `vigil dev` can run several servers in
	// one process).
	Path string `json:"path"`
	// MaxSize in bytes; 0 means no limit.
	MaxSize int64 `json:"max_size"`
	// MaxAge; 0 means no limit.
	MaxAge time.Duration `json:"max_age"`
	// MinFree is the free-space floor in bytes (from "10GB") ...
	MinFree int64 `json:"min_free"`
	// ... or as a percentage of the filesystem (from "5%").
	MinFreePercent float64 `json:"min_free_percent"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Network is the declarative network configuration of an appliance.
type Network struct {
	Interfaces []*Interface `json:"interfaces,omitempty"`
	Routes     []*Route     `json:"routes,omitempty"`

	DeclRange Range `json:"-"`
}

// Interface configures one link.
type Interface struct {
	Name      string   `json:"name"`
	Addresses []string `json:"addresses,omitempty"` // CIDR, e.g. "10.0.0.11/24"
	MTU       int      `json:"mtu"`
	DHCP      bool     `json:"dhcp"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Route is one static route.
type Route struct {
	Destination string `json:"destination"` // CIDR; "0.0.0.0/0" for default
	Gateway     string `json:"gateway,omitempty"`
	Interface   string `json:"interface,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Group is an ordered list of servers; earlier servers have priority.
type Group struct {
	Name    string   `json:"name"`
	Servers []string `json:"servers"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Camera is one RTSP source registered to a primary server.
type Camera struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Username string `json:"username,omitempty"`
	// Password is sensitive: renderers show "(sensitive)" and the API
	// returns only a fingerprint of it.
	Password string `json:"password,omitempty"`
	// Server is the primary server's name.
	Server string `json:"server"`
	// Backup is the ordered list of servers that take the camera over; empty
	// when Group is used.
	Backup []string `json:"backup,omitempty"`
	Group  string   `json:"group,omitempty"`
	Locked bool     `json:"locked"`
	// Redundancy is RedundancyNormal (default), RedundancyFast or RedundancyConstant.
	Redundancy Redundancy `json:"redundancy"`
	// Transport is TransportTCP (default) or TransportUDP.
	Transport Transport `json:"transport"`
	// TLSFingerprint pins an rtsps:// camera's certificate (a self-signed
	// one): "sha256:" and the SHA-256 of the certificate, 64 lower-case hex
	// digits once loaded. Unset, the certificate must be signed by an
	// authority the server's system trusts and name the URL's host. It is
	// not secret.
	TLSFingerprint string `json:"tls_fingerprint,omitempty"`
	// TLSInsecure accepts an rtsps:// camera's certificate unchecked.
	TLSInsecure bool `json:"tls_insecure,omitempty"`
	// Retention is the maximum age of this camera's recordings; 0 means the
	// storage's limits alone apply.
	Retention time.Duration `json:"retention"`
	// SegmentDuration is the length of one file (default 60s).
	SegmentDuration time.Duration `json:"segment_duration"`
	// StallTimeout: a stream that delivers no frame for this long is treated
	// as disconnected (default 5s).
	StallTimeout time.Duration `json:"stall_timeout"`
	// Balance says whether storage balancing may move this camera (default true).
	Balance bool              `json:"balance"`
	Labels  map[string]string `json:"labels,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Balancing configures storage-load based reassignment inside a time window.
type Balancing struct {
	Enabled bool `json:"enabled"`
	// HistoryDays is the statistics window (default 7).
	HistoryDays int `json:"history_days"`
	// MinDaysBetweenMoves is the minimum number of days between two moves of
	// the same camera (default 7).
	MinDaysBetweenMoves int `json:"min_days_between_moves"`
	// Window is the daily hour window, in the site's time zone; it may cross
	// midnight (Start > End).
	Window HourWindow `json:"window"`
	// Weekdays on which the window opens; empty means every day.
	Weekdays []time.Weekday `json:"weekdays,omitempty"`
	// Cameras selects the cameras that may move, by name or glob pattern;
	// empty means all cameras whose Balance is true.
	Cameras []string `json:"cameras,omitempty"`
	// Labels selects cameras by label (all must match).
	Labels map[string]string `json:"labels,omitempty"`
	// TolerancePercent: servers within this percentage of the mean load are
	// balanced (default 10).
	TolerancePercent float64 `json:"tolerance_percent"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// HourWindow is a daily window in minutes after midnight, written "01:00-05:00".
type HourWindow struct {
	StartMinute int `json:"start_minute"`
	EndMinute   int `json:"end_minute"`
}

// Contains reports whether the minute of day m lies inside the window; a
// window whose end is before its start crosses midnight.
func (w HourWindow) Contains(m int) bool {
	if w.StartMinute <= w.EndMinute {
		return m >= w.StartMinute && m < w.EndMinute
	}
	return m >= w.StartMinute || m < w.EndMinute
}

// Hold is an evidence lock: the footage of some cameras in a period, which
// retention keeps on every server that has it (primary and backups alike),
// even on a full disk, until the hold ends.
type Hold struct {
	Name string `json:"name"`
	// Cameras are camera names or glob patterns (path.Match). They match
	// the names footage is stored under, so a hold also keeps the footage
	// of a camera since removed from the configuration.
	Cameras []string  `json:"cameras"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Until is when the hold ends; zero means it lasts until removed.
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason,omitempty"`

	DeclRange Range            `json:"-"`
	Ranges    map[string]Range `json:"-"`
}

// Active reports whether the hold keeps footage at now.
func (h *Hold) Active(now time.Time) bool { return h.Until.IsZero() || now.Before(h.Until) }

// MatchesCamera reports whether the hold names the camera, by name or by
// one of its patterns.
func (h *Hold) MatchesCamera(camera string) bool {
	return len(h.Cameras) > 0 && camera != "" && globsMatch(h.Cameras, camera)
}

// Overlaps reports whether footage from start to end lies (partly) in the
// hold's period: such a segment is kept whole.
func (h *Hold) Overlaps(start, end time.Time) bool {
	return start.Before(h.To) && end.After(h.From)
}

// Server returns the named server of the site, or nil.
func (s *Site) Server(name string) *Server {
	for _, v := range s.Servers {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Camera returns the named camera of the site, or nil.
func (s *Site) Camera(name string) *Camera {
	for _, c := range s.Cameras {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Hold returns the named hold of the site, or nil.
func (s *Site) Hold(name string) *Hold {
	for _, h := range s.Holds {
		if h.Name == name {
			return h
		}
	}
	return nil
}

// Group returns the named group of the site, or nil.
func (s *Site) Group(name string) *Group {
	for _, g := range s.Groups {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// BackupServers is the camera's ordered list of backup servers: its backup
// list, or the members of its group.
func (s *Site) BackupServers(c *Camera) []string {
	if len(c.Backup) > 0 || c.Group == "" {
		return c.Backup
	}
	if g := s.Group(c.Group); g != nil {
		return g.Servers
	}
	return nil
}
