package playback

import (
	"encoding/binary"
	"sort"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// LayoutOf is the layout of a segment file as storage.Probe read it; with
// samples, every sample of every track is listed (export needs them).
func LayoutOf(info *storage.ProbeInfo, samples bool) api.SegmentLayout {
	l := api.SegmentLayout{InitSize: info.InitSize, Tracks: []api.LayoutTrack{}, Fragments: []api.LayoutFragment{}}
	for _, t := range info.Tracks {
		l.Tracks = append(l.Tracks, api.LayoutTrack{ID: t.ID, TimeScale: t.TimeScale, Codec: t.Codec})
	}
	if len(info.Tracks) == 0 {
		return l
	}
	video := info.Tracks[0]
	ticks := func(v uint64) time.Duration {
		return time.Duration(float64(v) * float64(time.Second) / float64(max(video.TimeScale, 1)))
	}
	for _, fr := range info.Fragments {
		lf := api.LayoutFragment{Offset: fr.Offset, Size: fr.Size}
		for _, r := range fr.Runs {
			if r.ID == video.ID && len(r.Times) > 0 {
				lf.Start, lf.Duration = ticks(r.Times[0]), ticks(r.End-r.Times[0])
				lf.Key = !r.NonSync(0)
			}
			if samples {
				lr := api.LayoutRun{ID: r.ID, Times: r.Times, End: r.End, Sizes: r.Sizes, Offsets: r.Offsets, DataOffset: r.DataOffset}
				for i := range r.Times {
					lr.NonSync = append(lr.NonSync, r.NonSync(i))
				}
				lf.Runs = append(lf.Runs, lr)
			}
		}
		l.Fragments = append(l.Fragments, lf)
	}
	return l
}

// Patch shifts the base times (tfdt) of the parts of a segment file that
// lie in buf, which holds the file's bytes from off; info is the file's
// storage.Probe. With cut (on the file's own clock; 0 for none) it also
// leaves out the samples of each track that do not end by cut, by
// lowering the count of their run: their bytes stay, unread. Fields that
// buf holds only in part are patched in part, so that any byte range of a
// file can be served changed.
func Patch(buf []byte, off int64, info *storage.ProbeInfo, shift, cut time.Duration) {
	if (shift == 0 && cut == 0) || len(buf) == 0 {
		return
	}
	scale := map[int]uint32{}
	for _, t := range info.Tracks {
		scale[t.ID] = t.TimeScale
	}
	ticks := func(d time.Duration, id int) int64 {
		return int64(float64(d)*float64(scale[id])/float64(time.Second) + 0.5)
	}
	end := off + int64(len(buf))
	frags := info.Fragments
	i := sort.Search(len(frags), func(i int) bool { return frags[i].Offset+frags[i].Size > off })
	var field [8]byte
	put := func(at int64, width int) {
		for k := range width {
			if p := at + int64(k); p >= off && p < end {
				buf[p-off] = field[k]
			}
		}
	}
	for ; i < len(frags) && frags[i].Offset < end; i++ {
		for _, r := range frags[i].Runs {
			if shift != 0 {
				base := r.End
				if len(r.Times) > 0 {
					base = r.Times[0]
				}
				v := int64(base) + ticks(shift, r.ID)
				width := 4
				if r.BaseWide {
					width = 8
					binary.BigEndian.PutUint64(field[:], uint64(max(v, 0)))
				} else {
					binary.BigEndian.PutUint32(field[:], uint32(max(v, 0)))
				}
				put(frags[i].Offset+8+int64(r.BaseAt), width)
			}
			if cut > 0 && r.CountAt > 0 {
				if keep := kept(r.Times, r.End, uint64(max(ticks(cut, r.ID), 0))); keep < len(r.Times) {
					binary.BigEndian.PutUint32(field[:], uint32(keep))
					put(frags[i].Offset+8+int64(r.CountAt), 4)
				}
			}
		}
	}
}

// kept is how many samples of a run (their decoding times, and the time
// at the end of the last) end by t; none when the first does not (a part
// cut inside its first frame keeps no sample: a frame shorter than a
// frame is a clock going back for players that count frames).
func kept(times []uint64, end, t uint64) int {
	n := 0
	for n < len(times) {
		e := end
		if n+1 < len(times) {
			e = times[n+1]
		}
		if e > t {
			break
		}
		n++
	}
	return n
}
