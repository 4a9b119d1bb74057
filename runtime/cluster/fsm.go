package cluster

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// Log entries are JSON envelopes {"type": ..., "v": ..., "body": ...}. A
// type's version is bumped whenever its body changes incompatibly; an entry
// of an unknown type or of a newer version than this binary knows is not
// applied and is reported as an error (all servers of a site run the same
// version, so this only happens after a downgrade).
const (
	cmdApplySpec    = "apply_spec"
	cmdSetOverrides = "set_overrides"
	cmdRecordStats  = "record_stats"
	cmdSetDrain     = "set_drain"

	cmdApplySpecV    = 1
	cmdSetOverridesV = 1
	cmdRecordStatsV  = 1
	cmdSetDrainV     = 1

	snapshotV = 1

	// StatsRetentionDays bounds the daily statistics kept in the state
	// machine: entries older than this, counted back from the newest date
	// recorded, are dropped.
	StatsRetentionDays = 90
)

type envelope struct {
	Type string          `json:"type"`
	V    int             `json:"v"`
	Body json.RawMessage `json:"body"`
}

type applySpecBody struct {
	Spec spec.Site `json:"spec"`
	Base uint64    `json:"base"`
	// Time is the leader's clock when it proposed the entry, so that every
	// replica records the same commit time.
	Time time.Time `json:"time"`
	// ExportKey is the seed of a new site export key, proposed by a master
	// that found none; the first one committed stays the site's key.
	ExportKey []byte `json:"export_key,omitempty"`
}

type setOverridesBody struct {
	Overrides []api.Override `json:"overrides"`
}

type setDrainBody struct {
	Server string `json:"server"`
	Drain  bool   `json:"drain"`
}

type recordStatsBody struct {
	Stats []DailyStat `json:"stats"`
}

// DailyStat is the number of bytes a server recorded of a camera on one UTC
// day, the API's type. Recording the same key (server, camera, date) again
// replaces the value, so agents may report running totals for the day.
type DailyStat = api.DailyStat

type statKey struct{ Server, Camera, Date string }

// State is the committed state of the site, as applied on this node.
// It is a snapshot: later commits do not change it. Treat Spec as read-only.
type State struct {
	// Spec is the committed spec; nil before the first apply.
	Spec *spec.Site
	// Revision of Spec; 0 before the first apply.
	Revision uint64
	// Committed is when Revision was proposed (master's clock).
	Committed time.Time
	// Overrides are the balancing moves in force.
	Overrides []api.Override
	// Drains are the servers drained with vigil drain, sorted: they hand
	// every camera away but keep running.
	Drains []string
}

// fsm is the raft state machine. Readers take a copy under the lock; raft
// calls Apply, Snapshot and Restore from one goroutine.
type fsm struct {
	mu    sync.RWMutex
	state State
	stats map[statKey]int64
	// exportKey signs the site's exports. It is kept apart from State,
	// which is shown, so that it never reaches the API or the logs.
	exportKey ed25519.PrivateKey
	// alerts is the alert state (alerts.go).
	alerts AlertState
	// gaps is the site's gap history by camera, oldest first (gaps.go).
	gaps map[string][]api.Gap
	// audit is the audit log (audit.go).
	audit     AuditState
	log       *slog.Logger
	onApplied func(kind string)
}

func newFSM(log *slog.Logger, onApplied func(string)) *fsm {
	return &fsm{stats: map[statKey]int64{}, log: log, onApplied: onApplied}
}

func encodeCmd(typ string, v int, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{Type: typ, V: v, Body: b})
}

// Apply implements raft.FSM. The response is nil, an error, or (for
// apply_spec) the new revision as uint64.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	var env envelope
	if err := json.Unmarshal(l.Data, &env); err != nil {
		f.log.Error("cannot decode committed raft entry; skipped", "index", l.Index, "err", err)
		return fmt.Errorf("undecodable raft entry %d: %w", l.Index, err)
	}
	resp := f.apply(env)
	if err, ok := resp.(error); ok {
		if _, stale := err.(*StaleError); !stale {
			f.log.Error("committed raft entry not applied", "index", l.Index, "type", env.Type, "err", err)
		}
	} else if f.onApplied != nil {
		f.onApplied(env.Type)
	}
	return resp
}

func (f *fsm) apply(env envelope) any {
	switch env.Type {
	case cmdApplySpec:
		b, err := decodeBody[applySpecBody](env, cmdApplySpecV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if b.Base != f.state.Revision {
			return &StaleError{Current: f.state.Revision, Base: b.Base}
		}
		spec := b.Spec
		f.state.Overrides = keepOverrides(f.state.Spec, &spec, f.state.Overrides)
		f.state.Drains = slices.DeleteFunc(f.state.Drains, func(n string) bool { return spec.Server(n) == nil })
		f.pruneGaps(func(cam string) bool { return spec.Camera(cam) != nil })
		f.state.Spec = &spec
		f.state.Revision++
		f.state.Committed = b.Time
		if f.exportKey == nil && len(b.ExportKey) == ed25519.SeedSize {
			f.exportKey = ed25519.NewKeyFromSeed(b.ExportKey)
		}
		// A shorter audit_retention takes effect at once.
		f.audit.prune(b.Time, auditRetention(&spec), MaxAuditEntries)
		return f.state.Revision
	case cmdSetOverrides:
		b, err := decodeBody[setOverridesBody](env, cmdSetOverridesV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.state.Overrides = b.Overrides
		return nil
	case cmdSetDrain:
		b, err := decodeBody[setDrainBody](env, cmdSetDrainV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		d := slices.DeleteFunc(slices.Clone(f.state.Drains), func(n string) bool { return n == b.Server })
		if b.Drain {
			d = append(d, b.Server)
			slices.Sort(d)
		}
		f.state.Drains = d
		return nil
	case cmdRecordStats:
		b, err := decodeBody[recordStatsBody](env, cmdRecordStatsV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		newest := ""
		for _, s := range b.Stats {
			f.stats[statKey{s.Server, s.Camera, s.Date}] = s.Bytes
			newest = max(newest, s.Date)
		}
		f.prune(newest)
		return nil
	case cmdAlertCommit:
		b, err := decodeBody[AlertCommit](env, cmdAlertCommitV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.alerts.commit(b)
		return nil
	case cmdAlertDelivered:
		b, err := decodeBody[alertDeliveredBody](env, cmdAlertDeliveredV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.alerts.delivered(b)
		return nil
	case cmdRecordGaps:
		b, err := decodeBody[recordGapsBody](env, cmdRecordGapsV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.recordGaps(b)
		return nil
	case cmdAuditAppend:
		b, err := decodeBody[auditAppendBody](env, cmdAuditAppendV)
		if err != nil {
			return err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.audit.appendBatch(b, auditRetention(f.state.Spec), MaxAuditEntries)
		return nil
	default:
		return fmt.Errorf("unknown raft entry type %q (version %d): this binary is older than the one that wrote it", env.Type, env.V)
	}
}

// keepOverrides drops the balancing moves of cameras that the new spec
// removes or gives another primary server: an apply that changes a
// camera's primary clears its override.
func keepOverrides(prev, next *spec.Site, o []api.Override) []api.Override {
	if len(o) == 0 {
		return o
	}
	primaries := func(s *spec.Site) map[string]string {
		m := map[string]string{}
		if s != nil {
			for _, c := range s.Cameras {
				m[c.Name] = c.Server
			}
		}
		return m
	}
	was, now := primaries(prev), primaries(next)
	var out []api.Override
	for _, v := range o {
		if p, ok := now[v.Camera]; ok && p == was[v.Camera] {
			out = append(out, v)
		}
	}
	return out
}

// decodeBody decodes env's body, refusing a version newer than known.
func decodeBody[T any](env envelope, known int) (T, error) {
	var b T
	if env.V > known {
		return b, fmt.Errorf("raft entry %q has version %d, newer than this binary understands: all servers of a site must run the same vigil version", env.Type, env.V)
	}
	return b, json.Unmarshal(env.Body, &b)
}

// prune drops statistics older than StatsRetentionDays before newest.
// Called with f.mu held; deterministic because it depends only on the log.
func (f *fsm) prune(newest string) {
	t, err := time.Parse(time.DateOnly, newest)
	if err != nil {
		return
	}
	cut := t.AddDate(0, 0, -StatsRetentionDays).Format(time.DateOnly)
	for k := range f.stats {
		if k.Date < cut {
			delete(f.stats, k)
		}
	}
}

func (f *fsm) current() State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.state
	s.Overrides = append([]api.Override(nil), f.state.Overrides...)
	s.Drains = slices.Clone(f.state.Drains)
	return s
}

// siteExportKey returns the site's export key, nil before it is made.
func (f *fsm) siteExportKey() ed25519.PrivateKey {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.exportKey
}

// statsSince returns the statistics dated on or after since (any if ""),
// sorted by date, camera and server.
func (f *fsm) statsSince(since string) []DailyStat {
	f.mu.RLock()
	out := make([]DailyStat, 0, len(f.stats))
	for k, v := range f.stats {
		if k.Date >= since {
			out = append(out, DailyStat{Server: k.Server, Camera: k.Camera, Date: k.Date, Bytes: v})
		}
	}
	f.mu.RUnlock()
	sortStats(out)
	return out
}

func sortStats(s []DailyStat) {
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.Date != b.Date {
			return a.Date < b.Date
		}
		if a.Camera != b.Camera {
			return a.Camera < b.Camera
		}
		return a.Server < b.Server
	})
}

// snapshotData is the JSON form of the whole state machine.
type snapshotData struct {
	V         int            `json:"v"`
	Spec      *spec.Site     `json:"spec,omitempty"`
	Revision  uint64         `json:"revision"`
	Committed time.Time      `json:"committed"`
	Overrides []api.Override `json:"overrides,omitempty"`
	Stats     []DailyStat    `json:"stats,omitempty"`
	// ExportKey is the seed of the site's export key.
	ExportKey []byte      `json:"export_key,omitempty"`
	Alerts    *AlertState `json:"alerts,omitempty"`
	Drains    []string    `json:"drains,omitempty"`
	Gaps      []api.Gap   `json:"gaps,omitempty"`
	Audit     *AuditState `json:"audit,omitempty"`
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	st := f.current()
	data := snapshotData{
		V: snapshotV, Spec: st.Spec, Revision: st.Revision, Committed: st.Committed,
		Overrides: st.Overrides, Stats: f.statsSince(""), Drains: st.Drains, Gaps: f.gapsOf(""),
	}
	if k := f.siteExportKey(); k != nil {
		data.ExportKey = k.Seed()
	}
	f.mu.RLock()
	alerts, audit := f.alerts.clone(), f.audit.clone()
	f.mu.RUnlock()
	data.Alerts, data.Audit = &alerts, &audit
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return fsmSnapshot(b), nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var data snapshotData
	if err := json.NewDecoder(rc).Decode(&data); err != nil {
		return fmt.Errorf("decoding state snapshot: %w", err)
	}
	if data.V > snapshotV {
		return fmt.Errorf("state snapshot has version %d, newer than this binary understands", data.V)
	}
	stats := make(map[statKey]int64, len(data.Stats))
	for _, s := range data.Stats {
		stats[statKey{s.Server, s.Camera, s.Date}] = s.Bytes
	}
	f.mu.Lock()
	f.state = State{Spec: data.Spec, Revision: data.Revision, Committed: data.Committed, Overrides: data.Overrides, Drains: data.Drains}
	f.stats = stats
	f.gaps = gapsFromSnapshot(data.Gaps)
	f.alerts = AlertState{}
	if data.Alerts != nil {
		f.alerts = *data.Alerts
	}
	f.audit = AuditState{}
	if data.Audit != nil {
		f.audit = *data.Audit
	}
	f.exportKey = nil
	if len(data.ExportKey) == ed25519.SeedSize {
		f.exportKey = ed25519.NewKeyFromSeed(data.ExportKey)
	}
	f.mu.Unlock()
	if f.onApplied != nil {
		f.onApplied("restore")
	}
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s fsmSnapshot) Release() {}
