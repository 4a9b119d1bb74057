package storage

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/runtime/api"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

var opusTrack = []Track{{ID: 1, TimeScale: 48000, Codec: &codecs.Opus{ChannelCount: 1}}}

// writeParts writes an init section and n one-second parts of 50 Opus
// frames of 20 ms each.
func writeParts(t *testing.T, f *File, n int) {
	t.Helper()
	if err := f.WriteInit(mustInit(t)); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 200)
	for p := 0; p < n; p++ {
		var samples []Sample
		for i := 0; i < 50; i++ {
			samples = append(samples, Sample{Duration: 960, Data: [][]byte{payload[:100], payload[100:]}, Size: 200})
		}
		if err := f.WritePart([]PartTrack{{ID: 1, BaseTime: uint64(p * 48000), Samples: samples}}); err != nil {
			t.Fatal(err)
		}
	}
}

func mustInit(t *testing.T) []byte {
	b, err := EncodeInit(opusTrack)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// segment records a closed segment of parts seconds starting at start.
func segment(t *testing.T, s *Store, camera string, start time.Time, parts int) Segment {
	t.Helper()
	f, err := s.Create(camera, start)
	if err != nil {
		t.Fatal(err)
	}
	writeParts(t, f, parts)
	seg, err := f.Close(start.Add(time.Duration(parts)*time.Second), "opus", "rec-1")
	if err != nil {
		t.Fatal(err)
	}
	return seg
}

func open(t *testing.T, vols []Volume, opts ...Option) *Store {
	t.Helper()
	s, err := Open(vols, nil, append([]Option{WithRetentionInterval(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestLayoutProbeAndIndex(t *testing.T) {
	dir := t.TempDir()
	s := open(t, []Volume{{Path: dir}})
	seg := segment(t, s, "cam-a", t0.Add(1500*time.Microsecond), 3)
	want := filepath.Join(dir, "cam-a", "2026-11-20", "10-00-00.001500.mp4")
	if seg.Path != want {
		t.Errorf("path %s, want %s", seg.Path, want)
	}
	info, err := Probe(seg.Path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Parts != 3 || info.Tracks[0].Samples != 150 || info.Duration != 3*time.Second || info.Codec() != "opus" {
		t.Errorf("probe: %+v", info)
	}
	if st, _ := os.Stat(seg.Path); st.Size() != seg.Bytes || info.ValidSize != seg.Bytes {
		t.Errorf("size %d, index %d, valid %d", st.Size(), seg.Bytes, info.ValidSize)
	}
	if _, err := s.Create("../x", t0); err == nil {
		t.Error("a camera name with a slash was accepted")
	}
}

func TestRecoveryAfterCrashAndLostIndex(t *testing.T) {
	dir := t.TempDir()
	s := open(t, []Volume{{Path: dir}})
	a := segment(t, s, "cam", t0, 2)
	b := segment(t, s, "cam", t0.Add(2*time.Second), 2)
	// The open segment of a process that died: 3 parts on disk, the 4th
	// cut half-way, nothing in the index.
	f, err := s.Create("cam", t0.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	writeParts(t, f, 3)
	valid := f.Size()
	tail := make([]byte, 300)
	copy(tail, []byte{0, 0, 0x10, 0, 'm', 'o', 'o', 'f'})
	fd, _ := os.OpenFile(f.Path(), os.O_WRONLY|os.O_APPEND, 0)
	fd.Write(tail)
	fd.Close()
	// And a segment that died before its first part.
	g, _ := s.Create("cam", t0.Add(8*time.Second))
	g.WriteInit(mustInit(t))
	if err := s.AddGap(api.Gap{Camera: "cam", Start: t0.Add(-time.Minute), End: t0, Cause: "restart"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	check := func(s *Store) {
		t.Helper()
		segs := s.Segments("cam")
		if len(segs) != 3 {
			t.Fatalf("segments: %+v", segs)
		}
		for i, want := range []Segment{a, b} {
			if !segs[i].Start.Equal(want.Start) || !segs[i].End.Equal(want.End) || segs[i].Bytes != want.Bytes {
				t.Errorf("segment %d: %v, want %v", i, segs[i], want)
			}
		}
		c := segs[2]
		if c.Bytes != valid || !c.End.Equal(t0.Add(7*time.Second)) || c.Codec != "opus" {
			t.Errorf("recovered segment %v (want %d bytes ending at +7s)", c, valid)
		}
		if st, _ := os.Stat(c.Path); st.Size() != valid {
			t.Errorf("recovered file not cut back: %d bytes", st.Size())
		}
		if _, err := os.Stat(g.Path()); !os.IsNotExist(err) {
			t.Errorf("a segment without parts was kept")
		}
	}
	s2 := open(t, []Volume{{Path: dir}})
	check(s2)
	if gaps := s2.Gaps("cam"); len(gaps) != 1 || gaps[0].Cause != "restart" {
		t.Errorf("gaps: %+v", gaps)
	}
	s2.Close()

	// Without its index, the camera is rebuilt from the files.
	if err := os.Remove(filepath.Join(dir, "cam", indexName)); err != nil {
		t.Fatal(err)
	}
	check(open(t, []Volume{{Path: dir}}))
}

func TestRetentionByAgeAndCamera(t *testing.T) {
	dir := t.TempDir()
	now := t0.Add(48 * time.Hour)
	s := open(t, []Volume{{Path: dir, MaxAge: 30 * time.Hour}}, WithClock(func() time.Time { return now }))
	old := segment(t, s, "a", t0, 1)                    // 48 h old: over the volume's 30 h
	mid := segment(t, s, "a", t0.Add(24*time.Hour), 1)  // 24 h: kept
	bMid := segment(t, s, "b", t0.Add(24*time.Hour), 1) // 24 h: over b's own 12 h
	bNew := segment(t, s, "b", t0.Add(47*time.Hour), 1) // 1 h: kept
	s.SetRetention("b", 12*time.Hour)
	if n := s.Enforce(); n != 2 {
		t.Errorf("deleted %d segments, want 2", n)
	}
	assertKept(t, s, "a", mid)
	assertKept(t, s, "b", bNew)
	for _, seg := range []Segment{old, bMid} {
		if _, err := os.Stat(seg.Path); !os.IsNotExist(err) {
			t.Errorf("%s still on disk", seg.Path)
		}
	}
	// Statistics remember what retention deleted, across a restart too.
	s.Close()
	s2 := open(t, []Volume{{Path: dir}})
	days := s2.DailyBytes("a")
	if days["2026-11-20"] != old.Bytes || days["2026-11-21"] != mid.Bytes {
		t.Errorf("daily bytes %v", days)
	}
}

func assertKept(t *testing.T, s *Store, camera string, want ...Segment) {
	t.Helper()
	got := s.Segments(camera)
	if len(got) != len(want) {
		t.Fatalf("%s keeps %v, want %v", camera, got, want)
	}
	for i := range got {
		if got[i].Path != want[i].Path {
			t.Errorf("%s keeps %v, want %v", camera, got, want)
		}
	}
}

func TestRetentionBySizeNeverTheOpenSegment(t *testing.T) {
	dir := t.TempDir()
	s := open(t, []Volume{{Path: dir}})
	a := segment(t, s, "a", t0, 1)
	b := segment(t, s, "b", t0.Add(time.Second), 1)
	c := segment(t, s, "a", t0.Add(2*time.Second), 1)
	s.Close()
	s = open(t, []Volume{{Path: dir, MaxSize: 2*a.Bytes + a.Bytes/2}})
	if n := s.Enforce(); n != 1 {
		t.Errorf("deleted %d, want 1", n)
	}
	assertKept(t, s, "a", c)
	assertKept(t, s, "b", b)

	// An open segment counts towards the size but is never deleted.
	f, err := s.Create("a", t0.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	writeParts(t, f, 10)
	s.Enforce()
	assertKept(t, s, "a")
	assertKept(t, s, "b")
	if _, err := os.Stat(f.Path()); err != nil {
		t.Fatal("retention deleted the open segment")
	}
}

func TestRetentionFreeSpaceFloor(t *testing.T) {
	dir := t.TempDir()
	s := open(t, []Volume{{Path: dir}})
	var segs []Segment
	for i := 0; i < 4; i++ {
		segs = append(segs, segment(t, s, "a", t0.Add(time.Duration(i)*time.Second), 1))
	}
	s.Close()
	size := uint64(segs[0].Bytes)
	// The filesystem has 10 segments' worth of space and 0.5 free; the
	// floor is 20%: retention must free 1.5 segments, so delete 2.
	var deletedBytes uint64
	s2 := open(t, []Volume{{Path: dir, MinFreePercent: 20}}, WithFreeSpace(func(string) (uint64, uint64, error) {
		return size/2 + deletedBytes, 10 * size, nil
	}))
	if n := s2.Enforce(); n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	assertKept(t, s2, "a", segs[2], segs[3])
	deletedBytes = 2 * size
	if n := s2.Enforce(); n != 0 {
		t.Errorf("deleted %d more although the floor is met", n)
	}
}

func TestFloorUnreachableIsAnEvent(t *testing.T) {
	dir := t.TempDir()
	var free uint64 = 10
	s := open(t, []Volume{{Path: dir, MinFree: 1 << 30}}, WithFreeSpace(func(string) (uint64, uint64, error) { return free, 1 << 40, nil }))
	var events []api.Event
	s.SetEvents(func(e api.Event) { events = append(events, e) })
	segment(t, s, "a", t0, 1)
	f, err := s.Create("a", t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	writeParts(t, f, 1)
	if n := s.Enforce(); n != 1 {
		t.Errorf("deleted %d, want the one closed segment", n)
	}
	s.Enforce()
	if len(events) != 1 || events[0].Kind != "storage.floor" || events[0].Severity != "warning" {
		t.Fatalf("events: %+v", events)
	}
	free = 2 << 30
	s.Enforce()
	if len(events) != 2 || events[1].Severity != "info" {
		t.Errorf("events: %+v", events)
	}
	if _, err := os.Stat(f.Path()); err != nil {
		t.Error("the open segment was deleted")
	}
}

func TestVolumes(t *testing.T) {
	small, big := t.TempDir(), t.TempDir()
	freeOf := map[string]uint64{small: 1 << 30, big: 5 << 30}
	s := open(t, []Volume{{Path: small}, {Path: big}}, WithFreeSpace(func(p string) (uint64, uint64, error) {
		return freeOf[p], 10 << 30, nil
	}))
	// A new camera goes where there is most room, and stays there.
	a := segment(t, s, "a", t0, 1)
	if a.Volume != big {
		t.Errorf("first segment on %s, want %s", a.Volume, big)
	}
	freeOf[small], freeOf[big] = 9<<30, 1<<30
	b := segment(t, s, "a", t0.Add(time.Second), 1)
	if b.Volume != big {
		t.Errorf("second segment moved to %s", b.Volume)
	}
	// Another camera picks the volume with most room now.
	c := segment(t, s, "c", t0, 1)
	if c.Volume != small {
		t.Errorf("camera c on %s, want %s", c.Volume, small)
	}
	usage := s.Usage()
	if len(usage) != 2 || usage[0].UsedBytes != c.Bytes || usage[1].UsedBytes != a.Bytes+b.Bytes {
		t.Errorf("usage %+v", usage)
	}
	if got := s.Cameras(); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Errorf("cameras %v", got)
	}
	if last, ok := s.LastSegment("a"); !ok || last.Path != b.Path {
		t.Errorf("last segment of a: %v %v, want %v", last, ok, b)
	}
	if last, ok := s.LastSegment("nobody"); ok {
		t.Errorf("last segment of an unknown camera: %v", last)
	}
	// Each volume's footage reaches back to its oldest segment, of any
	// camera: a later camera on the big volume does not move it.
	d := segment(t, s, "d", t0.Add(-time.Minute), 1)
	if d.Volume != small {
		t.Fatalf("camera d on %s, want %s", d.Volume, small)
	}
	if usage := s.Usage(); !usage[0].Oldest.Equal(d.Start) || !usage[1].Oldest.Equal(a.Start) {
		t.Errorf("oldest segments %v and %v, want %v and %v", usage[0].Oldest, usage[1].Oldest, d.Start, a.Start)
	}
	if oldest, ok := s.Oldest("a"); !ok || !oldest.Equal(a.Start) {
		t.Errorf("camera a's oldest segment: %v %v, want %v", oldest, ok, a.Start)
	}
	if _, ok := s.Oldest("nobody"); ok {
		t.Error("an unknown camera has an oldest segment")
	}
}

// TestFullHysteresis: a volume that retention keeps just full fails a write
// every few seconds; it raises one storage.full, and storage.ok only once no
// write has failed for okAfter.
func TestFullHysteresis(t *testing.T) {
	// The clock is read by the retention goroutine too (writeErr kicks it).
	var clock atomic.Int64
	clock.Store(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).UnixNano())
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	s := open(t, []Volume{{Path: t.TempDir()}}, WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	var kinds []string
	s.SetEvents(func(e api.Event) { kinds = append(kinds, e.Kind) })
	v := s.vols[0]
	for range 5 { // full, room after retention, full again two seconds later...
		if err := s.writeErr(v, syscall.ENOSPC); !errors.Is(err, ErrFull) {
			t.Fatalf("writeErr: %v", err)
		}
		advance(time.Second)
		s.writeOK(v)
		advance(time.Second)
	}
	if want := []string{"storage.full"}; !slices.Equal(kinds, want) {
		t.Fatalf("events while flapping: %v, want %v", kinds, want)
	}
	if st := s.Usage(); st[0].Full {
		t.Errorf("after a successful write the volume is still reported full: %+v", st)
	}
	advance(okAfter)
	s.writeOK(v)
	s.writeOK(v)
	if want := []string{"storage.full", "storage.ok"}; !slices.Equal(kinds, want) {
		t.Fatalf("events after %s without failure: %v, want %v", okAfter, kinds, want)
	}
	if err := s.writeErr(v, syscall.EIO); errors.Is(err, ErrFull) {
		t.Errorf("an I/O error is not a full disk: %v", err)
	}
}

// A volume whose size bound deletes recordings younger than its max_age
// says so (Usage, a storage.retention event) until retention deletes by
// age again.
func TestRetentionShortOfMaxAge(t *testing.T) {
	dir := t.TempDir()
	s := open(t, []Volume{{Path: dir}})
	a := segment(t, s, "a", t0, 1)
	segment(t, s, "a", t0.Add(time.Hour), 1)
	segment(t, s, "a", t0.Add(2*time.Hour), 1)
	s.Close()
	now := t0.Add(3 * time.Hour)
	s = open(t, []Volume{{Path: dir, MaxAge: 4 * time.Hour, MaxSize: 2*a.Bytes + a.Bytes/2}}, WithClock(func() time.Time { return now }))
	var events []api.Event
	s.SetEvents(func(e api.Event) { events = append(events, e) })
	if n := s.Enforce(); n != 1 {
		t.Fatalf("deleted %d, want 1", n)
	}
	if !s.Usage()[0].RetentionShort || len(events) != 1 || events[0].Kind != "storage.retention" || events[0].Severity != "warning" {
		t.Fatalf("after deleting a 3 h old segment under a max_age of 4h: usage %+v, events %+v", s.Usage(), events)
	}
	s.Enforce()
	if len(events) != 1 {
		t.Errorf("a standing shortfall repeats its event: %+v", events)
	}
	// Time passes: the oldest kept recording (from t0+1h) passes max_age.
	now = t0.Add(5*time.Hour + 10*time.Minute)
	s.Enforce()
	if s.Usage()[0].RetentionShort || len(events) != 2 || events[1].Severity != "info" {
		t.Errorf("max_age kept again: usage %+v, events %+v", s.Usage(), events)
	}
}

// New limits apply to an open store, open segment and all: no reopening.
func TestSetLimitsKeepsTheStoreOpen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, []Volume{{Path: dir}})
	a := segment(t, s, "a", t0, 1)
	segment(t, s, "a", t0.Add(time.Second), 1)
	c := segment(t, s, "a", t0.Add(2*time.Second), 1)
	f, err := s.Create("a", t0.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	writeParts(t, f, 1)
	if err := s.SetLimits([]Volume{{Path: dir + "/other"}}); err == nil || s.SamePaths([]Volume{{Path: dir + "/other"}}) {
		t.Error("limits of another volume were accepted")
	}
	if err := s.SetLimits([]Volume{{Path: dir, MaxSize: 2*a.Bytes + a.Bytes/2}}); err != nil {
		t.Fatal(err)
	}
	s.Enforce()
	assertKept(t, s, "a", c)
	writeParts(t, f, 1) // the open segment goes on
}

// TestFullDiskMakesRoomForEveryCamera: a write refused for lack of space
// makes retention free room for every segment being written, even when
// another camera's write succeeded before retention ran (which clears the
// full mark). Deleting one segment, or none, left the cameras fighting for
// the space of one and the camera that lost stopped recording for good.
func TestFullDiskMakesRoomForEveryCamera(t *testing.T) {
	dir := t.TempDir()
	// A filesystem with 100 bytes free beyond the files now in dir.
	var capacity uint64
	du := func() uint64 {
		var n uint64
		_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if info, err := d.Info(); err == nil {
					n += uint64(info.Size())
				}
			}
			return nil
		})
		return n
	}
	s := open(t, []Volume{{Path: dir}}, WithFreeSpace(func(string) (uint64, uint64, error) { return capacity - du(), capacity, nil }))
	var a, b []Segment
	for i := range 3 {
		a = append(a, segment(t, s, "a", t0.Add(time.Duration(2*i)*time.Second), 1))
		b = append(b, segment(t, s, "b", t0.Add(time.Duration(2*i+1)*time.Second), 1))
	}
	for _, cam := range []string{"a", "b"} {
		f, err := s.Create(cam, t0.Add(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.f.Close() })
		writeParts(t, f, 1)
	}
	capacity = du() + 100
	v := s.vols[0]
	if err := s.writeErr(v, syscall.ENOSPC); !errors.Is(err, ErrFull) {
		t.Fatalf("writeErr: %v", err)
	}
	s.writeOK(v) // the other camera got a part in
	// Whether this run or the one the failed write kicked makes the room,
	// it is made when this one returns (one run at a time): room for both
	// open segments to grow by one segment each, so the two oldest go.
	s.Enforce()
	assertKept(t, s, "a", a[1:]...)
	assertKept(t, s, "b", b[1:]...)
}
