// Package api holds the JSON types of the agent's HTTP API (everything under
// /v1/) and the client that speaks it. The planner and the command line import
// this package; it imports nothing of the agent, so reading the live state
// never drags the runtime in.
package api

import (
	"time"

	"vigil/hcl/spec"
)

// Server health as seen by membership.
const (
	HealthAlive   = "alive"
	HealthSuspect = "suspect"
	HealthDead    = "dead"
	HealthUnknown = "unknown" // in the spec, never seen by membership
	// Shown in ServerState.Health only (assignment treats them as alive
	// and dead): a server handing its cameras away (vigil drain, a planned
	// stop) and one that shut down cleanly.
	HealthDraining = "draining"
	HealthLeft     = "left"
)

// Camera states, site-wide.
const (
	CameraRecording = "recording" // recorded by its primary (or where assignment put it)
	CameraCovered   = "covered"   // recorded by a backup because its server is down
	CameraDark      = "dark"      // not recorded: locked to a down server
	CameraUncovered = "uncovered" // not recorded: no live server with capacity
	CameraFailing   = "failing"   // assigned, but the recorder cannot get the stream
)

// State is the answer of GET /v1/state: what the planner and `vigil status` need.
type State struct {
	Site string `json:"site"`
	// Revision of the committed spec; 0 means nothing was ever applied.
	Revision uint64 `json:"revision"`
	// Spec is the committed spec, with camera passwords and notifier
	// secrets replaced by keyed fingerprints (spec.NewFingerprinter); nil
	// before the first apply.
	Spec *spec.Site `json:"spec,omitempty"`
	// FingerprintKey is the key of the spec's fingerprints, given only to
	// a caller with the API token (one that may apply), so that its plan
	// can tell a changed secret from an unchanged one. Without the key a
	// fingerprint cannot be used to test a guessed secret.
	FingerprintKey []byte `json:"fingerprint_key,omitempty"`
	Master         string `json:"master,omitempty"`
	Version        string `json:"version"`
	// Answering is the server that produced this state.
	Answering string `json:"answering"`
	// CAFingerprint is the SHA-256 fingerprint of the site's CA, which the
	// agents' HTTPS certificates are issued by (vigil ca).
	CAFingerprint string        `json:"ca_fingerprint,omitempty"`
	Servers       []ServerState `json:"servers"`
	Cameras       []CameraState `json:"cameras"`
	// Overrides are balancing moves in force.
	Overrides []Override `json:"overrides,omitempty"`
	// ConfigError is set while the watched config directory holds an invalid
	// change (hot reload); the last good spec keeps running.
	ConfigError string `json:"config_error,omitempty"`
	// Message is a note for the operator about the site as a whole, e.g.
	// "waiting for vigil apply" on a fresh agent.
	Message string `json:"message,omitempty"`
	// Domain is the tree of sites that the answering server's
	// configuration directory (config_dir) describes, when it describes a
	// domain; nil otherwise (the committed spec names only the parent).
	Domain *DomainTree `json:"domain,omitempty"`
}

// DomainTree is a domain's sites as a configuration describes them.
type DomainTree struct {
	// Name is the domain block's name, "" without one.
	Name string `json:"name,omitempty"`
	// Sites are in configuration order.
	Sites []DomainTreeSite `json:"sites"`
}

// DomainTreeSite is one site of a DomainTree.
type DomainTreeSite struct {
	Name   string `json:"name"`
	Parent string `json:"parent,omitempty"`
}

// ServerState is one server as the answering agent sees it.
type ServerState struct {
	Name    string          `json:"name"`
	Address string          `json:"address"`
	Kind    spec.ServerKind `json:"kind"`
	Role    string          `json:"role"` // "master" or "member"
	Health  string          `json:"health"`
	Version string          `json:"version,omitempty"`
	// Revision is the committed revision the server reports running
	// (gossiped; 0 while unknown).
	Revision  uint64 `json:"revision"`
	Recording int    `json:"recording"`
	// CPUPercent is the agent process's CPU use in % of one core.
	CPUPercent  float64        `json:"cpu_percent"`
	MemoryBytes int64          `json:"memory_bytes"`
	Storage     []StorageState `json:"storage,omitempty"`
	// LiveViewers is the number of live views (console tiles) that this
	// server's recorder serves.
	LiveViewers int `json:"live_viewers,omitempty"`
	// ClockOffsetMS is the master's clock minus this server's, in
	// milliseconds, when ClockOffsetKnown (0 on the master itself).
	ClockOffsetMS    float64 `json:"clock_offset_ms"`
	ClockOffsetKnown bool    `json:"clock_offset_known"`
	// Since is when the server entered its current health.
	Since time.Time `json:"since,omitempty"`
	// Message explains a problem with the server, e.g. why membership
	// refused it (another vigil version) or why it cannot record.
	Message string `json:"message,omitempty"`
}

// Up tells whether the server runs and records (alive, suspect or
// draining), as opposed to dead, left or unknown.
func (s ServerState) Up() bool {
	return s.Health == HealthAlive || s.Health == HealthSuspect || s.Health == HealthDraining
}

// StorageState is one storage volume of a server.
type StorageState struct {
	Path      string `json:"path"`
	UsedBytes int64  `json:"used_bytes"`
	// HeldBytes is the part of UsedBytes that evidence holds keep.
	HeldBytes  int64 `json:"held_bytes"`
	FreeBytes  int64 `json:"free_bytes"`
	TotalBytes int64 `json:"total_bytes"`
	Full       bool  `json:"full"`
	// RetentionShort is set while recordings younger than the volume's
	// max_age had to be deleted for room (size, free-space floor, full disk).
	RetentionShort bool `json:"retention_short"`
	// Oldest is the start of the volume's oldest closed segment (its
	// footage reaches back that far); zero while it has none.
	Oldest time.Time `json:"oldest,omitzero"`
}

// CameraState is one camera, site-wide.
type CameraState struct {
	Name   string `json:"name"`
	Server string `json:"server"` // primary server in the spec
	State  string `json:"state"`
	// Reason explains State in a few words ("rec-1 dead, covered by rec-2").
	Reason    string     `json:"reason,omitempty"`
	Recorders []Recorder `json:"recorders,omitempty"`
	LastGap   *Gap       `json:"last_gap,omitempty"`
}

// Recorder is one server recording a camera.
type Recorder struct {
	Server string `json:"server"`
	// Role is why this server records it: "primary", "backup", "constant",
	// "balance" or "failback" (make-before-break handover).
	Role string `json:"role"`
	// State is "recording", "connecting" or "failing".
	State string    `json:"state"`
	Since time.Time `json:"since"`
	// From is where this server's media of the camera starts (the first
	// frame of its current recording); zero when unknown.
	From time.Time `json:"from,omitempty"`
	// Until is where this server's media of the camera ends, while its
	// session fails (its last frame); zero otherwise.
	Until time.Time `json:"until,omitempty"`
	Error string    `json:"error,omitempty"`
	// Cause is the gap cause of a failing session, or of the gap before
	// its current recording (GapFrom).
	Cause GapCause `json:"cause,omitempty"`
	// GapFrom is, for a recording session that had a gap of its own
	// before its current recording (a dropped stream, a restart), where
	// this server's media ended before it: that gap runs to From.
	GapFrom time.Time `json:"gap_from,omitzero"`
}

// Gap is a span with no recording of a camera, with its cause.
type Gap struct {
	Camera string    `json:"camera"`
	Server string    `json:"server,omitempty"`
	Start  time.Time `json:"start"`
	// End is zero while the gap is open.
	End   time.Time `json:"end,omitempty"`
	Cause GapCause  `json:"cause"`
}

// GapCause is why a camera was not recorded. The recorder, the site's
// gap.open and gap.closed events, vigil status and the footage listing all
// use these values and no others.
type GapCause string

// Gap causes.
const (
	// CauseServerFailure: the servers that should record the camera are
	// down (site view).
	CauseServerFailure GapCause = "server failure"
	// CauseNotRecorded: no server records the camera and none says why
	// (site view: not assigned, or its server has not reported yet).
	CauseNotRecorded GapCause = "not recorded"
	CauseUnreachable GapCause = "camera unreachable"
	CauseAuth        GapCause = "wrong credentials"
	// CauseCertificate: an rtsps:// camera's certificate failed its check
	// (untrusted, another host, not the pinned one).
	CauseCertificate   GapCause = "camera certificate"
	CauseCodec         GapCause = "unsupported codec"
	CauseMalformed     GapCause = "malformed stream"
	CauseStall         GapCause = "stream stalled"
	CauseDisconnect    GapCause = "camera disconnected"
	CauseStorage       GapCause = "storage"
	CauseRestart       GapCause = "restart"
	CauseTimestampJump GapCause = "timestamp jump"
	// CauseSwitch: playback and export of footage across a server switch
	// whose new file has no key frame at or before the switch miss the
	// frames up to its next one (a gap of the export, not of the listing).
	CauseSwitch GapCause = "no key frame at a server switch"
	// CauseUnknown: the footage listing cannot tell, because a server that
	// may hold footage of the time did not answer.
	CauseUnknown GapCause = "unknown: a server did not answer"
)

// Override is a balancing move in force: the camera's primary is Server
// instead of the one in the spec.
type Override struct {
	Camera string    `json:"camera"`
	From   string    `json:"from"`
	Server string    `json:"server"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason,omitempty"`
}

// ApplyRequest is the body of POST /v1/apply.
type ApplyRequest struct {
	Spec spec.Site `json:"spec"`
	// BaseRevision is the revision the change was planned against; a
	// different committed revision refuses the apply (409).
	BaseRevision uint64 `json:"base_revision"`
}

// ApplyResponse is the answer of a successful apply.
type ApplyResponse struct {
	Revision uint64 `json:"revision"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
	// Revision and BaseRevision are set on a stale apply (409).
	Revision     uint64 `json:"revision,omitempty"`
	BaseRevision uint64 `json:"base_revision,omitempty"`
	// Diagnostics are set when a spec fails validation (422).
	Diagnostics []spec.Diagnostic `json:"diagnostics,omitempty"`
	// Master is the master's API address when this agent cannot answer itself.
	Master string `json:"master,omitempty"`
	// OutcomeUnknown is set on an apply (503) whose entry was sent to the
	// site's quorum but whose commit was not confirmed (the master moved
	// or lost its majority meanwhile): read the revision back to learn
	// whether it was committed.
	OutcomeUnknown bool `json:"outcome_unknown,omitempty"`
}

// Event is one entry of GET /v1/events.
type Event struct {
	Time     time.Time     `json:"time"`
	Severity spec.Severity `json:"severity"`
	Kind     string        `json:"kind"` // one of the spec.Event* kinds, such as spec.EventServerDead
	Server   string        `json:"server,omitempty"`
	// Observer is the server whose view the event tells, when that is not
	// Server: a verdict about a peer (server.dead, server.suspect, ...) is
	// one event per server that reached it, each naming its observer.
	Observer string `json:"observer,omitempty"`
	Camera   string `json:"camera,omitempty"`
	Message  string `json:"message"`
	// Gap is the gap a gap.open or gap.closed event is about, with its
	// start (and end) as the segment files have them.
	Gap *Gap `json:"gap,omitempty"`
}

// Health is the answer of GET /v1/health.
type Health struct {
	// Status is "ok", or "waiting" while no spec was ever committed.
	Status   string `json:"status"`
	Server   string `json:"server"`
	Site     string `json:"site"`
	Version  string `json:"version"`
	Revision uint64 `json:"revision"`
	Master   string `json:"master,omitempty"`
	Message  string `json:"message,omitempty"`
}

// TransferRequest is the body of POST /v1/master/transfer.
type TransferRequest struct {
	Server string `json:"server"`
}

// TransferResponse is the answer of a successful master transfer.
type TransferResponse struct {
	Master string `json:"master"`
}

// DrainRequest is the body of POST /v1/drain.
type DrainRequest struct {
	Server string `json:"server"`
	// Undo ends the drain: the server takes its cameras back.
	Undo bool `json:"undo,omitempty"`
}

// DrainResponse is the answer of a committed drain or undo.
type DrainResponse struct {
	Server   string `json:"server"`
	Draining bool   `json:"draining"`
	// Staying are the cameras the drain cannot move (locked, or no other
	// live server with room): they stay on the server.
	Staying []DrainStay `json:"staying,omitempty"`
}

// DrainStay is a camera a drain leaves where it is, and why.
type DrainStay struct {
	Camera string `json:"camera"`
	Reason string `json:"reason"`
}

// DailyStat is the number of bytes a server recorded of a camera on one UTC
// day ("2006-01-02"): GET /v1/stats (the site's statistics, committed by the
// master) and GET /v1/stats/local (this server's store).
type DailyStat struct {
	Server string `json:"server"`
	Camera string `json:"camera"`
	Date   string `json:"date"`
	Bytes  int64  `json:"bytes"`
}

// ExportPublicKey is the answer of GET /v1/export/public-key: the public
// half of the site's export key, which signs exported footage (64 hex
// digits).
type ExportPublicKey struct {
	Site      string `json:"site"`
	PublicKey string `json:"public_key"`
}

// HoldFootageRequest is the body of POST /v1/holds/footage: which footage
// these holds (committed or only planned) cover.
type HoldFootageRequest struct {
	Holds []*spec.Hold `json:"holds"`
	// Local asks for the answering server's footage alone (agents asking
	// their peers); otherwise the answer covers the whole site.
	Local bool `json:"local,omitempty"`
}

// HoldFootage is the answer of POST /v1/holds/footage: per hold and server,
// the recorded segments that overlap the hold's period, which retention
// keeps while the hold is active.
type HoldFootage struct {
	Footage []HeldFootage `json:"footage"`
	// Unanswered names the servers whose footage is unknown: down, or
	// silent within the timeout (virtual servers record nothing and are
	// not asked).
	Unanswered []string `json:"unanswered,omitempty"`
}

// HeldFootage is what one server has of one hold's period. A server with
// none is left out.
type HeldFootage struct {
	Hold     string    `json:"hold"`
	Server   string    `json:"server"`
	Cameras  []string  `json:"cameras"`
	Segments int       `json:"segments"`
	Bytes    int64     `json:"bytes"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
}
