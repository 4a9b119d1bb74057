package playback

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
)

// Export writes items as one progressive MP4 (ftyp, moov, then mdat), which
// every player opens without reading to the end. The items' layouts must
// list their samples (api.LayoutRun); init is the first file's
// initialization section, whose tracks every item must share (Stream
// stops at the first that does not). read returns size bytes at off of a
// segment file as recorded (not shifted).
//
// Every sample keeps its place on the stream's clock (see the package's
// doc), and an item's cut (Item.Cut) leaves its tail out as Patch does
// for playback. The last frame before a
// gap lasts until the frame after it, so the file's duration is the
// period's, gaps included. The movie's creation
// time is the wall-clock time of its first frame. pmp4 writes 32-bit chunk
// offsets: an export must stay under 4 GiB.
func Export(w io.Writer, items []Item, init []byte, read func(server, path string, off, size int64) ([]byte, error)) error {
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil {
		return fmt.Errorf("initialization section of %s: %w", items[0].File.Piece.Path, err)
	}
	frags := &fragmentCache{read: read}
	pres := pmp4.Presentation{}
	var total int64
	for _, t := range in.Tracks {
		track := &pmp4.Track{ID: t.ID, TimeScale: t.TimeScale, Codec: t.Codec}
		var dts []int64
		for k, it := range items {
			shift := int64(float64(it.Shift)*float64(t.TimeScale)/float64(time.Second) + 0.5)
			for fi := it.From; fi < it.To; fi++ {
				fr := it.File.Layout.Fragments[fi]
				for _, r := range fr.Runs {
					if r.ID != t.ID {
						continue
					}
					n := len(r.Times)
					if it.Cut > 0 && fi == it.To-1 {
						n = kept(r.Times, r.End, uint64(float64(it.Cut)*float64(t.TimeScale)/float64(time.Second)+0.5))
					}
					off := fr.Offset + r.DataOffset
					for i := range n {
						size := r.Sizes[i]
						dts = append(dts, shift+int64(r.Times[i]))
						k, fi, at := k, fi, off-fr.Offset
						track.Samples = append(track.Samples, &pmp4.Sample{
							Duration: uint32(r.End - r.Times[i]), PTSOffset: r.Offsets[i], IsNonSyncSample: r.NonSync[i], PayloadSize: size,
							GetPayload: func() ([]byte, error) { return frags.get(items, k, fi, at, int64(size)) },
						})
						off += int64(size)
						total += int64(size)
					}
				}
			}
		}
		if len(track.Samples) == 0 {
			continue
		}
		// Durations run to the next sample's time: a gap is the last
		// frame held, the clock is the stream's.
		for i := range len(dts) - 1 {
			track.Samples[i].Duration = uint32(max(dts[i+1]-dts[i], 1))
		}
		track.TimeOffset = int32(max(dts[0], 0))
		pres.Tracks = append(pres.Tracks, track)
	}
	if len(pres.Tracks) == 0 {
		return errors.New("no samples in the period")
	}
	if total > 4<<30-64<<20 {
		return fmt.Errorf("the export would hold %d bytes of media; export at most 4 GB at a time (a shorter period)", total)
	}
	return pres.Marshal(&creationTime{w: w, t: items[0].Start()})
}

// fragmentCache keeps the last parts read, as samples of one part are asked
// for track by track, interleaved by time.
type fragmentCache struct {
	read func(server, path string, off, size int64) ([]byte, error)
	keys [4][2]int
	bufs [4][]byte
	next int
}

func (c *fragmentCache) get(items []Item, k, fi int, at, size int64) ([]byte, error) {
	var buf []byte
	for i, key := range c.keys {
		if key == [2]int{k, fi + 1} {
			buf = c.bufs[i]
		}
	}
	if buf == nil {
		f := items[k].File
		fr := f.Layout.Fragments[fi]
		b, err := c.read(f.Piece.Server, f.Piece.Path, fr.Offset, fr.Size)
		if err != nil {
			return nil, err
		}
		buf = b
		c.keys[c.next], c.bufs[c.next] = [2]int{k, fi + 1}, b
		c.next = (c.next + 1) % len(c.keys)
	}
	if at < 0 || at+size > int64(len(buf)) {
		return nil, fmt.Errorf("a sample of %s lies outside its part", items[k].File.Piece.Path)
	}
	return buf[at : at+size], nil
}

// creationTime sets the creation and modification times of the movie
// header (mvhd, version 0) in the first write, which pmp4 makes of the
// whole ftyp and moov, to t.
type creationTime struct {
	w    io.Writer
	t    time.Time
	done bool
}

// mp4Epoch is when MP4 times start.
var mp4Epoch = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *creationTime) Write(b []byte) (int, error) {
	if !c.done {
		c.done = true
		if i := bytes.Index(b, []byte("mvhd")); i >= 4 && len(b) >= i+16 && b[i+4] == 0 {
			secs := uint32(c.t.Sub(mp4Epoch) / time.Second)
			binary.BigEndian.PutUint32(b[i+8:], secs)
			binary.BigEndian.PutUint32(b[i+12:], secs)
		}
	}
	return c.w.Write(b)
}
