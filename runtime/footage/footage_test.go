package footage

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"vigil/runtime/api"
)

var t0 = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func piece(server string, from, to float64, bytes int64) api.Piece {
	return api.Piece{Server: server, Start: at(from), End: at(to), Bytes: bytes}
}

func TestMergeFailover(t *testing.T) {
	// rec-1 records until 100 s and dies; rec-2 takes over at 103 s; rec-1
	// comes back and gets the camera back make-before-break at 200 s. The
	// camera itself was unreachable from 300 to 320 s.
	in := Input{
		Start: at(0), End: at(400), Now: at(1000),
		Pieces: []api.Piece{
			piece("rec-1", 0, 60, 600), piece("rec-1", 60, 100, 400),
			piece("rec-2", 103, 163, 600), piece("rec-2", 163, 201, 380),
			piece("rec-1", 199, 300, 1010), piece("rec-1", 320, 400, 800),
		},
		Gaps: []api.Gap{
			{Camera: "c", Server: "rec-1", Start: at(100), End: at(199), Cause: api.CauseRestart},
			{Camera: "c", Server: "rec-1", Start: at(300), End: at(320), Cause: api.CauseUnreachable},
		},
	}
	got := Merge(in)
	want := Timeline{
		Spans: []api.Span{
			{Start: at(0), End: at(100), Servers: []string{"rec-1"}, Bytes: 1000},
			{Start: at(103), End: at(300), Servers: []string{"rec-1", "rec-2"}, Bytes: 1990},
			{Start: at(320), End: at(400), Servers: []string{"rec-1"}, Bytes: 800},
		},
		Gaps: []api.TimelineGap{
			{Start: at(100), End: at(103), Cause: api.CauseServerFailure},
			{Start: at(300), End: at(320), Cause: api.CauseUnreachable},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("timeline (-want +got):\n%s", d)
	}
}

func TestMergeEdgesNowAndMissing(t *testing.T) {
	in := Input{
		Start: at(0), End: at(100), Now: at(50),
		Pieces:  []api.Piece{piece("rec-1", -30, 30, 600)}, // cut in half by the start
		Missing: []string{"rec-3"},
	}
	want := Timeline{
		Spans: []api.Span{{Start: at(0), End: at(30), Servers: []string{"rec-1"}, Bytes: 300}},
		Gaps:  []api.TimelineGap{{Start: at(30), End: at(50), Cause: api.CauseUnknown}},
	}
	if d := cmp.Diff(want, Merge(in)); d != "" {
		t.Fatalf("timeline (-want +got):\n%s", d)
	}
	// A segment being written ends the timeline: the rest is in flight.
	in.Pieces = append(in.Pieces, api.Piece{Server: "rec-1", Start: at(30), End: at(49), Bytes: 10, Open: true})
	if got := Merge(in); len(got.Gaps) != 0 || !got.Spans[0].End.Equal(at(49)) {
		t.Fatalf("live recording: %+v", got)
	}
	// Nothing at all: one gap, not recorded.
	got := Merge(Input{Start: at(0), End: at(10), Now: at(100)})
	if len(got.Spans) != 0 || len(got.Gaps) != 1 || got.Gaps[0].Cause != api.CauseNotRecorded {
		t.Fatalf("empty: %+v", got)
	}
}

func TestDays(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	// 21:00 UTC is 23:00 in UTC+2: one hour on the 1st, one on the 2nd.
	days := Days([]api.Piece{piece("rec-1", 0, 3600, 1), piece("rec-2", 3600, 7200, 1)}, loc)
	want := []api.RecordingDay{
		{Date: "2026-12-01", RecordedSeconds: 3600, Coverage: 3600.0 / 86400, Servers: []string{"rec-1"}},
		{Date: "2026-12-02", RecordedSeconds: 3600, Coverage: 3600.0 / 86400, Servers: []string{"rec-2"}},
	}
	if d := cmp.Diff(want, days); d != "" {
		t.Fatalf("days (-want +got):\n%s", d)
	}
}

// randomInput is a period of up to three servers' recordings: runs of
// abutting segments with holes, some servers recording at once, and stored
// gaps with causes.
func randomInput(r *rand.Rand) Input {
	in := Input{Start: at(float64(r.IntN(50))), Now: at(1e9)}
	in.End = in.Start.Add(time.Duration(1+r.IntN(2000)) * time.Second)
	for _, srv := range []string{"rec-1", "rec-2", "rec-3"}[:1+r.IntN(3)] {
		t := float64(r.IntN(100)) - 50
		for t < 2100 {
			if r.IntN(4) == 0 {
				hole := float64(r.IntN(30000)) / 1000 // up to 30 s, often under Join
				if r.IntN(2) == 0 {
					hole = float64(r.IntN(150)) / 1000
				}
				if r.IntN(3) == 0 {
					in.Gaps = append(in.Gaps, api.Gap{Server: srv, Start: at(t), End: at(t + hole),
						Cause: []api.GapCause{api.CauseUnreachable, api.CauseStorage, api.CauseRestart}[r.IntN(3)]})
				}
				t += hole
			}
			d := float64(1+r.IntN(60000)) / 1000
			in.Pieces = append(in.Pieces, api.Piece{Server: srv, Start: at(t), End: at(t + d), Bytes: int64(r.IntN(1 << 20)),
				Path: "x.mp4"})
			t += d
		}
	}
	if r.IntN(5) == 0 {
		in.Missing = []string{"rec-4"}
	}
	r.Shuffle(len(in.Pieces), func(i, j int) { in.Pieces[i], in.Pieces[j] = in.Pieces[j], in.Pieces[i] })
	return in
}

func TestMergeProperties(t *testing.T) {
	for seed := range uint64(500) {
		r := rand.New(rand.NewPCG(seed, 14))
		in := randomInput(r)
		tl := Merge(in)
		clipped := Clip(in.Pieces, in.Start, in.End)

		// Spans and gaps alternate and tile the period exactly.
		type stretch struct {
			from, to time.Time
			span     bool
		}
		var all []stretch
		for _, s := range tl.Spans {
			all = append(all, stretch{s.Start, s.End, true})
		}
		for _, g := range tl.Gaps {
			all = append(all, stretch{g.Start, g.End, false})
		}
		slices.SortFunc(all, func(a, b stretch) int { return a.from.Compare(b.from) })
		cur := in.Start
		for i, s := range all {
			if !s.from.Equal(cur) || !s.to.After(s.from) {
				t.Fatalf("seed %d: stretch %d [%v, %v) does not follow %v", seed, i, s.from, s.to, cur)
			}
			if i > 0 && all[i-1].span == s.span {
				t.Fatalf("seed %d: two %v in a row at %v", seed, s.span, s.from)
			}
			cur = s.to
		}
		if !cur.Equal(in.End) {
			t.Fatalf("seed %d: timeline ends at %v, not %v", seed, cur, in.End)
		}

		// Every piece lies in one span that names its server; every span
		// is the union of its pieces; bytes add up.
		var total int64
		for _, p := range clipped {
			total += p.Bytes
			i := slices.IndexFunc(tl.Spans, func(s api.Span) bool { return !p.Start.Before(s.Start) && !p.End.After(s.End) })
			if i < 0 || !slices.Contains(tl.Spans[i].Servers, p.Server) {
				t.Fatalf("seed %d: piece %v..%v on %s is in no span of its server", seed, p.Start, p.End, p.Server)
			}
		}
		var spanBytes int64
		for _, s := range tl.Spans {
			spanBytes += s.Bytes
			if !slices.IsSorted(s.Servers) || len(slices.Compact(slices.Clone(s.Servers))) != len(s.Servers) {
				t.Fatalf("seed %d: servers %v", seed, s.Servers)
			}
			startOK := s.Start.Equal(in.Start) || slices.ContainsFunc(clipped, func(p api.Piece) bool { return p.Start.Equal(s.Start) })
			endOK := s.End.Equal(in.End) || slices.ContainsFunc(clipped, func(p api.Piece) bool { return p.End.Equal(s.End) })
			if !startOK || !endOK {
				t.Fatalf("seed %d: span %v..%v does not start and end with media", seed, s.Start, s.End)
			}
		}
		if spanBytes != total {
			t.Fatalf("seed %d: spans hold %d bytes, pieces %d", seed, spanBytes, total)
		}

		// Gaps are longer than Join, except at the period's edges, and a
		// gap inside a stored non-restart gap has that cause.
		for _, g := range tl.Gaps {
			if g.End.Sub(g.Start) <= Join && !g.Start.Equal(in.Start) && !g.End.Equal(in.End) {
				t.Fatalf("seed %d: gap of %v", seed, g.End.Sub(g.Start))
			}
			for _, sg := range in.Gaps {
				if sg.Cause != api.CauseRestart && !g.Start.Before(sg.Start) && !g.End.After(sg.End) &&
					!slices.ContainsFunc(in.Gaps, func(o api.Gap) bool { return o.Cause != sg.Cause && o.Start.Before(g.End) && o.End.After(g.Start) }) &&
					g.Cause != sg.Cause {
					t.Fatalf("seed %d: gap %v..%v inside a stored %q gap has cause %q", seed, g.Start, g.End, sg.Cause, g.Cause)
				}
			}
		}

		// The same inputs in another order give the same timeline, and so
		// do the runs peers send instead of their segments.
		shuffled := in
		shuffled.Pieces = slices.Clone(in.Pieces)
		r.Shuffle(len(shuffled.Pieces), func(i, j int) {
			shuffled.Pieces[i], shuffled.Pieces[j] = shuffled.Pieces[j], shuffled.Pieces[i]
		})
		if d := cmp.Diff(tl, Merge(shuffled)); d != "" {
			t.Fatalf("seed %d: order changes the timeline:\n%s", seed, d)
		}
		runs := in
		runs.Pieces = nil
		for _, srv := range []string{"rec-1", "rec-2", "rec-3"} {
			var mine []api.Piece
			for _, p := range in.Pieces {
				if p.Server == srv {
					mine = append(mine, p)
				}
			}
			runs.Pieces = append(runs.Pieces, Coalesce(Clip(mine, in.Start, in.End))...)
		}
		if d := cmp.Diff(tl, Merge(runs)); d != "" {
			t.Fatalf("seed %d: runs give another timeline than segments:\n%s", seed, d)
		}
	}
}
