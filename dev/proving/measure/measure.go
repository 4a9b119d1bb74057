// Package measure reads what a site really recorded, from the segment files
// themselves, and turns it into the figures of the failover benchmark: per
// camera the largest span with no recording anywhere in the site, the frames
// lost, and the time two servers recorded the same camera.
//
// A segment file is named after the wall-clock time of its first video frame
// (see package storage), and each video sample's decoding time in the file is
// relative to that frame, so every recorded frame gets a wall-clock time.
// Frames recorded by two servers are the same frame when their times are
// closer than half a frame period: recorders timestamp a segment when its
// first frame arrives, so two copies differ only by network and scheduling
// delay.
//
// Frames lost are counted from the recordings alone: every hole in the merged
// frame sequence longer than one period is frames the site never stored. The
// camera simulator's own counters (frames it skipped because it fell behind)
// are subtracted by the caller when it has them.
package measure

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"vigil/runtime/storage"
)

// Site is every frame recorded in a site: camera -> server -> frame times,
// sorted.
type Site map[string]map[string][]time.Time

// Read scans the storage directories of servers (server name -> one or more
// storage paths) and returns every recorded video frame. Files cut by a crash
// count up to their last complete part; files that are not fMP4 segments are
// an error.
func Read(storage map[string][]string) (Site, error) {
	site := Site{}
	for server, dirs := range storage {
		for _, dir := range dirs {
			cams, err := os.ReadDir(dir)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				return nil, err
			}
			for _, c := range cams {
				if !c.IsDir() || strings.HasPrefix(c.Name(), ".") {
					continue
				}
				files, err := filepath.Glob(filepath.Join(dir, c.Name(), "*", "*.mp4"))
				if err != nil {
					return nil, err
				}
				for _, f := range files {
					times, err := ReadFile(f)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", f, err)
					}
					if site[c.Name()] == nil {
						site[c.Name()] = map[string][]time.Time{}
					}
					site[c.Name()][server] = append(site[c.Name()][server], times...)
				}
			}
		}
	}
	for _, byServer := range site {
		for s, times := range byServer {
			slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			byServer[s] = times
		}
	}
	return site, nil
}

// ReadFile returns the wall-clock time of every video frame of one segment
// file, from its name (the first frame's UTC time) and its parts' timing.
func ReadFile(path string) ([]time.Time, error) {
	start, err := time.ParseInLocation("2006-01-02 15-04-05.000000",
		filepath.Base(filepath.Dir(path))+" "+strings.TrimSuffix(filepath.Base(path), ".mp4"), time.UTC)
	if err != nil {
		return nil, fmt.Errorf("not a segment file name: %w", err)
	}
	if ok, err := hasInit(path); err != nil || !ok {
		return nil, err // a file just created: nothing recorded in it yet
	}
	info, err := storage.Probe(path)
	if err != nil {
		return nil, err
	}
	var video *storage.ProbeTrack
	for i, t := range info.Tracks {
		if t.Codec == "h264" || t.Codec == "h265" {
			video = &info.Tracks[i]
			break
		}
	}
	if video == nil || video.TimeScale == 0 {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []time.Time
	var hdr [8]byte
	for off := int64(0); off+8 <= info.ValidSize; {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return nil, err
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		if size < 8 || off+size > info.ValidSize {
			break // a 64-bit box size: our writer never makes one before the end
		}
		if string(hdr[4:8]) == "moof" {
			buf := make([]byte, size-8)
			if _, err := f.ReadAt(buf, off+8); err != nil && err != io.EOF {
				return nil, err
			}
			ticks, err := sampleTimes(buf, video.ID)
			if err != nil {
				return nil, fmt.Errorf("moof at %d: %w", off, err)
			}
			for _, t := range ticks {
				sec := t / uint64(video.TimeScale)
				rem := t % uint64(video.TimeScale)
				out = append(out, start.Add(time.Duration(sec)*time.Second+time.Duration(rem*uint64(time.Second)/uint64(video.TimeScale))))
			}
		}
		off += size
	}
	return out, nil
}

// hasInit reports whether the file holds a complete moov box yet.
func hasInit(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, err
	}
	var hdr [8]byte
	for off := int64(0); off+8 <= st.Size(); {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return false, err
		}
		size := int64(binary.BigEndian.Uint32(hdr[:4]))
		if size < 8 || off+size > st.Size() {
			return false, nil
		}
		if string(hdr[4:8]) == "moov" {
			return true, nil
		}
		off += size
	}
	return false, nil
}

// sampleTimes returns the decoding times (in the track's ticks) of the
// samples of track id in one moof body.
func sampleTimes(moof []byte, id int) ([]uint64, error) {
	runs, err := storage.ParseMoof(moof)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, tr := range runs {
		if tr.ID == id {
			out = append(out, tr.Times...)
		}
	}
	return out, nil
}

// Camera is the analysis of one camera over a window.
type Camera struct {
	Camera string
	// Frames is the number of distinct frames recorded in the window, and
	// PerServer how many each server recorded.
	Frames    int
	PerServer map[string]int
	// Lost is the number of frame slots with no frame anywhere in the site
	// (holes in the merged sequence, and at the window's edges).
	Lost int
	// Gap is the largest span with no recording anywhere beyond the normal
	// frame interval (0 when no frame is missing); GapStart is the last frame before it and GapEnd the
	// first after it (the takeover's start and end when a server failed).
	Gap              time.Duration
	GapStart, GapEnd time.Time
	// Duplicated is how long two or more servers recorded the camera at
	// the same time.
	Duplicated time.Duration
}

// Analyze computes a camera's figures over [from, to) from the frames every
// server recorded; period is the camera's frame interval (40ms at 25 fps).
func Analyze(camera string, byServer map[string][]time.Time, from, to time.Time, period time.Duration) Camera {
	res := Camera{Camera: camera, PerServer: map[string]int{}}
	type mark struct {
		t time.Time
		s string
	}
	var all []mark
	var spans [][2]time.Time // per-server continuous recording, for overlap
	for s, times := range byServer {
		var in []time.Time
		for _, t := range times {
			if !t.Before(from) && t.Before(to) {
				in = append(in, t)
				all = append(all, mark{t, s})
			}
		}
		res.PerServer[s] = len(in)
		for i := 0; i < len(in); {
			j := i
			for j+1 < len(in) && in[j+1].Sub(in[j]) < period*3/2 {
				j++
			}
			spans = append(spans, [2]time.Time{in[i], in[j].Add(period)})
			i = j + 1
		}
	}
	slices.SortFunc(all, func(a, b mark) int { return a.t.Compare(b.t) })

	// Distinct frames: a frame within half a period of the previous
	// distinct one is another server's copy of it.
	var distinct []time.Time
	for _, m := range all {
		if n := len(distinct); n > 0 && m.t.Sub(distinct[n-1]) < period/2 {
			continue
		}
		distinct = append(distinct, m.t)
	}
	res.Frames = len(distinct)
	slots := func(d time.Duration) int { return int(math.Round(float64(d) / float64(period))) }
	if len(distinct) == 0 {
		res.Lost = int((to.Sub(from)) / period)
		res.Gap, res.GapStart, res.GapEnd = to.Sub(from), from, to
	} else {
		edge := func(d time.Duration) {
			res.Lost += int(d / period)
		}
		edge(distinct[0].Sub(from))
		edge(to.Sub(distinct[len(distinct)-1]) - period)
		// Less than half a period late is jitter between copies, not a gap.
		gap := func(a, b time.Time, d time.Duration) {
			if d >= period/2 && d > res.Gap {
				res.Gap, res.GapStart, res.GapEnd = d, a, b
			}
		}
		gap(from, distinct[0], distinct[0].Sub(from)-period)
		for i := 1; i < len(distinct); i++ {
			dt := distinct[i].Sub(distinct[i-1])
			if k := slots(dt); k > 1 {
				res.Lost += k - 1
			}
			gap(distinct[i-1], distinct[i], dt-period)
		}
		last := distinct[len(distinct)-1]
		gap(last, to, to.Sub(last)-period)
	}
	res.Duplicated = overlap(spans)
	return res
}

// overlap returns the total time covered by at least two spans.
func overlap(spans [][2]time.Time) time.Duration {
	type ev struct {
		t time.Time
		d int
	}
	var evs []ev
	for _, s := range spans {
		evs = append(evs, ev{s[0], 1}, ev{s[1], -1})
	}
	slices.SortFunc(evs, func(a, b ev) int {
		if c := a.t.Compare(b.t); c != 0 {
			return c
		}
		return a.d - b.d // ends before starts at the same instant
	})
	var total time.Duration
	depth := 0
	var since time.Time
	for _, e := range evs {
		if depth >= 2 && depth+e.d < 2 {
			total += e.t.Sub(since)
		}
		if depth < 2 && depth+e.d >= 2 {
			since = e.t
		}
		depth += e.d
	}
	return total
}

// Percentile returns the p-th percentile (0-100, nearest rank) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
