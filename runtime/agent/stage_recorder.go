package agent

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/recorder"
	"vigil/runtime/storage"
)

// recordingState is the stage that opens the recorder and reads what runs.
//
// In: the committed spec and the peers' statuses of the observation.
// Out: the recorder for this server's storage (nil when it records nothing
// or its storage cannot open; v.err says why), its sessions, and the
// cameras every server runs (the peers' gossip, this server's sessions).
func (a *Agent) recordingState(obs observation, v *view) (*recorderSet, []recorder.CameraStatus, map[string]map[string]bool) {
	running := map[string]map[string]bool{}
	for name, ms := range obs.statuses {
		running[name] = ms.running()
	}
	site := obs.st.Spec
	rec, err := a.recorderFor(site)
	if err != nil {
		v.err = err.Error()
	}
	if site.Server(a.cfg.Server) == nil {
		v.err = fmt.Sprintf("server %s is not in the committed spec of site %s", a.cfg.Server, site.Name)
	}
	var sessions []recorder.CameraStatus
	if rec != nil {
		sessions = rec.mgr.Status()
		running[a.cfg.Server] = runningOf(sessions)
	}
	return rec, sessions, running
}

// driveRecorder is the stage that hands the assignment to the recorder.
//
// In: the recorder (or nil) and its sessions, whether the assignment
// changed, the revision, the view's index, mine, warm, result and error.
// Out: the recorder's cameras (when the assignment changed); this server's
// status to gossip.
func (a *Agent) driveRecorder(rec *recorderSet, sessions []recorder.CameraStatus, changed bool, revision uint64, v view) *memberStatus {
	if rec == nil {
		return &memberStatus{Revision: revision, Error: v.err}
	}
	if changed {
		rec.set(v.idx, v.mine, v.warm)
	}
	return rec.status(sessions, revision, v.result, a.cfg.Server)
}

// recorderFor returns the recorder for this server's storage in the spec,
// opening it (or reopening it when the storage changed).
func (a *Agent) recorderFor(site *spec.Site) (*recorderSet, error) {
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	// Witness and virtual servers (and servers not in the spec) record
	// nothing and need no storage.
	me := site.Server(a.cfg.Server)
	records := me != nil && me.Kind.CanRecord()
	vols := a.volumes(site)
	if rec != nil && records && !slices.Equal(rec.volumes, vols) && rec.store.SetLimits(vols) == nil {
		// Only limits changed (size, age, free-space floor): the open
		// store takes them, and no camera stops recording.
		rec.volumes = slices.Clone(vols)
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventStorageChanged, Message: "storage limits changed: applied without restarting the recorder"})
	}
	if rec != nil && records && slices.Equal(rec.volumes, vols) {
		rec.store.SetHolds(site.Holds)
		return rec, nil
	}
	if rec != nil {
		if records {
			a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventStorageChanged, Message: "storage volumes changed: restarting the recorder"})
		}
		rec.close()
		a.mu.Lock()
		a.rec = nil
		a.mu.Unlock()
	}
	if !records {
		return nil, nil
	}
	// A storage that cannot be opened is retried now and then, with one
	// event per distinct error.
	if a.openErr != nil && time.Since(a.openErrAt) < storageRetry {
		return nil, a.openErr
	}
	var err error
	for _, v := range vols {
		if err == nil {
			err = a.cfg.checkVolume(v.Path)
		}
	}
	if err == nil {
		rec, err = openRecorder(a, vols, site.Holds)
	}
	if err != nil {
		err = fmt.Errorf("cannot open storage: %w", err)
		if a.openErr == nil || a.openErr.Error() != err.Error() {
			a.emit(api.Event{Severity: spec.SeverityError, Kind: spec.EventStorageUnavailable, Message: err.Error()})
		}
		a.openErr, a.openErrAt = err, time.Now()
		return nil, err
	}
	a.openErr = nil
	a.mu.Lock()
	a.rec = rec
	a.mu.Unlock()
	return rec, nil
}

// storageRetry is how often a storage that failed to open is retried.
const storageRetry = 10 * time.Second

// volumes resolves this server's storage from the spec.
func (a *Agent) volumes(spec *spec.Site) []storage.Volume {
	var vols []storage.Volume
	if me := spec.Server(a.cfg.Server); me != nil {
		for _, s := range me.Storage {
			p := s.Path
			if !filepath.IsAbs(p) {
				p = filepath.Join(a.cfg.DataDir, p)
			}
			vols = append(vols, storage.Volume{Path: p, MaxSize: s.MaxSize, MaxAge: s.MaxAge, MinFree: s.MinFree, MinFreePercent: s.MinFreePercent})
		}
	}
	if len(vols) == 0 {
		vols = []storage.Volume{{Path: filepath.Join(a.cfg.DataDir, "recordings")}}
	}
	return vols
}
