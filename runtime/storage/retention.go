package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/runtime/api"

	"vigil/hcl/spec"
)

// Kick asks the background retention to run now (after a write hit a full
// disk). It never blocks.
func (s *Store) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Store) retentionLoop() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.interval > 0 {
		t := time.NewTicker(s.interval)
		defer t.Stop()
		tick = t.C
		s.Enforce()
	}
	for {
		select {
		case <-s.stop:
			return
		case <-tick:
		case <-s.kick:
		}
		s.Enforce()
	}
}

// Enforce applies retention to every volume now: segments older than the
// volume's MaxAge or their camera's retention go first, then the oldest
// segments of the volume while it is over MaxSize or under its free-space
// floor. After a write failed for lack of space, and on every run while
// the volume stays full, the oldest segments go until every segment being
// written has room to grow by as much as its camera's last one (at least
// one segment). Open segments are never deleted,
// nor segments that overlap an active hold (see SetHolds): when only those
// are left on a full volume, new footage is dropped instead, and a
// storage.full event says that holds fill the volume. It returns the number
// of segments deleted.
//
// Each deletion is chosen and taken out of the index under the store lock,
// and its file removed after, outside it: removing a large file can take a
// while, and writers must not wait for that.
func (s *Store) Enforce() int {
	// One run at a time: two would each count the same free space and
	// delete for it twice, and a caller would return while the other run
	// still deletes for the space it asked for.
	s.enforceMu.Lock()
	defer s.enforceMu.Unlock()
	n := 0
	var missed, reached, heldFull []string
	for _, v := range s.vols {
		n += s.enforceVolume(v)
		s.mu.Lock()
		if v.floorMissed != v.floorWasMissed {
			v.floorWasMissed = v.floorMissed
			if v.floorMissed {
				missed = append(missed, v.Path)
			} else {
				reached = append(reached, v.Path)
			}
		}
		if v.heldFull && !v.heldFullAnnounced {
			heldFull = append(heldFull, v.Path)
		}
		v.heldFullAnnounced = v.heldFull
		s.mu.Unlock()
	}
	for _, p := range missed {
		left := "only segments being written are left"
		if held := s.heldOn(p); held > 0 {
			left = fmt.Sprintf("only segments being written and footage kept by holds (%s) are left", heldText(held))
		}
		s.emit(spec.SeverityWarning, spec.EventStorageFloor, "", fmt.Sprintf("storage %s: the free-space floor cannot be reached: %s", p, left))
	}
	for _, p := range reached {
		s.emit(spec.SeverityInfo, spec.EventStorageFloor, "", fmt.Sprintf("storage %s: free space is above the floor again", p))
	}
	for _, p := range heldFull {
		s.emit(spec.SeverityError, spec.EventStorageFull, "", fmt.Sprintf("storage %s is full and holds fill it: every recording left on it is kept by a hold (%s), so new footage is dropped until a hold ends or is removed, or storage is added", p, heldText(s.heldOn(p))))
	}
	s.retentionEvents()
	return n
}

func (s *Store) heldOn(path string) int64 {
	for _, v := range s.vols {
		if v.Path == path {
			return v.held.Load()
		}
	}
	return 0
}

func (s *Store) enforceVolume(v *volume) int {
	s.mu.Lock()
	now := s.now() // under the lock, like every other reading of the clock
	held := newHeldIndex(s.holds, now)
	lim := v.Volume // SetLimits changes them under the lock
	s.mu.Unlock()
	deleted := 0
	// take unindexes the segment pick chooses (under the store lock) and
	// removes its file; it reports false when pick chose none or the store
	// is closed.
	take := func(pick func() (*camIndex, int), why string) (Segment, bool) {
		s.mu.Lock()
		c, i := (*camIndex)(nil), 0
		if !s.closed {
			c, i = pick()
		}
		if c == nil {
			s.mu.Unlock()
			return Segment{}, false
		}
		seg := s.unindex(v, c, i)
		// Deleting by age again means max_age is kept again.
		v.short = why != "age" && (v.short || v.MaxAge > 0 && now.Sub(seg.End) < v.MaxAge)
		s.mu.Unlock()
		if err := os.Remove(seg.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Error("retention cannot delete segment", "file", seg.Path, "reason", why, "error", err)
		} else {
			_ = os.Remove(filepath.Dir(seg.Path)) // the date directory, once empty
			s.log.Debug("retention deleted segment", "file", seg.Path, "reason", why)
		}
		deleted++
		return seg, true
	}
	// By age: each camera's segments are sorted, so the expired ones are
	// at the front, held ones skipped.
	expired := func() (*camIndex, int) {
		for _, c := range v.cams {
			maxAge := v.MaxAge
			if r := s.retention[c.camera]; r > 0 && (maxAge == 0 || r < maxAge) {
				maxAge = r
			}
			if maxAge <= 0 {
				continue
			}
			if i := held.firstUnheld(c); i < len(c.segs) && now.Sub(c.segs[i].End) > maxAge {
				return c, i
			}
		}
		return nil, 0
	}
	for _, ok := take(expired, "age"); ok; _, ok = take(expired, "age") {
	}
	// The oldest unheld segment of the volume: the oldest of the cameras'
	// first unheld ones.
	oldest := func() (*camIndex, int) {
		var o *camIndex
		oi := 0
		for _, c := range v.cams {
			if i := held.firstUnheld(c); i < len(c.segs) && (o == nil || c.segs[i].Start.Before(o.segs[oi].Start)) {
				o, oi = c, i
			}
		}
		return o, oi
	}
	// By size.
	for lim.MaxSize > 0 && v.used.Load() > lim.MaxSize {
		if _, ok := take(oldest, "size"); !ok {
			break
		}
	}
	s.mu.Lock()
	v.held.Store(held.volumeBytes(v))
	s.mu.Unlock()
	// Free-space floor. The filesystem may free blocks late, so the space
	// freed is counted from the sizes deleted.
	free, total, err := s.freeSpace(v.Path)
	if err != nil {
		s.log.Warn("cannot read free space", "volume", v.Path, "error", err)
		return deleted
	}
	floor := uint64(max(lim.MinFree, 0))
	if lim.MinFreePercent > 0 {
		floor = max(floor, uint64(lim.MinFreePercent/100*float64(total)))
	}
	left := true // segments left to delete
	for free < floor {
		seg, ok := take(oldest, "free space floor")
		if !ok {
			left = false
			break
		}
		free += uint64(seg.Bytes)
	}
	// A write failed for lack of space (the volume may have been marked
	// full and cleared again by another camera's write since): make room
	// for every segment being written to grow by as much as its camera's
	// last one, so that all cameras go on recording, not only the one that
	// got the freed space first; at least one segment in any case.
	s.mu.Lock()
	need := v.full || v.roomWanted
	v.roomWanted = false
	want := v.headroom()
	s.mu.Unlock()
	heldFull := false
	for first := true; need && (first || free < want); first = false {
		seg, ok := take(oldest, "disk full")
		if !ok {
			heldFull = first && v.held.Load() > 0
			break
		}
		free += uint64(seg.Bytes)
	}
	// Below the floor with nothing left to delete: only open (and held)
	// segments remain.
	s.mu.Lock()
	v.floorMissed = free < floor && !left
	v.heldFull = heldFull
	s.mu.Unlock()
	return deleted
}

// headroom is the free space a full volume needs for each segment being
// written on it to grow by its camera's last closed segment there. Called
// with s.mu held.
func (v *volume) headroom() uint64 {
	var n uint64
	for f := range v.open {
		if c := v.cams[f.camera]; c != nil && len(c.segs) > 0 {
			n += uint64(c.segs[len(c.segs)-1].Bytes)
		}
	}
	return n
}

// SamePaths reports whether vols are the volumes the store has open (the
// same names and paths, in the same order), whatever their limits.
func (s *Store) SamePaths(vols []Volume) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(vols) != len(s.vols) {
		return false
	}
	for i, v := range vols {
		if v.Name != s.vols[i].Name || v.Path != s.vols[i].Path {
			return false
		}
	}
	return true
}

// SetLimits changes the retention limits of the open volumes (size, age,
// free-space floor) to those of vols, which must be the same volumes
// (SamePaths), and runs retention with them: a change of limits needs
// no new store, so recording goes on untouched.
func (s *Store) SetLimits(vols []Volume) error {
	if !s.SamePaths(vols) {
		return errors.New("storage: the volumes changed, not only their limits")
	}
	s.mu.Lock()
	for i, v := range vols {
		s.vols[i].Volume = v
	}
	s.mu.Unlock()
	s.Kick()
	return nil
}

// unindex takes a camera's i-th segment out of the index, keeping its bytes
// in the daily statistics. Called with s.mu held.
func (s *Store) unindex(v *volume, c *camIndex, i int) Segment {
	seg := c.segs[i]
	if i < len(c.segs)/2 {
		// Behind a held run at the front: shift the shorter side.
		copy(c.segs[1:i+1], c.segs[:i])
		c.segs = c.segs[1:]
	} else {
		c.segs = slices.Delete(c.segs, i, i+1)
	}
	c.days[seg.Start.UTC().Format(time.DateOnly)] += seg.Bytes
	v.used.Add(-seg.Bytes)
	s.deleted.Add(1)
	if err := c.appendRecord(indexRecord{Del: c.record(seg).Path}, false); err != nil {
		s.log.Error("cannot record a deletion in the index", "camera", c.camera, "error", err)
	}
	return seg
}

// Segments returns a camera's closed segments on every volume, oldest first.
func (s *Store) Segments(camera string) []Segment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Segment
	for _, v := range s.vols {
		if c := v.cams[camera]; c != nil {
			out = append(out, c.segs...)
		}
	}
	slices.SortFunc(out, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	return out
}

// LastSegment returns the camera's closed segment that started last, on
// any volume, without copying the others.
func (s *Store) LastSegment(camera string) (Segment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var last Segment
	found := false
	for _, v := range s.vols {
		if c := v.cams[camera]; c != nil && len(c.segs) > 0 {
			if seg := c.segs[len(c.segs)-1]; !found || seg.Start.After(last.Start) {
				last, found = seg, true
			}
		}
	}
	return last, found
}

// Cameras returns the names of the cameras with recordings or gaps.
func (s *Store) Cameras() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, v := range s.vols {
		for name := range v.cams {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// DailyBytes returns the bytes a camera recorded per UTC day ("2006-01-02"),
// counting segments retention has deleted since. A segment counts on the
// day it started.
func (s *Store) DailyBytes(camera string) map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for _, v := range s.vols {
		c := v.cams[camera]
		if c == nil {
			continue
		}
		for d, b := range c.days {
			out[d] += b
		}
		for _, seg := range c.segs {
			out[seg.Start.UTC().Format(time.DateOnly)] += seg.Bytes
		}
	}
	return out
}

// AddGap records a closed gap of a camera (durable).
func (s *Store) AddGap(g api.Gap) error {
	if err := validCamera(g.Camera); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("storage closed")
	}
	c, err := s.camera(s.pickVolume(g.Camera), g.Camera)
	if err != nil {
		return err
	}
	c.gaps = append(c.gaps, g)
	if len(c.gaps) > maxGaps {
		c.gaps = slices.Delete(c.gaps, 0, len(c.gaps)-maxGaps)
	}
	return c.appendRecord(indexRecord{Gap: &g}, true)
}

// Gaps returns a camera's recorded gaps, oldest first.
func (s *Store) Gaps(camera string) []api.Gap {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.Gap
	for _, v := range s.vols {
		if c := v.cams[camera]; c != nil {
			out = append(out, c.gaps...)
		}
	}
	slices.SortFunc(out, func(a, b api.Gap) int { return a.Start.Compare(b.Start) })
	return out
}

// retentionEvents raises storage.retention when a volume starts or stops
// keeping less than its max_age.
func (s *Store) retentionEvents() {
	type change struct {
		path  string
		short bool
		age   time.Duration
	}
	var changes []change
	s.mu.Lock()
	for _, v := range s.vols {
		if v.short != v.wasShort {
			v.wasShort = v.short
			changes = append(changes, change{v.Path, v.short, v.MaxAge})
		}
	}
	s.mu.Unlock()
	for _, c := range changes {
		if c.short {
			s.emit(spec.SeverityWarning, spec.EventStorageRetention, "", fmt.Sprintf("storage %s cannot keep max_age %s: recordings younger than that were deleted for room", c.path, c.age))
		} else {
			s.emit(spec.SeverityInfo, spec.EventStorageRetention, "", fmt.Sprintf("storage %s keeps max_age %s again", c.path, c.age))
		}
	}
}

// Usage reports every volume for the status API.
func (s *Store) Usage() []api.StorageState {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]api.StorageState, 0, len(s.vols))
	for _, v := range s.vols {
		st := api.StorageState{Path: v.Path, UsedBytes: v.used.Load(), HeldBytes: v.held.Load(), Full: v.full, RetentionShort: v.short, Oldest: v.oldest("")}
		if free, total, err := s.freeSpace(v.Path); err == nil {
			st.FreeBytes, st.TotalBytes = int64(free), int64(total)
		}
		out = append(out, st)
	}
	return out
}

var (
	descUsed    = prometheus.NewDesc("vigil_storage_used_bytes", "Bytes of recordings on the volume.", []string{"volume"}, nil)
	descFree    = prometheus.NewDesc("vigil_storage_free_bytes", "Free bytes of the volume's filesystem.", []string{"volume"}, nil)
	descHeld    = prometheus.NewDesc("vigil_storage_held_bytes", "Bytes of recordings on the volume that evidence holds keep from retention.", []string{"volume"}, nil)
	descFull    = prometheus.NewDesc("vigil_storage_full", "1 while writes to the volume fail because it is full.", []string{"volume"}, nil)
	descDeleted = prometheus.NewDesc("vigil_storage_deleted_segments_total", "Segments deleted by retention.", nil, nil)
)

// Describe implements prometheus.Collector.
func (s *Store) Describe(ch chan<- *prometheus.Desc) {
	ch <- descUsed
	ch <- descFree
	ch <- descFull
	ch <- descHeld
	ch <- descDeleted
}

// Collect implements prometheus.Collector.
func (s *Store) Collect(ch chan<- prometheus.Metric) {
	for _, u := range s.Usage() {
		full := 0.0
		if u.Full {
			full = 1
		}
		ch <- prometheus.MustNewConstMetric(descUsed, prometheus.GaugeValue, float64(u.UsedBytes), u.Path)
		ch <- prometheus.MustNewConstMetric(descFree, prometheus.GaugeValue, float64(u.FreeBytes), u.Path)
		ch <- prometheus.MustNewConstMetric(descFull, prometheus.GaugeValue, full, u.Path)
		ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, float64(u.HeldBytes), u.Path)
	}
	ch <- prometheus.MustNewConstMetric(descDeleted, prometheus.CounterValue, float64(s.deleted.Load()))
}

// String describes a segment for logs.
func (seg Segment) String() string {
	return fmt.Sprintf("%s %s..%s (%d bytes)", seg.Camera, seg.Start.UTC().Format(time.RFC3339), seg.End.UTC().Format(time.RFC3339), seg.Bytes)
}
