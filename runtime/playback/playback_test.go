package playback

import (
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

var t0 = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func seg(server string, from, to float64) api.Piece {
	return api.Piece{Server: server, Start: at(from), End: at(to), Path: server + "/" + at(from).Format("15-04-05") + ".mp4"}
}

// layout is a file of 1 s parts with a key frame every keyEvery parts.
func layout(seconds, keyEvery int) api.SegmentLayout {
	l := api.SegmentLayout{InitSize: 100, Tracks: []api.LayoutTrack{{ID: 1, TimeScale: 90000, Codec: "h264"}}}
	for i := range seconds {
		l.Fragments = append(l.Fragments, api.LayoutFragment{Offset: 100 + int64(i)*1000, Size: 1000,
			Start: time.Duration(i) * time.Second, Duration: time.Second, Key: i%keyEvery == 0})
	}
	return l
}

func TestChooseAndCut(t *testing.T) {
	// rec-1 records 0..20 s and dies; rec-2 holds 18 s of it warm and
	// records from 18 s; rec-1 is back and records again from 40 s while
	// rec-2 still does until 41 s (make-before-break); a file of rec-2 was
	// deleted by retention after the listing.
	pieces := []api.Piece{seg("rec-1", 0, 10), seg("rec-1", 10, 20), seg("rec-2", 18, 30), seg("rec-2", 30, 41), seg("rec-1", 40, 60)}
	chosen := Choose(pieces, at(5.5), at(50))
	var names []string
	for _, p := range chosen {
		names = append(names, p.Path)
	}
	want := []string{"rec-1/21-00-00.mp4", "rec-1/21-00-10.mp4", "rec-2/21-00-18.mp4", "rec-2/21-00-30.mp4", "rec-1/21-00-40.mp4"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("chose %v, want %v", names, want)
	}
	files := make([]File, len(chosen))
	for i, p := range chosen {
		files[i] = File{Piece: p, Layout: layout(int(p.End.Sub(p.Start)/time.Second), 2)}
	}
	files[3].Layout = api.SegmentLayout{Error: "deleted"}
	items := Cut(files, at(5.5), at(50))
	type got struct {
		from, to float64
		disc     bool
		shift    time.Duration
	}
	var g []got
	for _, it := range items {
		g = append(g, got{it.Start().Sub(t0).Seconds(), it.End().Sub(t0).Seconds(), it.Discontinuity, it.Shift})
	}
	wantItems := []got{
		{4, 10, false, -4 * time.Second}, // from the key frame at or before 5.5 s
		{10, 20, false, 6 * time.Second}, // the next file of the same recording
		{20, 30, true, 14 * time.Second}, // rec-2 from its first key frame after what played
		{40, 50, true, 36 * time.Second}, // after the deleted file: a gap
	}
	if len(g) != len(wantItems) {
		t.Fatalf("items %+v, want %+v", g, wantItems)
	}
	for i := range g {
		if g[i] != wantItems[i] {
			t.Errorf("item %d: %+v, want %+v", i, g[i], wantItems[i])
		}
	}
	pl := Playlist(items, false)
	if strings.Count(pl, "#EXT-X-DISCONTINUITY") != 2 || strings.Count(pl, "#EXT-X-MAP") != 4 ||
		strings.Count(pl, "#EXT-X-PROGRAM-DATE-TIME") != 36 || !strings.HasSuffix(pl, "#EXT-X-ENDLIST\n") ||
		!strings.Contains(pl, "#EXT-X-PROGRAM-DATE-TIME:2026-12-01T21:00:04.000Z\n#EXTINF:1.000,\n#EXT-X-BYTERANGE:1000@4100\n/v1/playback/media/rec-1/-4000000000/rec-1/21-00-00.mp4\n") {
		t.Errorf("playlist:\n%s", pl)
	}
	chunks, ok := Stream(items)
	if !ok || len(chunks) != 5 || chunks[0].Size != 100 || chunks[1].Offset != 4100 || chunks[1].Size != 6000 {
		t.Errorf("stream chunks %+v", chunks)
	}
}

// keyed is a file of parts of the given lengths (seconds) from its start,
// each starting with a key frame unless listed in nonKey.
func keyed(parts []float64, nonKey ...int) api.SegmentLayout {
	l := api.SegmentLayout{InitSize: 100, Tracks: []api.LayoutTrack{{ID: 1, TimeScale: 90000, Codec: "h264"}}}
	var t time.Duration
	for i, p := range parts {
		d := time.Duration(p * float64(time.Second))
		l.Fragments = append(l.Fragments, api.LayoutFragment{Offset: 100 + int64(i)*1000, Size: 1000,
			Start: t, Duration: d, Key: !slices.Contains(nonKey, i)})
		t += d
	}
	return l
}

func ones(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// At a server switch no time that either server recorded is missing from
// what plays, the clock of each item is true to the wall clock, and where
// the new file has no key frame at or before the switch, the hole is
// reported.
func TestCutAtASwitch(t *testing.T) {
	// rec-2 takes over from 8.15 s (its key frames at 8.15, 9.15, ...);
	// rec-1 keeps recording until 10 s (failback, make-before-break,
	// the other way round), its key frames on the whole seconds.
	for _, c := range []struct {
		name  string
		files []File
		holes []api.TimelineGap
	}{
		{name: "overlap", files: []File{
			{Piece: seg("rec-1", 0, 10), Layout: keyed(ones(10))},
			{Piece: seg("rec-2", 8.15, 20.15), Layout: keyed(ones(12))},
		}},
		{name: "abut", files: []File{
			{Piece: seg("rec-1", 0, 10), Layout: keyed(ones(10))},
			{Piece: seg("rec-2", 10, 20), Layout: keyed(ones(10))},
		}},
		{name: "key frames every two parts", files: []File{
			{Piece: seg("rec-1", 0, 10), Layout: keyed(ones(10))},
			{Piece: seg("rec-2", 7.5, 19.5), Layout: keyed(ones(12), 1, 3, 5, 7, 9, 11)},
		}},
		{name: "the last file starts after the key frame", files: []File{
			{Piece: seg("rec-1", 0, 10), Layout: keyed(ones(10))},
			{Piece: seg("rec-1", 10, 10.2), Layout: keyed([]float64{0.2})},
			{Piece: seg("rec-2", 8.99, 19.99), Layout: keyed(ones(11))},
		}},
		{name: "no key frame at the switch", files: []File{
			{Piece: seg("rec-1", 0, 10), Layout: keyed(ones(10))},
			{Piece: seg("rec-2", 9.5, 19.5), Layout: keyed(ones(10), 0)},
		}, holes: []api.TimelineGap{{Start: at(10), End: at(10.5), Cause: api.CauseSwitch}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := slices.Clone(c.files)
			start, end := at(0.5), at(19)
			items := Cut(files, start, end)
			if len(items) != 2 || !items[1].Discontinuity {
				t.Fatalf("items %+v", items)
			}
			// Every 10 ms that a server has a part of (and that a
			// player can start decoding: from a key frame) plays.
			missed := func(x time.Time) bool {
				for _, it := range items {
					if !x.Before(it.Start()) && x.Before(it.End()) {
						return false
					}
				}
				return true
			}
			var lost []float64
			for x := at(0); x.Before(end); x = x.Add(10 * time.Millisecond) {
				if x.Before(items[0].Start()) || !missed(x) {
					continue
				}
				inHole := slices.ContainsFunc(c.holes, func(g api.TimelineGap) bool { return !x.Before(g.Start) && x.Before(g.End) })
				if !inHole {
					lost = append(lost, x.Sub(t0).Seconds())
				}
			}
			if len(lost) > 0 {
				t.Errorf("recorded but not played: %.2f s .. %.2f s (%d instants)", lost[0], lost[len(lost)-1], len(lost))
			}
			if got := Holes(items); !slices.Equal(got, c.holes) {
				t.Errorf("holes %+v, want %+v", got, c.holes)
			}
			// True times: each item's clock is its file's wall clock from
			// the first part played; the first stops where the second
			// starts (its last part cut there), or before a hole.
			for _, it := range items {
				if want := it.File.Piece.Start.Sub(items[0].Start()); it.Shift != want {
					t.Errorf("%s shifted %v, want %v", it.File.Piece.Path, it.Shift, want)
				}
			}
			if items[0].End().After(items[1].Start()) || (len(c.holes) == 0 && items[0].End().Before(items[1].Start())) {
				t.Errorf("the first item ends at %v, the second starts at %v", items[0].End().Sub(t0), items[1].Start().Sub(t0))
			}
			for _, it := range items {
				if !it.File.Layout.Fragments[it.From].Key {
					t.Errorf("%s plays from a part without a key frame", it.File.Piece.Path)
				}
			}
		})
	}
}
