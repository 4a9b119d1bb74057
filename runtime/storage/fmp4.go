package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// Track is one track of a segment: its fMP4 track ID (1-based), time scale
// (ticks per second) and codec parameters.
type Track struct {
	ID        int
	TimeScale uint32
	Codec     codecs.Codec
}

// Sample is one frame (video access unit, audio frame) of a part.
//
// Data holds the payload as a list of chunks written one after another, so
// that an H.264 access unit can be stored as length prefixes and NAL units
// taken straight from the depacketizer, without copying them into one buffer.
type Sample struct {
	Duration  uint32 // in the track's time scale
	PTSOffset int32  // presentation minus decoding time
	NonSync   bool   // not a random access point
	Data      [][]byte
	Size      uint32 // total length of Data
}

// PartTrack is the samples of one track in a part, starting at BaseTime
// (decoding time, in the track's time scale, counted from the segment start).
type PartTrack struct {
	ID       int
	BaseTime uint64
	Samples  []Sample
}

// EncodeInit returns the initialization section (ftyp + moov) of a segment.
func EncodeInit(tracks []Track) ([]byte, error) {
	init := fmp4.Init{}
	for _, t := range tracks {
		init.Tracks = append(init.Tracks, &fmp4.InitTrack{ID: t.ID, TimeScale: t.TimeScale, Codec: t.Codec})
	}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("encode fMP4 init: %w", err)
	}
	return buf.Bytes(), nil
}

// Sample flags of a trun entry (ISO/IEC 14496-12 8.8.3.1).
const (
	flagNonSync      = 1 << 16 // sample_is_non_sync_sample
	flagDependsOther = 1 << 24 // sample_depends_on = 1
)

// appendPart appends a moof box and the mdat header for tracks to dst and
// returns it with the list of payload chunks that make up the mdat body.
//
// The moof is encoded here rather than with fmp4.Part.Marshal because that
// copies every payload into one mdat buffer; at a hundred 3 Mbit/s cameras
// those copies (and the garbage they leave) cost more than the rest of the
// write path together. The boxes are the same ones fmp4.Part writes: mfhd,
// then per track traf(tfhd default-base-is-moof, tfdt v1, trun v1).
func appendPart(dst []byte, seq uint32, tracks []PartTrack, chunks [][]byte) ([]byte, [][]byte) {
	moofSize := 8 + 16
	for _, t := range tracks {
		moofSize += 8 + 16 + 20 + 20 + 16*len(t.Samples)
	}
	start := len(dst)
	dst = be32(dst, uint32(moofSize))
	dst = append(dst, "moof"...)
	dst = be32(dst, 16)
	dst = append(dst, "mfhd"...)
	dst = be32(dst, 0)
	dst = be32(dst, seq)

	dataOffset := moofSize + 8
	for _, t := range tracks {
		dst = be32(dst, uint32(8+16+20+20+16*len(t.Samples)))
		dst = append(dst, "traf"...)
		dst = be32(dst, 16)
		dst = append(dst, "tfhd"...)
		dst = be32(dst, 0x020000) // default-base-is-moof
		dst = be32(dst, uint32(t.ID))
		dst = be32(dst, 20)
		dst = append(dst, "tfdt"...)
		dst = be32(dst, 1<<24) // version 1
		dst = binary.BigEndian.AppendUint64(dst, t.BaseTime)
		dst = be32(dst, uint32(20+16*len(t.Samples)))
		dst = append(dst, "trun"...)
		dst = be32(dst, 1<<24|0x000001|0x000100|0x000200|0x000400|0x000800)
		dst = be32(dst, uint32(len(t.Samples)))
		dst = be32(dst, uint32(dataOffset))
		for _, s := range t.Samples {
			dst = be32(dst, s.Duration)
			dst = be32(dst, s.Size)
			var flags uint32
			if s.NonSync {
				flags = flagNonSync | flagDependsOther
			}
			dst = be32(dst, flags)
			dst = be32(dst, uint32(s.PTSOffset))
			dataOffset += int(s.Size)
			chunks = append(chunks, s.Data...)
		}
	}
	mdatSize := dataOffset - moofSize
	if len(dst)-start != moofSize {
		panic("storage: moof size mismatch") // a bug in the arithmetic above, never input
	}
	dst = be32(dst, uint32(mdatSize))
	dst = append(dst, "mdat"...)
	return dst, chunks
}

func be32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// ProbeTrack is what Probe found about one track.
type ProbeTrack struct {
	ID        int
	TimeScale uint32
	Codec     string
	Samples   int
	// End is the decoding end of the track's last complete sample, from the
	// segment start.
	End time.Duration
}

// ProbeInfo is what Probe found in a segment file.
type ProbeInfo struct {
	Tracks []ProbeTrack
	Parts  int
	// ValidSize is the file length up to the end of the last complete part;
	// anything after it is a part cut by a crash.
	ValidSize int64
	// Duration is the longest track's End.
	Duration time.Duration
	// InitSize is the length of the initialization section (ftyp, moov).
	InitSize int64
	// Fragments are the complete parts, in file order.
	Fragments []Fragment
}

// Fragment is one part of a segment file: its moof and mdat, and what the
// moof says of each track.
type Fragment struct {
	Offset int64 // of the moof
	Size   int64 // moof and mdat
	Runs   []TrackRun
}

// Codec returns the codec names of the tracks joined by "+", e.g. "h264+aac".
func (p ProbeInfo) Codec() string {
	names := make([]string, len(p.Tracks))
	for i, t := range p.Tracks {
		names[i] = t.Codec
	}
	return strings.Join(names, "+")
}

// VideoSamples is the number of samples of the first video track.
func (p ProbeInfo) VideoSamples() int {
	for _, t := range p.Tracks {
		if t.Codec == "h264" || t.Codec == "h265" {
			return t.Samples
		}
	}
	return 0
}

// CodecName is the short name of a codec used in the index ("h264", "aac").
func CodecName(c codecs.Codec) string {
	switch c := c.(type) {
	case *codecs.H264:
		return "h264"
	case *codecs.H265:
		return "h265"
	case *codecs.MPEG4Audio:
		return "aac"
	case *codecs.Opus:
		return "opus"
	case *codecs.LPCM:
		return "lpcm"
	default:
		return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", c), "*codecs."))
	}
}

var errNoInit = errors.New("no fMP4 initialization section")

// Probe reads a segment file written by this package (or any fragmented
// MP4 with one moof per part) and reports its tracks, sample counts, end
// times and the length of its complete parts.
func Probe(path string) (ProbeInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return ProbeInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ProbeInfo{}, err
	}
	return probe(f, st.Size())
}

// Bounds on what a segment file may ask the reader to allocate: a file
// in a volume may be damaged or crafted, and is read at every start. Our
// writer's init section is a few hundred bytes, a one-second part's moof
// a few KiB with tens of samples.
const (
	maxInitBox    = 1 << 20
	maxMoofBox    = 16 << 20
	maxRunSamples = 1 << 20
)

// errDamaged marks a segment file that is not merely cut short by a crash
// but malformed: it is quarantined, not recovered.
var errDamaged = errors.New("damaged segment file")

func probe(r io.ReaderAt, size int64) (info ProbeInfo, err error) {
	defer func() {
		// The init section is parsed by mediacommon, which has panicked on
		// crafted input: a damaged file, never a crashed agent.
		if p := recover(); p != nil {
			info, err = ProbeInfo{}, fmt.Errorf("%w: %v", errDamaged, p)
		}
	}()
	var hdr [16]byte
	var off int64
	var initEnd int64
	byID := map[int]*ProbeTrack{}
	ticks := map[int]uint64{}
	var pending []TrackRun // parsed moof waiting for its mdat
	var moofAt int64
	for off+8 <= size {
		if _, err := r.ReadAt(hdr[:8], off); err != nil {
			return info, err
		}
		boxSize := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:8])
		hlen := int64(8)
		if boxSize == 1 {
			if off+16 > size {
				break
			}
			if _, err := r.ReadAt(hdr[8:16], off+8); err != nil {
				return info, err
			}
			boxSize = int64(binary.BigEndian.Uint64(hdr[8:16]))
			hlen = 16
		}
		if boxSize < hlen || boxSize > size-off {
			break // a box cut by a crash (written so that it cannot overflow)
		}
		if typ == "moov" && boxSize > maxInitBox || typ == "moof" && boxSize > maxMoofBox {
			return info, fmt.Errorf("%w: %s box of %d bytes at %d", errDamaged, typ, boxSize, off)
		}
		switch typ {
		case "moov":
			initEnd = off + boxSize
			var init fmp4.Init
			if err := init.Unmarshal(io.NewSectionReader(r, 0, initEnd)); err != nil {
				return info, fmt.Errorf("%w: read fMP4 init: %v", errDamaged, err)
			}
			for _, t := range init.Tracks {
				info.Tracks = append(info.Tracks, ProbeTrack{ID: t.ID, TimeScale: t.TimeScale, Codec: CodecName(t.Codec)})
			}
			for i := range info.Tracks {
				byID[info.Tracks[i].ID] = &info.Tracks[i]
			}
			info.ValidSize = initEnd
			info.InitSize = initEnd
		case "moof":
			if initEnd == 0 {
				return info, errNoInit
			}
			moofAt = off
			buf := make([]byte, boxSize-hlen)
			if _, err := r.ReadAt(buf, off+hlen); err != nil {
				return info, err
			}
			p, err := ParseMoof(buf)
			if err != nil {
				return info, fmt.Errorf("%w: moof at %d: %v", errDamaged, off, err)
			}
			pending = p
		case "mdat":
			if pending != nil {
				for _, tr := range pending {
					if t := byID[tr.ID]; t != nil {
						t.Samples += len(tr.Times)
						ticks[tr.ID] = tr.End
					}
				}
				info.Parts++
				info.ValidSize = off + boxSize
				info.Fragments = append(info.Fragments, Fragment{Offset: moofAt, Size: off + boxSize - moofAt, Runs: pending})
				pending = nil
			}
		}
		off += boxSize
	}
	if initEnd == 0 {
		return info, errNoInit
	}
	for i := range info.Tracks {
		t := &info.Tracks[i]
		if t.TimeScale > 0 {
			t.End = time.Duration(float64(ticks[t.ID]) * float64(time.Second) / float64(t.TimeScale))
		}
		info.Duration = max(info.Duration, t.End)
	}
	return info, nil
}

// TrackRun is what one traf of a moof says about its track: the decoding
// time of every sample, and the time at the end of the last one, in the
// track's time scale.
type TrackRun struct {
	ID    int
	Times []uint64
	End   uint64
	// Per sample, in Times' order: size, flags (ISO/IEC 14496-12 8.8.3.1)
	// and presentation minus decoding time.
	Sizes   []uint32
	Flags   []uint32
	Offsets []int32
	// DataOffset is where the first sample's data starts, from the start
	// of the moof (the trun's data_offset; this package writes tfhd
	// default-base-is-moof).
	DataOffset int64
	// BaseAt is where the tfdt's base time is, from the start of the moof
	// body (after its 8-byte header); 8 bytes long when BaseWide, else 4.
	// Playback shifts the times of a file there.
	BaseAt   int
	BaseWide bool
	// CountAt is where the trun's sample count is, from the start of the
	// moof body; 0 when the traf has more than one trun. Playback cuts a
	// part's tail there (the samples past the count are left unread).
	CountAt int
}

// NonSync reports whether sample i is not a random access point.
func (tr TrackRun) NonSync(i int) bool { return tr.Flags[i]&flagNonSync != 0 }

var errTruncated = errors.New("truncated box")

// ParseMoof reads the trafs of a moof body (the box's content after its
// header) as written by this package or any fragmented MP4 writer: tfhd
// (track and default duration), tfdt (base time) and truns.
func ParseMoof(b []byte) ([]TrackRun, error) {
	var out []TrackRun
	samples := 0
	at := 0 // offset of b in the moof body
	for len(b) >= 8 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 8 || size > len(b) {
			return nil, errTruncated
		}
		if string(b[4:8]) == "traf" {
			tr, err := parseTraf(b[8:size], at+8)
			if err != nil {
				return nil, err
			}
			// Samples without per-sample fields take no bytes in a trun:
			// the count, not the size, bounds what a moof allocates.
			if samples += len(tr.Times); samples > maxRunSamples {
				return nil, fmt.Errorf("moof of more than %d samples", maxRunSamples)
			}
			out = append(out, tr)
		}
		b = b[size:]
		at += size
	}
	return out, nil
}

// parseTraf reads a traf body found at offset at of the moof body.
func parseTraf(b []byte, at int) (TrackRun, error) {
	var tr TrackRun
	var defDur, defSize, defFlags uint32
	for len(b) >= 8 {
		size := int(binary.BigEndian.Uint32(b))
		if size < 12 || size > len(b) {
			return tr, errTruncated
		}
		vf := binary.BigEndian.Uint32(b[8:])
		version, flags := vf>>24, vf&0xffffff
		body := b[12:size]
		switch string(b[4:8]) {
		case "tfhd":
			if len(body) < 4 {
				return tr, errTruncated
			}
			tr.ID = int(binary.BigEndian.Uint32(body))
			p := 4
			if flags&0x01 != 0 {
				p += 8
			}
			if flags&0x02 != 0 {
				p += 4
			}
			for _, f := range []struct {
				bit uint32
				v   *uint32
			}{{0x08, &defDur}, {0x10, &defSize}, {0x20, &defFlags}} {
				if flags&f.bit != 0 {
					if len(body) < p+4 {
						return tr, errTruncated
					}
					*f.v = binary.BigEndian.Uint32(body[p:])
					p += 4
				}
			}
		case "tfdt":
			tr.BaseAt, tr.BaseWide = at+12, version == 1
			if version == 1 {
				if len(body) < 8 {
					return tr, errTruncated
				}
				tr.End = binary.BigEndian.Uint64(body)
			} else {
				if len(body) < 4 {
					return tr, errTruncated
				}
				tr.End = uint64(binary.BigEndian.Uint32(body))
			}
		case "trun":
			if len(body) < 4 {
				return tr, errTruncated
			}
			n := int(binary.BigEndian.Uint32(body))
			if n > maxRunSamples-len(tr.Times) {
				return tr, fmt.Errorf("trun of %d samples", n)
			}
			if tr.CountAt = at + 12; len(tr.Times) > 0 {
				tr.CountAt = 0
			}
			p := 4
			if flags&0x01 != 0 {
				if len(body) < p+4 {
					return tr, errTruncated
				}
				tr.DataOffset = int64(int32(binary.BigEndian.Uint32(body[p:])))
				p += 4
			}
			first, hasFirst := uint32(0), flags&0x04 != 0
			if hasFirst {
				if len(body) < p+4 {
					return tr, errTruncated
				}
				first = binary.BigEndian.Uint32(body[p:])
				p += 4
			}
			per := 0
			for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
				if flags&f != 0 {
					per += 4
				}
			}
			if len(body) < p+n*per {
				return tr, errTruncated
			}
			for i := range n {
				tr.Times = append(tr.Times, tr.End)
				d, size, fl, cts := defDur, defSize, defFlags, int32(0)
				q := p + i*per
				if flags&0x100 != 0 {
					d = binary.BigEndian.Uint32(body[q:])
					q += 4
				}
				if flags&0x200 != 0 {
					size = binary.BigEndian.Uint32(body[q:])
					q += 4
				}
				if flags&0x400 != 0 {
					fl = binary.BigEndian.Uint32(body[q:])
					q += 4
				} else if i == 0 && hasFirst {
					fl = first
				}
				if flags&0x800 != 0 {
					cts = int32(binary.BigEndian.Uint32(body[q:]))
				}
				tr.End += uint64(d)
				tr.Sizes = append(tr.Sizes, size)
				tr.Flags = append(tr.Flags, fl)
				tr.Offsets = append(tr.Offsets, cts)
			}
		}
		b = b[size:]
		at += size
	}
	return tr, nil
}

// EncodePart returns one part (moof + mdat) numbered seq in one buffer: for
// live streaming, where a part goes to a network connection, not a file.
func EncodePart(seq uint32, tracks []PartTrack) []byte {
	head, chunks := appendPart(make([]byte, 0, 256), seq, tracks, nil)
	n := len(head)
	for _, c := range chunks {
		n += len(c)
	}
	out := make([]byte, 0, n)
	out = append(out, head...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}
