package agent

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
	"vigil/runtime/cluster"
)

// gapTracker keeps the site-wide gaps of every camera, as this agent
// observes them through gossip: a gap is a span in which no server of the
// site has media of the camera. Its times are those of the files, not of
// the observation:
//
//   - A suspect server's sessions count as recording: it may well be, and
//     a verdict is no evidence of a hole.
//   - A gap starts when the last recorders' media ends: for a server now
//     dead, when it last answered (cluster.Member.Heard; a killed server
//     also loses what it had not written, at most a part); for a session
//     that stopped, when its gossip said so.
//   - A gap ends where the new recorder's media starts (its session's
//     From): a takeover from a warm session starts with media held from
//     before the verdict, so the end may precede the observation, or even
//     the start. A gap whose end is not after its start was no gap: it is
//     never reported.
//   - So a gap is reported (gap.open) only once it has lasted confirm in
//     this agent's view, or when it closes; gap.closed always follows.
//   - A server that comes back with a recording whose media starts before
//     a gap (it was cut off, not down: both sides of a partition record)
//     recorded through it: the gap is retracted (gap.retracted) and
//     leaves the history.
//
// Closed gaps are kept, newest last, up to gapHistory per camera. Every
// agent observes; the site's history is the replicated one (see
// sitegaps.go): a closed gap stays unconfirmed here until the master has
// committed it (or another observer's record of it).
type gapTracker struct {
	confirm time.Duration

	mu      sync.Mutex
	seen    map[string]bool
	by      map[string]map[string]time.Time // camera → its recorders at the last pass that saw it recorded, with where their media starts
	pending map[string]*api.Gap             // not recorded in this agent's view, not reported yet
	noticed map[string]time.Time            // when each pending gap was first observed
	open    map[string]*api.Gap             // reported open
	history map[string][]api.Gap            // closed, oldest first
	// local is, per camera and server, the start of the last gap of the
	// server's own (api.Recorder.GapFrom) looked at; since is when this
	// tracker first observed.
	local map[string]time.Time
	since time.Time
	// unconfirmed are the closed gaps not yet in the site's committed
	// history, oldest first (at most gapHistory): this agent gossips them
	// so that the master commits them, even those seen while the site had
	// no master.
	unconfirmed []api.Gap
}

// gapHistory bounds the closed gaps kept per camera.
const gapHistory = 100

func newGapTracker(confirm time.Duration) *gapTracker {
	return &gapTracker{confirm: confirm, seen: map[string]bool{}, by: map[string]map[string]time.Time{}, pending: map[string]*api.Gap{},
		noticed: map[string]time.Time{}, open: map[string]*api.Gap{}, history: map[string][]api.Gap{}, local: map[string]time.Time{}}
}

// gapConfirm is how long a camera must stay unrecorded in an agent's view
// before its gap is reported while still open: a takeover normally closes
// it sooner, and then its true length is known.
func gapConfirm(keepalive time.Duration) time.Duration { return max(2*keepalive, time.Second) }

// pendingGaps tells whether a gap waits for confirmation, so that the
// reconcile loop observes again even when nothing else changed.
func (g *gapTracker) pendingGaps() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending) > 0
}

// hasUnconfirmed tells whether a closed gap waits for the site's history.
func (g *gapTracker) hasUnconfirmed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.unconfirmed) > 0
}

// observe updates the gaps from one reconcile pass (sessions: every
// session of alive and suspect servers, by camera; heard: when each member
// last answered) and returns the gaps reported open, closed and retracted
// in it.
func (g *gapTracker) observe(spec *spec.Site, res assign.Result, health map[string]assign.Member, sessions map[string][]api.Recorder, heard map[string]time.Time, now time.Time) (opened, closed, retracted []api.Gap) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.since.IsZero() {
		g.since = now
	}
	names := map[string]bool{}
	for _, c := range spec.Cameras {
		names[c.Name] = true
		by := map[string]time.Time{}    // recorder → where its media starts
		var from time.Time              // the earliest of those
		var failing api.GapCause        // the recorder's own cause, when a session fails
		until := map[string]time.Time{} // failing recorder → where its media ended
		for _, r := range sessions[c.Name] {
			switch r.State {
			case sessionRecording:
				f := r.From
				if f.IsZero() {
					f = r.Since
				}
				by[r.Server] = f
				if from.IsZero() || f.Before(from) {
					from = f
				}
			case sessionFailing:
				if failing = r.Cause; failing == "" {
					failing = api.CauseUnreachable // a peer that does not say why
				}
				if !r.Until.IsZero() {
					until[r.Server] = r.Until
				}
			}
		}
		if len(by) > 0 {
			retracted = append(retracted, g.retract(c.Name, from)...)
			end := now
			if !from.IsZero() && from.Before(now) {
				end = from
			}
			// A recorder that left while others record: their media must
			// reach back to where its media ended (a fast camera's backup
			// takes over on suspicion, before the server is dead).
			if last, left := g.ended(c.Name, by, until, health, heard, now); left && end.After(last) &&
				g.open[c.Name] == nil && g.pending[c.Name] == nil {
				gap := api.Gap{Camera: c.Name, Start: last, End: end, Cause: gapCause(res.Cameras[c.Name], health, failing)}
				opened = append(opened, api.Gap{Camera: gap.Camera, Start: gap.Start, Cause: gap.Cause})
				closed = append(closed, gap)
				g.keep(gap)
			}
			if gap, ok := g.ownGap(c.Name, sessions[c.Name], by); ok {
				opened = append(opened, api.Gap{Camera: gap.Camera, Start: gap.Start, Cause: gap.Cause})
				closed = append(closed, gap)
				g.keep(gap)
			}
			g.seen[c.Name] = true
			g.by[c.Name] = by
			if gap := g.open[c.Name]; gap != nil {
				gap.End = end
				if end.Before(gap.Start) {
					gap.End = gap.Start
				}
				closed = append(closed, *gap)
				g.keep(*gap)
				delete(g.open, c.Name)
			} else if gap := g.pending[c.Name]; gap != nil {
				if end.After(gap.Start) {
					opened = append(opened, *gap)
					gap.End = end
					closed = append(closed, *gap)
					g.keep(*gap)
				}
				delete(g.pending, c.Name)
				delete(g.noticed, c.Name)
			}
			continue
		}
		if !g.seen[c.Name] {
			continue
		}
		// A failing recorder's last part may reach its file after it said
		// it fails: the gap starts where its media ends now.
		var later time.Time
		for srv, u := range until {
			if _, was := g.by[c.Name][srv]; was && u.After(later) && u.Before(now) {
				later = u
			}
		}
		gap := g.open[c.Name]
		if gap == nil {
			gap = g.pending[c.Name]
		}
		if gap != nil {
			if later.After(gap.Start) {
				gap.Start = later
			}
			if g.open[c.Name] != nil {
				continue
			}
		} else {
			gap = &api.Gap{Camera: c.Name, Start: g.lastMedia(c.Name, until, health, heard, now), Cause: gapCause(res.Cameras[c.Name], health, failing)}
			g.pending[c.Name], g.noticed[c.Name] = gap, now
		}
		if now.Sub(g.noticed[c.Name]) >= g.confirm {
			g.open[c.Name] = gap
			opened = append(opened, *gap)
			delete(g.pending, c.Name)
			delete(g.noticed, c.Name)
		}
	}
	for name := range g.seen {
		if !names[name] {
			delete(g.seen, name)
			delete(g.by, name)
			delete(g.pending, name)
			delete(g.noticed, name)
			delete(g.open, name)
			delete(g.history, name)
		}
	}
	for key := range g.local {
		if cam, _, _ := strings.Cut(key, "\x00"); !names[cam] {
			delete(g.local, key)
		}
	}
	return opened, closed, retracted
}

// ownGap finds a site gap in a recorder's own last gap (GapFrom to From:
// a dropped stream that reconnected between two passes, a restart): the
// part of it that no other recorder, now or at the last pass, covered. A
// recorder's gap is looked at once, and only when it ended after this
// tracker started. Called with g.mu held, before g.by takes by.
func (g *gapTracker) ownGap(camera string, recs []api.Recorder, by map[string]time.Time) (api.Gap, bool) {
	for _, r := range recs {
		if r.State != sessionRecording || r.GapFrom.IsZero() || !r.GapFrom.Before(r.From) {
			continue
		}
		key := camera + "\x00" + r.Server
		if g.local[key].Equal(r.GapFrom) {
			continue
		}
		g.local[key] = r.GapFrom
		if !r.From.After(g.since) {
			continue
		}
		gap := api.Gap{Camera: camera, Start: r.GapFrom, End: r.From, Cause: r.Cause}
		covered := false
		for _, others := range []map[string]time.Time{by, g.by[camera]} {
			for srv, f := range others {
				switch {
				case srv == r.Server || !f.Before(gap.End):
				case !f.After(gap.Start):
					covered = true
				default:
					gap.End, gap.Cause = f, api.CauseServerFailure // the camera moved
				}
			}
		}
		if gap.Cause == "" {
			gap.Cause = api.CauseNotRecorded
		}
		overlaps := func(x api.Gap) bool { return cluster.Overlaps(x, gap) }
		if covered || slices.ContainsFunc(g.history[camera], overlaps) || g.open[camera] != nil && overlaps(*g.open[camera]) ||
			g.pending[camera] != nil && overlaps(*g.pending[camera]) {
			continue
		}
		return gap, true
	}
	return api.Gap{}, false
}

// retract removes the gaps of a camera that a recording whose media
// starts at from covers (it is still recording, so it covers everything
// since from). Called with g.mu held.
func (g *gapTracker) retract(camera string, from time.Time) []api.Gap {
	if from.IsZero() {
		return nil
	}
	var out []api.Gap
	if gap := g.open[camera]; gap != nil && !gap.Start.Before(from) {
		out = append(out, *gap)
		delete(g.open, camera)
	}
	h := g.history[camera]
	kept := h[:0]
	for _, gap := range h {
		if gap.Start.Before(from) {
			kept = append(kept, gap)
		} else {
			out = append(out, gap)
		}
	}
	g.history[camera] = kept
	if len(out) > 0 {
		g.unconfirmed = slices.DeleteFunc(g.unconfirmed, func(gap api.Gap) bool { return gap.Camera == camera && !gap.Start.Before(from) })
	}
	return out
}

// lastMedia is when the camera's last recorders' media ends (see ended).
// Called with g.mu held.
func (g *gapTracker) lastMedia(camera string, until map[string]time.Time, health map[string]assign.Member, heard map[string]time.Time, now time.Time) time.Time {
	if last, left := g.ended(camera, nil, until, health, heard, now); left {
		return last
	}
	return now
}

// ended tells whether recorders of the last pass no longer record the
// camera (are not in by), and when the last of their media ends: a failing
// session's last frame (until), a dead server's last answer, else now (its
// gossip just said it stopped). Called with g.mu held.
func (g *gapTracker) ended(camera string, by, until map[string]time.Time, health map[string]assign.Member, heard map[string]time.Time, now time.Time) (last time.Time, left bool) {
	for srv := range g.by[camera] {
		if _, still := by[srv]; still {
			continue
		}
		left = true
		t := now
		if u, ok := until[srv]; ok && u.Before(now) {
			t = u
		} else if h := health[srv].Health; h != api.HealthAlive && h != api.HealthSuspect {
			if hd := heard[srv]; !hd.IsZero() && hd.Before(now) {
				t = hd
			}
		}
		if t.After(last) {
			last = t
		}
	}
	return last, left
}

// gapCause says why a camera is not recorded: the failing recorder's own
// cause, else a server failure when its servers are down, else not
// recorded (api.GapCause is the recorder's vocabulary).
func gapCause(d assign.Camera, health map[string]assign.Member, failing api.GapCause) api.GapCause {
	switch {
	case failing != "":
		return failing
	case d.State == api.CameraDark || d.State == api.CameraUncovered || d.State == api.CameraCovered:
		return api.CauseServerFailure
	}
	for _, r := range d.Recorders {
		if health[r.Server].Health != api.HealthAlive {
			return api.CauseServerFailure
		}
	}
	return api.CauseNotRecorded
}

// keep adds a closed gap to the history. Called with g.mu held.
func (g *gapTracker) keep(gap api.Gap) {
	h := append(g.history[gap.Camera], gap)
	if len(h) > gapHistory {
		h = slices.Delete(h, 0, len(h)-gapHistory)
	}
	g.history[gap.Camera] = h
	if gap.End.After(gap.Start) {
		g.unconfirmed = append(g.unconfirmed, gap)
	}
	if len(g.unconfirmed) > gapHistory {
		g.unconfirmed = slices.Delete(g.unconfirmed, 0, len(g.unconfirmed)-gapHistory)
	}
}

// unconfirmedFor bounds how long a closed gap waits for the site's
// history (a master that refuses it, or a site without a master that long).
const unconfirmedFor = 24 * time.Hour

// unreported drops the unconfirmed gaps that the committed history holds (a
// record overlapping them, this agent's or another observer's) or that
// waited unconfirmedFor, and returns those left.
func (g *gapTracker) unreported(committed func(camera string) []api.Gap, now time.Time) []api.Gap {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unconfirmed = slices.DeleteFunc(g.unconfirmed, func(gap api.Gap) bool {
		return now.Sub(gap.End) > unconfirmedFor ||
			slices.ContainsFunc(committed(gap.Camera), func(c api.Gap) bool { return cluster.Overlaps(c, gap) })
	})
	return slices.Clone(g.unconfirmed)
}

// recordedSince tells whether a camera is recorded now in this agent's
// view, and since when its recorders' media runs without a break (the
// earliest start of a current recorder's media).
func (g *gapTracker) recordedSince(camera string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.seen[camera] || g.open[camera] != nil || g.pending[camera] != nil || len(g.by[camera]) == 0 {
		return time.Time{}, false
	}
	var from time.Time
	for _, f := range g.by[camera] {
		if from.IsZero() || f.Before(from) {
			from = f
		}
	}
	return from, !from.IsZero()
}

// lastUnconfirmed returns the newest unconfirmed gap of a camera.
func (g *gapTracker) lastUnconfirmed(camera string) (api.Gap, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := len(g.unconfirmed) - 1; i >= 0; i-- {
		if g.unconfirmed[i].Camera == camera {
			return g.unconfirmed[i], true
		}
	}
	return api.Gap{}, false
}

// openGap returns the camera's gap reported open, or nil.
func (g *gapTracker) openGap(camera string) *api.Gap {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gap := g.open[camera]; gap != nil {
		c := *gap
		return &c
	}
	return nil
}

// openGaps returns the gaps reported open of a camera ("" for every
// camera).
func (g *gapTracker) openGaps(camera string) []api.Gap {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []api.Gap
	for name, gap := range g.open {
		if camera == "" || name == camera {
			out = append(out, *gap)
		}
	}
	return out
}

// gapEvents raises the events of the gaps a pass reported.
func (a *Agent) gapEvents(opened, closed, retracted []api.Gap) {
	for _, g := range opened {
		a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventGapOpen, Camera: g.Camera, Gap: &g,
			Message: fmt.Sprintf("%s is not recorded anywhere in the site since %s (%s)", g.Camera, g.Start.Format("15:04:05.000"), g.Cause)})
	}
	for _, g := range closed {
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventGapClosed, Camera: g.Camera, Gap: &g,
			Message: fmt.Sprintf("%s is recorded again after a gap of %s, %s to %s (%s)", g.Camera, g.End.Sub(g.Start).Round(10*time.Millisecond),
				g.Start.Format("15:04:05.000"), g.End.Format("15:04:05.000"), g.Cause)})
	}
	for _, g := range retracted {
		a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventGapRetracted, Camera: g.Camera, Gap: &g,
			Message: fmt.Sprintf("%s was recorded after all from %s (a server that was cut off, not down, kept recording it): no gap", g.Camera, g.Start.Format("15:04:05.000"))})
	}
}

// handleGaps serves GET /v1/gaps?camera=NAME: the site's gap history and
// the gaps open now (every camera without camera=), oldest first.
func (a *Agent) handleGaps(w http.ResponseWriter, r *http.Request) {
	out := a.siteGaps(r.URL.Query().Get("camera"))
	if out == nil {
		out = []api.Gap{}
	}
	writeJSON(w, http.StatusOK, out)
}
