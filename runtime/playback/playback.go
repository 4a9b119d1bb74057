// Package playback turns a camera's segment files, on whatever servers
// hold them, into what players and tools read: an HLS playlist of byte
// ranges of the files (VOD, or EVENT while the period reaches a segment
// being written), one fragmented MP4 stream of a period, and the export
// MP4 (export.go).
//
// # Choosing the files
//
// Choose walks the period and takes, at each moment, the file that covers
// it, preferring the server already playing (no switch), then the file that
// lasts longest. Cut then picks the parts: the first file starts at the
// part holding the key frame at or before the period's start, a file after
// a gap from its first part, the next file of the same server from its
// first key frame not before what played, and a file of another server
// that overlaps or abuts what played (a switch) from its last key frame at
// or before the end of what played: the last file's parts from that key
// frame on are left out, and the one holding it is cut there (Item.Cut:
// its frames that do not end by then are left out), so nothing either
// server recorded is missing and no time plays twice. Only where the new
// file has no such key frame does it play from its first one after, and
// the frames skipped are a hole (Holes; the export's manifest lists it as
// a gap). Parts starting at or after the period's end are left out.
//
// # Times
//
// Each segment file counts its media time from its own start. Playback
// shifts every file's times (the tfdt of each part) by the file's
// wall-clock start minus that of the first part played, so one stream runs
// on one clock from 0 across files and servers, and a gap is a jump of the
// clock as long as the gap. Within one server's recording the clock never
// goes back: a file whose wall-clock start is a little before the end of
// what played (a recorder re-anchored to its clock) is shifted to follow
// it. A file played after a switch keeps its true time, as the last one
// is cut where it starts. The shift and the cut are applied where the
// file is read (Patch) and never change a byte count, so byte ranges stay
// valid.
package playback

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/footage"
)

// Choose picks the segment files (pieces with a Path, from any servers)
// that play [start, end), in play order.
func Choose(pieces []api.Piece, start, end time.Time) []api.Piece {
	segs := make([]api.Piece, 0, len(pieces))
	for _, p := range pieces {
		if p.Path != "" && p.End.After(start) && p.Start.Before(end) && p.End.After(p.Start) {
			segs = append(segs, p)
		}
	}
	slices.SortFunc(segs, func(a, b api.Piece) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Server, b.Server))
	})
	var out []api.Piece
	at, server := start, ""
	for i := 0; i < len(segs) && at.Before(end); {
		// The files covering at: pick one. Without any, the next to start.
		best := -1
		for j := i; j < len(segs) && !segs[j].Start.After(at.Add(footage.Join)); j++ {
			if !segs[j].End.After(at) {
				continue
			}
			if best < 0 || better(segs[j], segs[best], server) {
				best = j
			}
		}
		if best < 0 {
			for i < len(segs) && !segs[i].End.After(at) {
				i++
			}
			if i == len(segs) {
				break
			}
			best = i
		}
		p := segs[best]
		out = append(out, p)
		at, server = p.End, p.Server
		for i < len(segs) && !segs[i].End.After(at) {
			i++
		}
	}
	return out
}

func better(a, b api.Piece, server string) bool {
	if (a.Server == server) != (b.Server == server) {
		return a.Server == server
	}
	return a.End.After(b.End)
}

// File is a chosen segment file with its layout.
type File struct {
	Piece  api.Piece
	Layout api.SegmentLayout
}

// Item is the parts [From, To) of one file that play, after a
// discontinuity (a gap or a server switch) or not, with the shift of the
// file's times (see the package's doc).
type Item struct {
	File          *File
	From, To      int
	Discontinuity bool
	// Hole: the file has frames before Start that do not play (no key
	// frame at the switch from the last item): the time from the last
	// item's End to Start is missing, though recorded. See Holes.
	Hole  bool
	Shift time.Duration
	// Cut, when not 0, is where on the file's clock its last part stops
	// (Patch): the next item, of another server, plays from there.
	Cut time.Duration
}

// Start is the wall-clock time the item starts playing.
func (it Item) Start() time.Time {
	return it.File.Piece.Start.Add(it.File.Layout.Fragments[it.From].Start)
}

// End is the wall-clock time the item stops playing.
func (it Item) End() time.Time {
	return it.File.Piece.Start.Add(it.partEnd(it.To - 1))
}

// partEnd is where part k of the item ends on its file's clock.
func (it Item) partEnd(k int) time.Duration {
	f := it.File.Layout.Fragments[k]
	if it.Cut > 0 && k == it.To-1 {
		return min(f.Start+f.Duration, it.Cut)
	}
	return f.Start + f.Duration
}

// Cut picks the parts of the chosen files that play [start, end) (see the
// package's doc). Files whose layout could not be read are left out: they
// are gaps.
func Cut(files []File, start, end time.Time) []Item {
	var out []Item
	var base, played time.Time
	var streamEnd time.Duration // where the stream's clock is after the last item
	prevServer := ""
	for i := range files {
		f := &files[i]
		frags := f.Layout.Fragments
		if f.Layout.Error != "" || len(frags) == 0 {
			continue
		}
		at := func(k int) time.Time { return f.Piece.Start.Add(frags[k].Start) }
		from, hole, switched := 0, false, false
		switch {
		case len(out) == 0:
			for k := range frags {
				if frags[k].Key && !at(k).After(start) {
					from = k
				}
			}
		case f.Piece.Start.After(played.Add(footage.Join)):
			// After a gap: from its start.
		case f.Piece.Server == prevServer:
			from = -1
			for k := range frags {
				// Not before what played: a frame twice is a clock going back.
				if frags[k].Key && !at(k).Before(played) {
					from = k
					break
				}
			}
			if from < 0 {
				continue
			}
		default:
			// Another server's file that overlaps or abuts what played:
			// from its key frame at or before the end of what played,
			// where the last item's tail is cut (below); without one,
			// from its first key frame after it, and the frames skipped
			// are a hole.
			from, switched = switchPoint(f, played)
			if from < 0 {
				continue
			}
			hole = !switched && from > 0
		}
		to := from
		for to < len(frags) && at(to).Before(end) {
			to++
		}
		if to == from {
			continue
		}
		if switched {
			// What played from the key frame on plays from this file:
			// the items that start there go, the parts of the last from
			// there go, and the part holding the key frame is cut there
			// (Patch leaves its frames that do not end by then out).
			for len(out) > 0 && !out[len(out)-1].Start().Before(at(from)) {
				out = out[:len(out)-1]
			}
			if len(out) == 0 {
				// This file plays from the period's start after all.
				for k := from; k >= 0; k-- {
					if frags[k].Key && !at(k).After(start) {
						from = k
						break
					}
				}
			} else {
				last := &out[len(out)-1]
				for !last.File.Piece.Start.Add(last.File.Layout.Fragments[last.To-1].Start).Before(at(from)) {
					last.To--
				}
				if last.End().After(at(from)) {
					last.Cut = at(from).Sub(last.File.Piece.Start)
				}
			}
		}
		if len(out) == 0 {
			base = at(from) // the stream's clock starts at 0
		}
		contiguous := len(out) > 0 && f.Piece.Server == prevServer && !at(from).After(played.Add(footage.Join))
		shift := f.Piece.Start.Sub(base)
		if !switched {
			// A file that starts a little before the last ended (a
			// clock re-anchored) goes on the stream's clock where the
			// last ended.
			shift = max(shift, streamEnd-frags[from].Start)
		}
		it := Item{File: f, From: from, To: to, Discontinuity: len(out) > 0 && !contiguous, Hole: hole, Shift: shift}
		out = append(out, it)
		played, prevServer = it.End(), f.Piece.Server
		streamEnd = frags[to-1].Start + frags[to-1].Duration + shift
	}
	return out
}

// Holes are the spans that items miss though a file has frames in them
// (see Item.Hole).
func Holes(items []Item) []api.TimelineGap {
	var out []api.TimelineGap
	for i := 1; i < len(items); i++ {
		if items[i].Hole {
			out = append(out, api.TimelineGap{Start: items[i-1].End(), End: items[i].Start(), Cause: api.CauseSwitch})
		}
	}
	return out
}

// switchPoint is the part of f to play from after what played until
// played, on another file: its last key frame at or before played
// (overlap is true), or else its first after played; -1 without either.
func switchPoint(f *File, played time.Time) (from int, overlap bool) {
	from = -1
	for k, fr := range f.Layout.Fragments {
		if !fr.Key {
			continue
		}
		if f.Piece.Start.Add(fr.Start).After(played) {
			if from < 0 {
				return k, false
			}
			break
		}
		from = k
	}
	return from, from >= 0
}

// MediaURL is the address of a segment file's bytes, shifted and cut
// (Patch), on the agent that answers (which proxies them from the server
// holding them): /v1/playback/media/SERVER/SHIFT[,CUT]/PATH, times in
// nanoseconds. It ends with the file's name, as HLS clients (ffmpeg) want
// a media extension.
func MediaURL(server, path string, shift, cut time.Duration) string {
	times := strconv.FormatInt(int64(shift), 10)
	if cut > 0 {
		times += "," + strconv.FormatInt(int64(cut), 10)
	}
	return "/v1/playback/media/" + url.PathEscape(server) + "/" + times + "/" + (&url.URL{Path: path}).EscapedPath()
}

// ParseMediaTimes reads the SHIFT[,CUT] of a MediaURL.
func ParseMediaTimes(s string) (shift, cut time.Duration, err error) {
	sh, c, hasCut := strings.Cut(s, ",")
	n, err := strconv.ParseInt(sh, 10, 64)
	if err == nil && hasCut {
		var m int64
		if m, err = strconv.ParseInt(c, 10, 64); err == nil && m <= 0 {
			err = errors.New("not positive")
		}
		cut = time.Duration(m)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not SHIFT[,CUT] in nanoseconds: /v1/playback/media/SERVER/SHIFT[,CUT]/PATH", s)
	}
	return time.Duration(n), cut, nil
}

// Playlist renders items as an HLS media playlist of fMP4 byte ranges:
// EXT-X-MAP per file, EXT-X-PROGRAM-DATE-TIME on every part,
// EXT-X-DISCONTINUITY at gaps and server switches. live makes it an EVENT
// playlist (no end: the period reaches a segment being written).
func Playlist(items []Item, live bool) string {
	target := 1.0
	for _, it := range items {
		for _, f := range it.File.Layout.Fragments[it.From:it.To] {
			target = max(target, math.Ceil(f.Duration.Seconds()))
		}
	}
	var b strings.Builder
	kind := "VOD"
	if live {
		kind = "EVENT"
	}
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:%s\n", int(target), kind)
	for _, it := range items {
		f := it.File
		u := MediaURL(f.Piece.Server, f.Piece.Path, it.Shift, it.Cut)
		if it.Discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q,BYTERANGE=\"%d@0\"\n", u, f.Layout.InitSize)
		for k := it.From; k < it.To; k++ {
			fr := f.Layout.Fragments[k]
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:%.3f,\n#EXT-X-BYTERANGE:%d@%d\n%s\n",
				f.Piece.Start.Add(fr.Start).UTC().Format("2006-01-02T15:04:05.000Z"), (it.partEnd(k) - fr.Start).Seconds(), fr.Size, fr.Offset, u)
		}
	}
	if !live {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.String()
}

// Chunk is a byte range of a segment file, shifted, in a stream.
type Chunk struct {
	Server, Path string
	Offset, Size int64
	Shift, Cut   time.Duration
}

// Uniform is the items up to the first whose file's tracks differ from
// the first file's (a change of codec or of its parameters ends one MP4);
// ok reports whether all of them are in.
func Uniform(items []Item) (out []Item, ok bool) {
	for i, it := range items {
		if !slices.Equal(it.File.Layout.Tracks, items[0].File.Layout.Tracks) {
			return items[:i], false
		}
	}
	return items, true
}

// Stream lists the chunks of one fMP4 stream of items (see Uniform): the
// first file's initialization section, then the parts of every item.
func Stream(items []Item) (chunks []Chunk, ok bool) {
	items, ok = Uniform(items)
	if len(items) == 0 {
		return nil, ok
	}
	first := items[0].File
	chunks = append(chunks, Chunk{Server: first.Piece.Server, Path: first.Piece.Path, Size: first.Layout.InitSize})
	for _, it := range items {
		l := it.File.Layout
		from, to := l.Fragments[it.From], l.Fragments[it.To-1]
		chunks = append(chunks, Chunk{Server: it.File.Piece.Server, Path: it.File.Piece.Path,
			Offset: from.Offset, Size: to.Offset + to.Size - from.Offset, Shift: it.Shift, Cut: it.Cut})
	}
	return chunks, ok
}
