package storage

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"vigil/hcl/spec"
)

// WithHolds sets the evidence holds in force from the start, before the
// first retention run.
func WithHolds(holds []*spec.Hold) Option { return func(s *Store) { s.holds = slices.Clone(holds) } }

// SetHolds replaces the evidence holds (the committed spec's): retention
// never deletes a segment that overlaps an active hold of its camera.
func (s *Store) SetHolds(holds []*spec.Hold) {
	s.mu.Lock()
	s.holds = slices.Clone(holds)
	s.mu.Unlock()
}

// heldIndex says which segments the active holds keep, for one retention
// run: per camera, the merged periods of the holds naming it.
type heldIndex struct {
	active  []*spec.Hold
	periods map[string][]spec.Hold
}

func newHeldIndex(holds []*spec.Hold, now time.Time) *heldIndex {
	h := &heldIndex{periods: map[string][]spec.Hold{}}
	for _, x := range holds {
		if x.Active(now) {
			h.active = append(h.active, x)
		}
	}
	return h
}

// of returns the camera's held periods, sorted and merged, so that each
// segment is tested against few of them.
func (h *heldIndex) of(camera string) []spec.Hold {
	if len(h.active) == 0 {
		return nil
	}
	if p, ok := h.periods[camera]; ok {
		return p
	}
	var ps []spec.Hold
	for _, x := range h.active {
		if x.MatchesCamera(camera) {
			ps = append(ps, spec.Hold{From: x.From, To: x.To})
		}
	}
	slices.SortFunc(ps, func(a, b spec.Hold) int { return a.From.Compare(b.From) })
	var merged []spec.Hold
	for _, p := range ps {
		if n := len(merged); n > 0 && !p.From.After(merged[n-1].To) {
			if p.To.After(merged[n-1].To) {
				merged[n-1].To = p.To
			}
			continue
		}
		merged = append(merged, p)
	}
	h.periods[camera] = merged
	return merged
}

// firstUnheld is the index of the camera's first segment that no active
// hold keeps, len(c.segs) when there is none. A held run of segments is
// skipped in one binary search, so a long hold costs little per run.
func (h *heldIndex) firstUnheld(c *camIndex) int {
	ps := h.of(c.camera)
	i := 0
	for i < len(c.segs) {
		seg := c.segs[i]
		k := slices.IndexFunc(ps, func(p spec.Hold) bool { return p.Overlaps(seg.Start, seg.End) })
		if k < 0 {
			return i
		}
		// The segments after this one that start before the period ends
		// are in it too (a camera's segments follow each other).
		j, _ := slices.BinarySearchFunc(c.segs[i+1:], ps[k].To, startCmp)
		i += 1 + j
	}
	return i
}

// volumeBytes is the size of the segments of a volume that the active
// holds keep. Each camera's share is kept up to date as segments close
// (addHeld), so it is summed afresh only when the active holds change (one
// walk of the held segments, not one per run). Called with s.mu held.
func (h *heldIndex) volumeBytes(v *volume) int64 {
	key := h.key()
	fresh := key != v.heldKey
	v.heldKey = key
	var n int64
	for _, c := range v.cams {
		if fresh {
			c.held = h.cameraBytes(c)
		}
		n += c.held
	}
	return n
}

// key identifies the active holds: the camera shares computed for one key
// stand while it does.
func (h *heldIndex) key() string {
	var b strings.Builder
	for _, x := range h.active {
		fmt.Fprintf(&b, "%s|%v|%d|%d\n", x.Name, x.Cameras, x.From.UnixNano(), x.To.UnixNano())
	}
	return b.String()
}

// cameraBytes is the size of a camera's segments that the active holds
// keep.
func (h *heldIndex) cameraBytes(c *camIndex) int64 {
	var n int64
	next := 0 // a segment in two periods counts once
	for _, p := range h.of(c.camera) {
		lo, hi := candidates(c.segs, &p)
		for i := max(lo, next); i < hi; i++ {
			if p.Overlaps(c.segs[i].Start, c.segs[i].End) {
				n += c.segs[i].Bytes
			}
		}
		next = max(next, hi)
	}
	return n
}

// addHeld counts a newly closed segment in its camera's held bytes when an
// active hold keeps it. Called with s.mu held.
func (s *Store) addHeld(c *camIndex, seg Segment) {
	now := s.now()
	for _, x := range s.holds {
		if x.Active(now) && x.MatchesCamera(seg.Camera) && x.Overlaps(seg.Start, seg.End) {
			c.held += seg.Bytes
			return
		}
	}
}

func startCmp(a Segment, t time.Time) int { return a.Start.Compare(t) }

// candidates is the range of segs (sorted by start) that may overlap the
// hold's period: from the last one starting before it (which may reach
// into it) to the last one starting inside it.
func candidates(segs []Segment, h *spec.Hold) (lo, hi int) {
	lo, _ = slices.BinarySearchFunc(segs, h.From, startCmp)
	if lo > 0 {
		lo--
	}
	hi, _ = slices.BinarySearchFunc(segs, h.To, startCmp)
	return lo, max(lo, hi)
}

// HeldFootage is what a server has of one hold's period: the closed
// segments of its cameras that overlap it, which retention keeps while the
// hold is active.
type HeldFootage struct {
	Hold     string
	Cameras  []string // with footage in the period, sorted
	Segments int
	Bytes    int64
	// First and Last bound the footage found (zero without any).
	First, Last time.Time
}

// Footage reports, for each hold, the footage of this server that it
// covers, whether or not the hold is active now.
func (s *Store) Footage(holds []*spec.Hold) []HeldFootage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]HeldFootage, len(holds))
	for k, h := range holds {
		f := HeldFootage{Hold: h.Name}
		for _, v := range s.vols {
			for name, c := range v.cams {
				if !h.MatchesCamera(name) {
					continue
				}
				lo, hi := candidates(c.segs, h)
				found := false
				for _, seg := range c.segs[lo:hi] {
					if !h.Overlaps(seg.Start, seg.End) {
						continue
					}
					found = true
					f.Segments++
					f.Bytes += seg.Bytes
					if f.First.IsZero() || seg.Start.Before(f.First) {
						f.First = seg.Start
					}
					if seg.End.After(f.Last) {
						f.Last = seg.End
					}
				}
				if found && !slices.Contains(f.Cameras, name) {
					f.Cameras = append(f.Cameras, name)
				}
			}
		}
		slices.Sort(f.Cameras)
		out[k] = f
	}
	return out
}

// heldText describes the footage holds keep on a volume, for events.
func heldText(bytes int64) string {
	return fmt.Sprintf("%s held", spec.FormatSize(float64(bytes)))
}
