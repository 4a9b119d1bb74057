package agent

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// memberStatus is what every agent gossips about itself through the
// cluster's status payload. Field names are short: it travels in every
// membership exchange.
type memberStatus struct {
	Version  string `json:"v,omitempty"`
	Revision uint64 `json:"rev,omitempty"`
	// Waiting: no spec committed yet.
	Waiting bool `json:"wait,omitempty"`
	// Error is a problem that stops this server from recording (storage).
	Error    string             `json:"err,omitempty"`
	Sessions []session          `json:"s,omitempty"`
	CPU      float64            `json:"cpu,omitempty"`
	Memory   int64              `json:"mem,omitempty"`
	Storage  []api.StorageState `json:"st,omitempty"`
	// ClockMS is the clock offset to the master (the master's clock minus
	// this server's) in whole milliseconds, so that jitter below a
	// millisecond does not change the gossiped status; nil when unknown.
	ClockMS *int64 `json:"clk,omitempty"`
	// Viewers is the number of live views served from this server.
	Viewers int `json:"lv,omitempty"`
	// Leaving: the server is stopping on purpose and hands its cameras
	// away first (Agent.Close); peers treat it as draining.
	Leaving bool `json:"bye,omitempty"`
	// Gaps are the site-wide gaps this server observed that the site's
	// committed history lacks: the master commits them (sitegaps.go).
	Gaps []api.Gap `json:"gaps,omitempty"`
}

// session is one recorder session of a server.
type session struct {
	Camera string `json:"c"`
	Role   string `json:"r,omitempty"`
	// State is "recording", "connecting" or "failing".
	State string `json:"s"`
	// Since is a Unix time in seconds.
	Since int64 `json:"t,omitempty"`
	// From is where the session's media starts (recorder's
	// CameraStatus.From), Unix milliseconds; 0 when unknown.
	From int64 `json:"f,omitempty"`
	// Until is where a failing session's media ended in the files' time
	// (recorder's CameraStatus.MediaEnd), Unix milliseconds; 0 when
	// unknown.
	Until int64  `json:"u,omitempty"`
	Error string `json:"e,omitempty"`
	// Cause is the gap cause of a failing session, or of GapFrom's gap.
	Cause api.GapCause `json:"g,omitempty"`
	// GapFrom is, for a recording session that had a gap of its own
	// before its current recording, where its media ended before that gap
	// (Unix milliseconds): the gap is GapFrom to From.
	GapFrom int64 `json:"gf,omitempty"`
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// Recorder session states, as gossiped and shown in api.Recorder.State.
const (
	sessionRecording  = "recording"
	sessionConnecting = "connecting"
	sessionFailing    = "failing"
)

// running is the set of cameras with a session that is recording.
func (m *memberStatus) running() map[string]bool {
	out := map[string]bool{}
	for _, s := range m.Sessions {
		if s.State == sessionRecording {
			out[s.Camera] = true
		}
	}
	return out
}

func (m *memberStatus) recording() int { return len(m.running()) }

// sessionsByCamera gathers the sessions of every server that is alive (and
// suspect ones when withSuspect), by camera. The gossip of a dead server is
// its last word, not the truth; that of a suspect one may be.
func (a *Agent) sessionsByCamera(own *memberStatus, statuses map[string]*memberStatus, health map[string]assign.Member, withSuspect bool) map[string][]api.Recorder {
	out := map[string][]api.Recorder{}
	add := func(server string, ms *memberStatus) {
		for _, s := range ms.Sessions {
			out[s.Camera] = append(out[s.Camera], api.Recorder{
				Server: server, Role: s.Role, State: s.State, Since: time.Unix(s.Since, 0), Error: s.Error, Cause: s.Cause,
				From: fromMillis(s.From), Until: fromMillis(s.Until), GapFrom: fromMillis(s.GapFrom),
			})
		}
	}
	add(a.cfg.Server, own)
	for name, ms := range statuses {
		if name == a.cfg.Server {
			continue
		}
		if h, ok := health[name]; ok && (h.Health == api.HealthAlive || withSuspect && h.Health == api.HealthSuspect) {
			add(name, ms)
		}
	}
	for _, recs := range out {
		slices.SortFunc(recs, func(x, y api.Recorder) int { return rolePos(x.Role) - rolePos(y.Role) })
	}
	return out
}

func rolePos(r string) int {
	switch r {
	case assign.RolePrimary, assign.RoleBalance:
		return 0
	case assign.RoleBackup:
		return 1
	case assign.RoleConstant:
		return 2
	}
	return 3
}

// State builds the answer of GET /v1/state from the last reconcile pass.
func (a *Agent) State() api.State {
	a.mu.Lock()
	v := a.view
	configErr, domain := a.configErr, a.domain
	a.mu.Unlock()

	st := api.State{
		Domain:        domain,
		ConfigError:   configErr,
		Site:          a.cfg.Site,
		Revision:      v.revision,
		Master:        v.master,
		Version:       a.cfg.Version,
		Answering:     a.cfg.Server,
		CAFingerprint: a.tls.ca.Fingerprint(),
		Overrides:     v.overrides,
	}
	own := v.statuses[a.cfg.Server]
	if own == nil {
		own = &memberStatus{Waiting: v.spec() == nil}
	}
	if v.spec() == nil {
		st.Message = WaitingMessage
		names := []string{a.cfg.Server}
		for n := range v.members {
			if n != a.cfg.Server {
				names = append(names, n)
			}
		}
		slices.Sort(names[1:])
		for _, n := range names {
			m := v.members[n]
			ss := api.ServerState{Name: n, Kind: spec.KindRecording, Role: roleName(n, v.master), Health: m.Health, Version: m.Version, Since: m.Since}
			if m.Addr != "" {
				ss.Address = net.JoinHostPort(m.Addr, strconv.Itoa(m.APIPort))
			}
			if n == a.cfg.Server {
				ss.Health, ss.Version, ss.Address = api.HealthAlive, a.cfg.Version, net.JoinHostPort(a.cfg.advertiseAddr(), strconv.Itoa(a.cfg.Port))
			}
			if ms := v.statuses[n]; ms != nil {
				fillServer(&ss, ms)
			}
			st.Servers = append(st.Servers, ss)
		}
		return st
	}

	st.Spec = v.idx.redactedSpec()
	if v.err != "" {
		st.Message = fmt.Sprintf("%s cannot record: %s", a.cfg.Server, v.err)
	}
	for _, s := range v.spec().Servers {
		ss := api.ServerState{
			Name:    s.Name,
			Address: net.JoinHostPort(s.Address, strconv.Itoa(s.Port)),
			Kind:    s.Kind,
			Role:    roleName(s.Name, v.master),
			Health:  api.HealthUnknown,
		}
		if ss.Kind == "" {
			ss.Kind = spec.KindRecording
		}
		h, ok := v.health[s.Name]
		if ok {
			ss.Health, ss.Since = h.Health, h.Since
		}
		m, seen := v.members[s.Name]
		if seen {
			ss.Version = m.Version
			if ss.Health == api.HealthAlive && !m.Since.IsZero() {
				ss.Since = m.Since
			}
		}
		up := ss.Health == api.HealthAlive || ss.Health == api.HealthSuspect
		switch {
		case h.Draining && ss.Health == api.HealthAlive:
			ss.Health = api.HealthDraining
		case seen && m.Left && ss.Health == api.HealthDead:
			ss.Health = api.HealthLeft
		}
		if up {
			if ms := v.statuses[s.Name]; ms != nil {
				fillServer(&ss, ms)
			}
		}
		if s.Name == a.cfg.Server {
			ss.Version = a.cfg.Version
			if v.err != "" {
				ss.Message = "cannot record: " + v.err
			}
		} else if why, ok := v.refused[s.Name]; ok {
			ss.Message = "refused by membership: " + why
		} else if ms := v.statuses[s.Name]; ms != nil && ms.Error != "" && ss.Health == api.HealthAlive {
			ss.Message = "cannot record: " + ms.Error
		}
		st.Servers = append(st.Servers, ss)
	}

	sessions := a.sessionsByCamera(own, v.statuses, v.health, true)
	for _, c := range v.spec().Cameras {
		d := v.result.Cameras[c.Name]
		cs := api.CameraState{Name: c.Name, Server: c.Server, State: d.State, Reason: d.Reason, Recorders: sessions[c.Name]}
		cs.State, cs.Reason = cameraState(d, cs.Recorders)
		cs.LastGap = a.lastGap(c.Name)
		st.Cameras = append(st.Cameras, cs)
	}
	return st
}

// cameraState refines the assignment's decision with what the recorders
// report: a camera whose recorders all fail to get the stream is failing.
func cameraState(d assign.Camera, recs []api.Recorder) (string, string) {
	if d.State != api.CameraRecording && d.State != api.CameraCovered {
		return d.State, d.Reason
	}
	failing := 0
	var why string
	for _, r := range recs {
		switch r.State {
		case sessionRecording:
			return d.State, d.Reason
		case sessionFailing:
			failing++
			if why == "" {
				why = fmt.Sprintf("%s: %s", r.Server, r.Error)
			}
		}
	}
	if failing > 0 {
		return api.CameraFailing, why
	}
	if len(recs) == 0 {
		return d.State, d.Reason + " (starting)"
	}
	return d.State, d.Reason + " (connecting)"
}

func roleName(server, master string) string {
	if server == master {
		return "master"
	}
	return "member"
}

func fillServer(ss *api.ServerState, ms *memberStatus) {
	ss.Recording = ms.recording()
	ss.Revision = ms.Revision
	ss.CPUPercent = ms.CPU
	ss.MemoryBytes = ms.Memory
	ss.Storage = ms.Storage
	ss.LiveViewers = ms.Viewers
	if ms.ClockMS != nil {
		ss.ClockOffsetMS, ss.ClockOffsetKnown = float64(*ms.ClockMS), true
	}
	if ss.Version == "" {
		ss.Version = ms.Version
	}
}
