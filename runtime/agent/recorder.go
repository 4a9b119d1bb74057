package agent

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/hcl/spec"
	"vigil/runtime/assign"
	"vigil/runtime/recorder"
	"vigil/runtime/storage"
)

// recorderSet is the store and the recorder of this server's storage
// configuration. It has its own metrics registry because it is replaced
// when the storage configuration changes.
type recorderSet struct {
	volumes []storage.Volume
	store   *storage.Store
	mgr     *recorder.Manager
	reg     *prometheus.Registry
}

func openRecorder(a *Agent, vols []storage.Volume, holds []*spec.Hold) (*recorderSet, error) {
	// The holds are in force before retention first runs.
	store, err := storage.Open(vols, a.log, storage.WithHolds(holds))
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	mgr, err := recorder.NewManager(recorder.ManagerConfig{
		ServerName:    a.cfg.Server,
		Store:         store,
		Events:        a.recorderEvent,
		Registry:      reg,
		Logger:        a.log,
		FsyncInterval: a.cfg.FsyncInterval,
		WarmHold:      warmHold(a.cfg.Keepalive),
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &recorderSet{volumes: slices.Clone(vols), store: store, mgr: mgr, reg: reg}, nil
}

// warmHold is how much a warm session keeps: from a server's late verdict
// to its dead one (under two keepalives) and a GOP, at least 10 s and at
// most 20 s, which bounds the memory of long keepalives (20 s of a 3 Mbit/s
// camera is 7.5 MB): with those, a takeover may start after the failure.
func warmHold(keepalive time.Duration) time.Duration {
	return min(max(2*keepalive+5*time.Second, 10*time.Second), 20*time.Second)
}

// set hands the recorder the cameras the assignment gives this server, and
// those to hold warm.
func (r *recorderSet) set(idx *specIndex, mine, warm []string) {
	cams := make([]recorder.Camera, 0, len(mine)+len(warm))
	for _, name := range mine {
		if c, ok := idx.cameras[name]; ok {
			cams = append(cams, c)
		}
	}
	for _, name := range warm {
		if c, ok := idx.cameras[name]; ok {
			c.Warm = true
			cams = append(cams, c)
		}
	}
	r.mgr.Set(cams)
}

// runningOf is the set of cameras whose session is recording.
func runningOf(sessions []recorder.CameraStatus) map[string]bool {
	out := map[string]bool{}
	for _, s := range sessions {
		if sessionState(s) == sessionRecording {
			out[s.Name] = true
		}
	}
	return out
}

// status is this server's gossip payload: its sessions and storage.
func (r *recorderSet) status(sessions []recorder.CameraStatus, rev uint64, res assign.Result, self string) *memberStatus {
	ms := &memberStatus{Revision: rev}
	for _, s := range sessions {
		if s.State == "warm" {
			continue // not recording, nor trying to
		}
		sess := session{Camera: s.Name, Role: roleOf(res, s.Name, self), State: sessionState(s)}
		if sess.Role == "" {
			sess.Role = assign.RoleFailback // handed over, still recorded for a while (handover.go)
		}
		if !s.Since.IsZero() {
			sess.Since = s.Since.Unix()
		}
		if !s.From.IsZero() {
			sess.From = s.From.UnixMilli()
		}
		if sess.State == sessionFailing && !s.MediaEnd.IsZero() {
			sess.Until = s.MediaEnd.UnixMilli()
		}
		if sess.State == sessionFailing {
			sess.Error = truncate(s.Error, 120)
			if s.Gap != nil && s.Gap.End.IsZero() {
				sess.Cause = s.Gap.Cause
			}
		}
		if sess.State == sessionRecording && s.Gap != nil && !s.Gap.End.IsZero() && sess.From != 0 {
			// The session's own last gap: where its media ended before
			// the current recording (a dropped stream, a restart).
			sess.GapFrom, sess.Cause = s.Gap.Start.UnixMilli(), s.Gap.Cause
		}
		ms.Sessions = append(ms.Sessions, sess)
	}
	for _, u := range r.store.Usage() {
		u.UsedBytes = u.UsedBytes >> 20 << 20 // MiB steps: gossip only real changes
		u.FreeBytes = u.FreeBytes >> 20 << 20
		u.Oldest = u.Oldest.Truncate(time.Minute) // retention deletes a segment at a time
		ms.Storage = append(ms.Storage, u)
	}
	return ms
}

// sessionState maps the recorder's state of a session to the three states
// the API shows.
func sessionState(s recorder.CameraStatus) string {
	switch s.State {
	case "recording":
		return sessionRecording
	case "failing":
		return sessionFailing
	}
	return sessionConnecting
}

func (r *recorderSet) close() {
	r.mgr.Close()
	r.store.Close()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
