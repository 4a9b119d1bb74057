// Package footage stitches a camera's timeline across the servers of a site:
// the pieces of media each server holds and the gaps its recorder stored
// become one list of spans and gaps with causes. It is pure: no I/O, no
// clock (now is an argument); the agent gathers the inputs from its own
// store and its peers.
//
// # Rules
//
//   - A span is a maximal run of time in which at least one server has
//     media. Pieces closer than Join are one run: segments of one recording
//     abut to within rounding. Overlapping or abutting copies on several
//     servers (constant redundancy, a partition, a make-before-break
//     handover) are one span listing every server.
//   - Spans and gaps tile the period from its start to its end or now,
//     whichever is first; the future is neither.
//   - A gap's cause is the cause a recorder stored for it (camera
//     unreachable, storage, ...) that covers most of it. Where none did, or
//     only a restart: a gap between media on different servers is a
//     "server failure" (a server died and another took the camera over); a
//     restart alone is a "restart"; where a server that may hold footage did
//     not answer, "unknown"; otherwise "not recorded" (api.GapCause).
//   - Bytes are prorated: a piece the period cuts counts for the share of
//     its time inside the period. Peers Clip before they Coalesce, so that
//     runs carry the same bytes the segments would.
package footage

import (
	"cmp"
	"slices"
	"time"

	"vigil/runtime/api"
)

// Join is the largest hole between two pieces that is not a gap: the
// rounding between the segments of one recording (their times are
// wall-clock anchored media times), well under a frame at 10 fps.
const Join = 100 * time.Millisecond

// Clip cuts pieces to [start, end), dropping those outside it and prorating
// the bytes of those it cuts. The result is sorted by start.
func Clip(pieces []api.Piece, start, end time.Time) []api.Piece {
	out := make([]api.Piece, 0, len(pieces))
	for _, p := range pieces {
		if p, ok := ClipOne(p, start, end); ok {
			out = append(out, p)
		}
	}
	sortPieces(out)
	return out
}

// ClipOne is Clip of one piece; ok is false when none of it is left.
func ClipOne(p api.Piece, start, end time.Time) (api.Piece, bool) {
	if !p.End.After(start) || !p.Start.Before(end) || !p.End.After(p.Start) {
		return p, false
	}
	if p.Start.Before(start) || p.End.After(end) {
		whole := p.End.Sub(p.Start)
		p.Start, p.End = maxTime(p.Start, start), minTime(p.End, end)
		p.Bytes = int64(float64(p.Bytes) * float64(p.End.Sub(p.Start)) / float64(whole))
	}
	return p, true
}

// Coalesce joins the pieces of one server into runs: pieces that overlap or
// lie within Join of each other become one piece, without a path, whose
// bytes are their sum. The input must be sorted by start (Clip sorts).
func Coalesce(pieces []api.Piece) []api.Piece {
	var out []api.Piece
	for _, p := range pieces {
		out = AppendRun(out, p)
	}
	return out
}

// AppendRun adds a piece of one server, starting no earlier than the
// pieces before it, to runs (see Coalesce).
func AppendRun(runs []api.Piece, p api.Piece) []api.Piece {
	if n := len(runs); n > 0 && runs[n-1].Server == p.Server && !p.Start.After(runs[n-1].End.Add(Join)) {
		runs[n-1].End = maxTime(runs[n-1].End, p.End)
		runs[n-1].Bytes += p.Bytes
		runs[n-1].Open = runs[n-1].Open || p.Open
		return runs
	}
	p.Path, p.SHA256 = "", ""
	return append(runs, p)
}

// Input is what Merge stitches.
type Input struct {
	Start, End time.Time
	// Now bounds the timeline: nothing after it is a gap yet.
	Now time.Time
	// Pieces are every server's media, in any order.
	Pieces []api.Piece
	// Gaps are the gaps the servers' recorders stored, in any order.
	Gaps []api.Gap
	// Missing names the servers that may hold footage but did not answer.
	Missing []string
}

// Timeline is a camera's spans and gaps over a period, in time order.
type Timeline struct {
	Spans []api.Span
	Gaps  []api.TimelineGap
}

// Merge stitches the pieces and stored gaps of every server into one
// timeline (see the package's rules).
func Merge(in Input) Timeline {
	end := in.End
	if !in.Now.IsZero() && in.Now.Before(end) {
		end = in.Now
	}
	tl := Timeline{Spans: []api.Span{}, Gaps: []api.TimelineGap{}}
	if !end.After(in.Start) {
		return tl
	}
	pieces := Clip(in.Pieces, in.Start, end)
	live := false // the last span holds a segment being written
	// The servers whose media starts or ends a span: a gap between
	// different ones is a server switch.
	var heads, tails [][]string
	for _, p := range pieces {
		if n := len(tl.Spans); n > 0 && !p.Start.After(tl.Spans[n-1].End.Add(Join)) {
			live = live || p.Open
			sp := &tl.Spans[n-1]
			switch {
			case p.End.After(sp.End.Add(Join)):
				tails[n-1] = []string{p.Server}
			case !p.End.Before(sp.End.Add(-Join)) && !slices.Contains(tails[n-1], p.Server):
				tails[n-1] = append(tails[n-1], p.Server)
			}
			if p.Start.Sub(sp.Start) <= Join && !slices.Contains(heads[n-1], p.Server) {
				heads[n-1] = append(heads[n-1], p.Server)
			}
			sp.End = maxTime(sp.End, p.End)
			sp.Bytes += p.Bytes
			if !slices.Contains(sp.Servers, p.Server) {
				sp.Servers = append(sp.Servers, p.Server)
			}
			continue
		}
		tl.Spans = append(tl.Spans, api.Span{Start: p.Start, End: p.End, Servers: []string{p.Server}, Bytes: p.Bytes})
		heads, tails = append(heads, []string{p.Server}), append(tails, []string{p.Server})
		live = p.Open
	}
	for i := range tl.Spans {
		slices.Sort(tl.Spans[i].Servers)
	}
	// Spans that begin or end within Join of the period's edges reach them.
	if n := len(tl.Spans); n > 0 {
		if tl.Spans[0].Start.Sub(in.Start) <= Join {
			tl.Spans[0].Start = in.Start
		}
		if end.Sub(tl.Spans[n-1].End) <= Join {
			tl.Spans[n-1].End = end
		}
	}
	gaps := slices.Clone(in.Gaps)
	slices.SortFunc(gaps, func(a, b api.Gap) int { return a.Start.Compare(b.Start) })
	hole := func(from, to time.Time, before, after []string) {
		tl.Gaps = append(tl.Gaps, api.TimelineGap{Start: from, End: to, Cause: cause(from, to, before, after, gaps, in.Missing)})
	}
	at := in.Start
	var before []string
	for i, sp := range tl.Spans {
		if sp.Start.After(at) {
			hole(at, sp.Start, before, heads[i])
		}
		at, before = sp.End, tails[i]
	}
	if end.After(at) && !live {
		hole(at, end, before, nil)
	}
	return tl
}

// Days splits the runs of media of one camera (every server's, any order)
// into the days of loc they fall on, oldest first: the time with media on
// at least one server, its share of the day, and the servers.
func Days(pieces []api.Piece, loc *time.Location) []api.RecordingDay {
	if len(pieces) == 0 {
		return []api.RecordingDay{}
	}
	first, last := pieces[0].Start, pieces[0].End
	for _, p := range pieces {
		first, last = minTime(first, p.Start), maxTime(last, p.End)
	}
	tl := Merge(Input{Start: first, End: last, Pieces: pieces})
	var out []api.RecordingDay
	index := map[string]int{}
	// each calls fn for every day of loc that [from, to) touches.
	each := func(from, to time.Time, fn func(day *api.RecordingDay, from, to time.Time, length time.Duration)) {
		for t := from; t.Before(to); {
			y, m, d := t.In(loc).Date()
			dayStart := time.Date(y, m, d, 0, 0, 0, 0, loc)
			dayEnd := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
			date := dayStart.Format(time.DateOnly)
			i, ok := index[date]
			if !ok {
				i = len(out)
				index[date] = i
				out = append(out, api.RecordingDay{Date: date, Servers: []string{}})
			}
			next := minTime(to, dayEnd)
			fn(&out[i], t, next, dayEnd.Sub(dayStart))
			t = next
		}
	}
	for _, sp := range tl.Spans {
		each(sp.Start, sp.End, func(day *api.RecordingDay, from, to time.Time, length time.Duration) {
			day.RecordedSeconds += to.Sub(from).Seconds()
			day.Coverage = day.RecordedSeconds / length.Seconds()
		})
	}
	for _, p := range pieces {
		each(p.Start, p.End, func(day *api.RecordingDay, _, _ time.Time, _ time.Duration) {
			if !slices.Contains(day.Servers, p.Server) {
				day.Servers = append(day.Servers, p.Server)
				slices.Sort(day.Servers)
			}
		})
	}
	return out
}

// cause names why no server has media in [from, to): before and after are
// the servers of the spans around it (nil at the period's edges).
func cause(from, to time.Time, before, after []string, gaps []api.Gap, missing []string) api.GapCause {
	best, bestOverlap, restart := api.GapCause(""), time.Duration(0), false
	for _, g := range gaps {
		if !g.Start.Before(to) {
			break
		}
		gEnd := g.End
		if gEnd.IsZero() {
			gEnd = to // still open
		}
		overlap := minTime(gEnd, to).Sub(maxTime(g.Start, from))
		if overlap <= 0 || g.Cause == "" {
			continue
		}
		if g.Cause == api.CauseRestart {
			restart = true
			continue
		}
		if overlap > bestOverlap {
			best, bestOverlap = g.Cause, overlap
		}
	}
	switch {
	case best != "":
		return best
	case before != nil && after != nil && !shareAny(before, after):
		return api.CauseServerFailure
	case restart:
		return api.CauseRestart
	case len(missing) > 0:
		return api.CauseUnknown
	}
	return api.CauseNotRecorded
}

func shareAny(a, b []string) bool {
	for _, s := range a {
		if slices.Contains(b, s) {
			return true
		}
	}
	return false
}

func sortPieces(p []api.Piece) {
	slices.SortFunc(p, func(a, b api.Piece) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		if c := a.End.Compare(b.End); c != 0 {
			return c
		}
		return cmp.Compare(a.Server, b.Server)
	})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
