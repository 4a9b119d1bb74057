package storage

import (
	"bytes"
	"path/filepath"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// Footage lookups: what the site-wide listing and playback read. They read
// the in-memory index (and the open files' counters), never the disk, so a
// listing costs the same whatever the history.

// Rel is the segment's file name relative to its volume
// ("<camera>/<date>/<time>.mp4"): how the API names a segment.
func (seg Segment) Rel() string {
	rel, err := filepath.Rel(seg.Volume, seg.Path)
	if err != nil {
		return seg.Path
	}
	return rel
}

// Between returns a camera's closed segments that overlap [start, end), on
// every volume, oldest first.
func (s *Store) Between(camera string, start, end time.Time) []Segment {
	var out []Segment
	s.Walk(camera, start, end, func(seg *Segment) { out = append(out, *seg) })
	if len(s.vols) > 1 {
		slices.SortFunc(out, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	}
	return out
}

// Walk calls fn, under the store lock, with each of a camera's closed
// segments that overlap [start, end): oldest first on each volume, one
// volume after the other. fn must be quick and must not keep seg.
func (s *Store) Walk(camera string, start, end time.Time, fn func(seg *Segment)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vols {
		c := v.cams[camera]
		if c == nil {
			continue
		}
		// One recorder writes a camera's segments one after another, so
		// their ends are sorted like their starts.
		i, _ := slices.BinarySearchFunc(c.segs, start, func(seg Segment, t time.Time) int {
			if seg.End.After(t) {
				return 1
			}
			return -1
		})
		for ; i < len(c.segs) && c.segs[i].Start.Before(end); i++ {
			if c.segs[i].End.After(start) {
				fn(&c.segs[i])
			}
		}
	}
}

// Writing returns the camera's segment being written, if any, as a Segment
// whose End is the end of its last written part and Bytes its complete
// parts. ok is false when no segment is open or it has no part yet.
func (s *Store) Writing(camera string) (seg Segment, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.vols {
		for f := range v.open {
			if f.camera != camera {
				continue
			}
			written := time.Duration(f.written.Load())
			if written <= 0 {
				continue
			}
			return Segment{Camera: camera, Path: f.path, Volume: v.Path, Start: f.start,
				End: f.start.Add(written), Bytes: f.published.Load()}, true
		}
	}
	return Segment{}, false
}

// Locate returns the segment, closed or being written, whose Rel is rel.
// ok is false for a name that is no segment of this store (deleted by
// retention, or never one): a caller never opens a path it was handed.
func (s *Store) Locate(rel string) (Segment, bool) {
	camera, date, file := cutPath(rel)
	start, err := parseSegmentName(date, file)
	if err != nil {
		return Segment{}, false
	}
	// Names keep microseconds of the start.
	for _, seg := range s.Between(camera, start, start.Add(time.Microsecond)) {
		if seg.Rel() == rel {
			return seg, true
		}
	}
	if seg, ok := s.Writing(camera); ok && seg.Rel() == rel {
		return seg, true
	}
	return Segment{}, false
}

func cutPath(rel string) (camera, date, file string) {
	date = filepath.Dir(rel)
	file = filepath.Base(rel)
	camera = filepath.Dir(date)
	return camera, filepath.Base(date), file
}

// firstTrack is the ID and time scale of a segment's first track (video),
// read from its initialization section, by which an open file counts the
// media it has written.
func firstTrack(init []byte) (id int, timeScale uint32) {
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil || len(in.Tracks) == 0 {
		return 0, 0
	}
	return in.Tracks[0].ID, in.Tracks[0].TimeScale
}

// noteWritten publishes, after a part was written, the bytes and the media
// end of the file for Writing.
func (f *File) noteWritten(tracks []PartTrack) {
	f.published.Store(f.size)
	if f.timeScale == 0 {
		return
	}
	for _, t := range tracks {
		if t.ID != f.trackID {
			continue
		}
		end := t.BaseTime
		for _, s := range t.Samples {
			end += uint64(s.Duration)
		}
		f.written.Store(int64(time.Duration(float64(end) * float64(time.Second) / float64(f.timeScale))))
	}
}

// Oldest returns the start of the camera's oldest closed segment.
func (s *Store) Oldest(camera string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, v := range s.vols {
		oldest = earlier(oldest, v.oldest(camera))
	}
	return oldest, !oldest.IsZero()
}

// oldest is the start of the volume's oldest closed segment of camera, or
// of any camera when camera is ""; zero when it has none. Callers hold
// s.mu.
func (v *volume) oldest(camera string) time.Time {
	var t time.Time
	for name, c := range v.cams {
		if (camera == "" || name == camera) && len(c.segs) > 0 {
			t = earlier(t, c.segs[0].Start)
		}
	}
	return t
}

// earlier is the earlier of two times, a zero time counting as none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}
