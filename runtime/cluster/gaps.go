package cluster

import (
	"cmp"
	"context"
	"slices"
	"time"

	"vigil/runtime/api"
)

// The site's gap history is replicated: the master commits the closed
// site-wide gaps its agents observed (a span in which no server of the
// site had media of a camera), so that every server answers with the same
// history, it outlasts restarts, and the footage listing reads it. A gap
// recorded again (another observer, a new master) replaces the record it
// overlaps; a retraction (the camera was recorded through it after all)
// removes the records it overlaps.
const (
	cmdRecordGaps  = "record_gaps"
	cmdRecordGapsV = 1

	// GapHistory bounds the gaps kept per camera: past it, the oldest go.
	GapHistory = 100
)

type recordGapsBody struct {
	Closed    []api.Gap `json:"closed,omitempty"`
	Retracted []api.Gap `json:"retracted,omitempty"`
}

// RecordGaps commits closed gaps and retractions. Master only.
func (c *Cluster) RecordGaps(ctx context.Context, closed, retracted []api.Gap) error {
	_, err := c.applyCmd(ctx, cmdRecordGaps, cmdRecordGapsV, recordGapsBody{Closed: closed, Retracted: retracted})
	return err
}

// Gaps returns the committed gaps of a camera ("" for every camera),
// oldest first.
func (c *Cluster) Gaps(camera string) []api.Gap { return c.fsm.gapsOf(camera) }

// LastGap returns the newest committed gap of a camera.
func (c *Cluster) LastGap(camera string) (api.Gap, bool) {
	c.fsm.mu.RLock()
	defer c.fsm.mu.RUnlock()
	h := c.fsm.gaps[camera]
	if len(h) == 0 {
		return api.Gap{}, false
	}
	return h[len(h)-1], true
}

// GapsFrom returns the committed gaps of a camera that start at or after
// from, oldest first.
func (c *Cluster) GapsFrom(camera string, from time.Time) []api.Gap {
	c.fsm.mu.RLock()
	defer c.fsm.mu.RUnlock()
	h := c.fsm.gaps[camera]
	i, _ := slices.BinarySearchFunc(h, from, func(g api.Gap, t time.Time) int { return g.Start.Compare(t) })
	return slices.Clone(h[i:])
}

// Overlaps tells whether two gaps of a camera share some time; an open gap
// (zero End) reaches forever.
func Overlaps(a, b api.Gap) bool {
	if a.Camera != b.Camera {
		return false
	}
	return (a.End.IsZero() || b.Start.Before(a.End)) && (b.End.IsZero() || a.Start.Before(b.End))
}

// recordGaps applies a record_gaps entry. Called with f.mu held.
func (f *fsm) recordGaps(b recordGapsBody) {
	if f.gaps == nil {
		f.gaps = map[string][]api.Gap{}
	}
	for _, r := range b.Retracted {
		f.gaps[r.Camera] = slices.DeleteFunc(f.gaps[r.Camera], func(g api.Gap) bool { return Overlaps(g, r) })
		if len(f.gaps[r.Camera]) == 0 {
			delete(f.gaps, r.Camera)
		}
	}
	for _, g := range b.Closed {
		if g.Camera == "" || !g.End.After(g.Start) {
			continue
		}
		h := slices.DeleteFunc(f.gaps[g.Camera], func(old api.Gap) bool { return Overlaps(old, g) })
		i, _ := slices.BinarySearchFunc(h, g, func(a, b api.Gap) int { return a.Start.Compare(b.Start) })
		h = slices.Insert(h, i, g)
		if len(h) > GapHistory {
			h = slices.Delete(h, 0, len(h)-GapHistory)
		}
		f.gaps[g.Camera] = h
	}
}

// pruneGaps drops the history of cameras no longer in the spec. Called
// with f.mu held.
func (f *fsm) pruneGaps(keep func(camera string) bool) {
	for cam := range f.gaps {
		if !keep(cam) {
			delete(f.gaps, cam)
		}
	}
}

func (f *fsm) gapsOf(camera string) []api.Gap {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if camera != "" {
		return slices.Clone(f.gaps[camera])
	}
	var out []api.Gap
	for _, h := range f.gaps {
		out = append(out, h...)
	}
	slices.SortFunc(out, func(a, b api.Gap) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Camera, b.Camera)
	})
	return out
}

// gapsFromSnapshot rebuilds the history from a snapshot's list.
func gapsFromSnapshot(list []api.Gap) map[string][]api.Gap {
	out := map[string][]api.Gap{}
	for _, g := range list {
		out[g.Camera] = append(out[g.Camera], g)
	}
	for cam := range out {
		slices.SortFunc(out[cam], func(a, b api.Gap) int { return a.Start.Compare(b.Start) })
	}
	return out
}
