package playback

import (
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
