package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

func hold(name string, cameras []string, from, to time.Time) *spec.Hold {
	return &spec.Hold{Name: name, Cameras: cameras, From: from, To: to}
}

func onDisk(t *testing.T, segs ...Segment) {
	t.Helper()
	for _, seg := range segs {
		if _, err := os.Stat(seg.Path); err != nil {
			t.Errorf("held segment %v is gone: %v", seg, err)
		}
	}
}

// TestHoldSurvivesAge: retention by age skips the segments an active hold
// overlaps (a segment reaching into the period is kept whole) and deletes
// those around them; a hold that has ended keeps nothing.
func TestHoldSurvivesAge(t *testing.T) {
	now := t0.Add(72 * time.Hour)
	s := open(t, []Volume{{Path: t.TempDir(), MaxAge: 24 * time.Hour}}, WithClock(func() time.Time { return now }))
	var a []Segment
	for i := range 6 {
		a = append(a, segment(t, s, "dock-1", t0.Add(time.Duration(i)*2*time.Second), 2))
		segment(t, s, "lobby", t0.Add(time.Duration(i)*2*time.Second), 2)
	}
	// From +3s to +6s: dock-1's segments at +2s (reaching in) and +4s.
	h := hold("case", []string{"dock-*"}, t0.Add(3*time.Second), t0.Add(6*time.Second))
	s.SetHolds([]*spec.Hold{h})
	if n := s.Enforce(); n != 10 {
		t.Errorf("deleted %d segments, want 10 (all but the two held)", n)
	}
	assertKept(t, s, "dock-1", a[1], a[2])
	assertKept(t, s, "lobby")
	onDisk(t, a[1], a[2])
	if u := s.Usage(); u[0].HeldBytes != a[1].Bytes+a[2].Bytes || u[0].UsedBytes != u[0].HeldBytes {
		t.Errorf("usage %+v, want %d bytes used, all held", u, a[1].Bytes+a[2].Bytes)
	}
	// The hold ends: its footage goes at the next run.
	h.Until = now
	if n := s.Enforce(); n != 2 {
		t.Errorf("after the hold ended, deleted %d, want 2", n)
	}
}

// TestHeldRunsAreSkipped: holds at the front of a camera's segments and in
// its middle; size retention deletes the oldest unheld footage between and
// after them, newest last, and never a held one.
func TestHeldRunsAreSkipped(t *testing.T) {
	s := open(t, []Volume{{Path: t.TempDir()}})
	var segs []Segment
	for i := range 20 {
		segs = append(segs, segment(t, s, "cam", t0.Add(time.Duration(i)*time.Second), 1))
	}
	s.Close()
	// Room for 12 segments: 8 must go, the oldest unheld first.
	s = open(t, []Volume{{Path: s.vols[0].Path, MaxSize: 12 * segs[0].Bytes}}, WithHolds([]*spec.Hold{
		hold("front", []string{"cam"}, t0, t0.Add(5*time.Second)),
		hold("middle", []string{"c?m"}, t0.Add(8*time.Second), t0.Add(10*time.Second)),
		hold("overlapping", []string{"cam"}, t0.Add(9*time.Second), t0.Add(11*time.Second)),
	}))
	if n := s.Enforce(); n != 8 {
		t.Errorf("deleted %d, want 8", n)
	}
	want := []Segment{segs[0], segs[1], segs[2], segs[3], segs[4], segs[8], segs[9], segs[10]}
	want = append(want, segs[16:]...)
	assertKept(t, s, "cam", want...)
	onDisk(t, want...)
	if u := s.Usage()[0]; u.HeldBytes != 8*segs[0].Bytes {
		t.Errorf("held %d bytes, want %d", u.HeldBytes, 8*segs[0].Bytes)
	}
	f := s.Footage([]*spec.Hold{hold("front", []string{"cam"}, t0, t0.Add(5*time.Second)), hold("gone", []string{"cam"}, t0.Add(12*time.Second), t0.Add(14*time.Second))})
	if f[0].Segments != 5 || f[0].Bytes != 5*segs[0].Bytes || !f[0].First.Equal(t0) || !f[0].Last.Equal(t0.Add(5*time.Second)) || len(f[0].Cameras) != 1 {
		t.Errorf("footage of front: %+v", f[0])
	}
	if f[1].Segments != 0 || f[1].Bytes != 0 || f[1].Cameras != nil {
		t.Errorf("footage of a period retention emptied: %+v", f[1])
	}
}

// TestHoldSurvivesFullDisk: on a volume that writes find full (a fake free
// space says so too), retention deletes unheld footage, the newest
// included, and never held footage; once only held footage is left,
// storage.full says that holds fill the volume, once.
func TestHoldSurvivesFullDisk(t *testing.T) {
	s := open(t, []Volume{{Path: t.TempDir(), MinFree: 1 << 40}}, WithFreeSpace(func(string) (uint64, uint64, error) { return 0, 1 << 30, nil }))
	events := make(chan api.Event, 100)
	s.SetEvents(func(e api.Event) { events <- e })
	var held []Segment
	for i := range 4 {
		held = append(held, segment(t, s, "dock-1", t0.Add(time.Duration(i)*time.Second), 1))
	}
	for i := range 4 {
		segment(t, s, "dock-1", t0.Add(time.Duration(10+i)*time.Second), 1)
		segment(t, s, "lobby", t0.Add(time.Duration(10+i)*time.Second), 1)
	}
	s.SetHolds([]*spec.Hold{hold("case-2291", []string{"dock-*"}, t0, t0.Add(4*time.Second))})
	if err := s.writeErr(s.vols[0], syscall.ENOSPC); !errors.Is(err, ErrFull) {
		t.Fatal(err)
	}
	// writeErr kicked the background retention too: the outcome is
	// checked, not who deleted what.
	s.Enforce()
	assertKept(t, s, "dock-1", held...)
	assertKept(t, s, "lobby")
	onDisk(t, held...)
	// The background run that writeErr kicked may be the one that
	// announces it: wait for the event.
	var full []string
	timeout := time.After(20 * time.Second)
	for len(full) < 2 {
		select {
		case e := <-events:
			if e.Kind == "storage.full" {
				full = append(full, e.Message)
			}
		case <-timeout:
			t.Fatalf("storage.full events: %q; want the full disk, then that holds fill it", full)
		}
	}
	if !strings.Contains(full[1], "holds fill it") || !strings.Contains(full[1], "new footage is dropped") {
		t.Errorf("storage.full events: %q; want the full disk, then that holds fill it", full)
	}
	s.Enforce()
	select {
	case e := <-events:
		if e.Kind == "storage.full" {
			t.Errorf("announced again: %s", e.Message)
		}
	default:
	}
}

// TestHoldOnTmpfs fills a real 1 MB tmpfs with recordings of two cameras
// while a hold keeps the first seconds of one: writes that hit ENOSPC make
// retention delete unheld footage, and the held files are intact at the end
// (their SHA-256 is the one indexed).
func TestHoldOnTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "vigil-test", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	s := open(t, []Volume{{Path: dir}})
	s.SetHolds([]*spec.Hold{hold("case", []string{"dock-1"}, t0, t0.Add(3*time.Second))})
	var held []Segment
	for i := range 3 {
		held = append(held, segment(t, s, "dock-1", t0.Add(time.Duration(i)*time.Second), 1))
	}
	// Write 1-second segments of both cameras until the disk has been full
	// a few times over (each part is ~10 kB; 1 MB holds ~90 segments).
	fulls, written := 0, 0
	for i := 3; fulls < 20 && i < 2000; i++ {
		for _, cam := range []string{"dock-1", "lobby"} {
			f, err := s.Create(cam, t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				if errors.Is(err, ErrFull) {
					fulls++
					s.Enforce()
					continue
				}
				t.Fatal(err)
			}
			err = writeUntilFull(f, 1)
			seg, cerr := f.Close(t0.Add(time.Duration(i+1)*time.Second), "opus", "rec-1")
			if err != nil || cerr != nil {
				fulls++
				s.Enforce()
				continue
			}
			if seg.Bytes > 0 {
				written++
			}
		}
	}
	if fulls == 0 {
		t.Fatalf("the tmpfs never filled (%d segments written)", written)
	}
	for _, seg := range held {
		if got := mustHash(t, seg.Path); got != seg.SHA256 {
			t.Errorf("held segment %v changed: %s, indexed %s", seg, got, seg.SHA256)
		}
	}
	if segs := s.Segments("dock-1"); len(segs) < 3 || segs[0].Path != held[0].Path || segs[2].Path != held[2].Path {
		t.Errorf("dock-1 keeps %v", segs)
	}
	if first := s.Segments("lobby"); len(first) > 0 && !first[0].Start.After(t0.Add(3*time.Second)) {
		t.Errorf("lobby's oldest segment %v survived %d full disks", first[0], fulls)
	}
	t.Logf("%d segments written, the disk full %d times, %s", written, fulls, heldText(s.Usage()[0].HeldBytes))
}

// writeUntilFull writes an init section and n parts, stopping at the first
// error.
func writeUntilFull(f *File, n int) error {
	b, err := EncodeInit(opusTrack)
	if err != nil {
		return err
	}
	if err := f.WriteInit(b); err != nil {
		return err
	}
	payload := make([]byte, 200)
	for p := 0; p < n; p++ {
		var samples []Sample
		for i := 0; i < 50; i++ {
			samples = append(samples, Sample{Duration: 960, Data: [][]byte{payload}, Size: 200})
		}
		if err := f.WritePart([]PartTrack{{ID: 1, BaseTime: uint64(p * 48000), Samples: samples}}); err != nil {
			return fmt.Errorf("part %d: %w", p, err)
		}
	}
	return nil
}

// TestHoldProperty: for random cameras, segments and holds (some ended),
// retention under an unreachable free-space floor deletes exactly the
// segments that no active hold of their camera overlaps.
func TestHoldProperty(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 7))
		now := t0.Add(time.Hour)
		s := open(t, []Volume{{Path: t.TempDir(), MinFree: 1 << 50}},
			WithClock(func() time.Time { return now }), WithFreeSpace(func(string) (uint64, uint64, error) { return 0, 1 << 40, nil }))
		cams := []string{"dock-1", "dock-2", "lobby"}
		var all []Segment
		for _, cam := range cams {
			at := t0
			for range 5 + r.IntN(25) {
				at = at.Add(time.Duration(r.IntN(3)) * time.Second) // gaps of 0-2 s
				parts := 1 + r.IntN(3)
				all = append(all, segment(t, s, cam, at, parts))
				at = at.Add(time.Duration(parts) * time.Second)
			}
		}
		var holds []*spec.Hold
		for i := range r.IntN(5) {
			from := t0.Add(time.Duration(r.IntN(80)) * time.Second)
			h := hold(fmt.Sprint("h", i), []string{[]string{"dock-*", "lobby", "dock-2", "gate"}[r.IntN(4)]}, from, from.Add(time.Duration(1+r.IntN(20))*time.Second))
			if r.IntN(4) == 0 {
				h.Until = now.Add(-time.Minute)
			}
			holds = append(holds, h)
		}
		s.SetHolds(holds)
		s.Enforce()
		for _, cam := range cams {
			var want []Segment
			for _, seg := range all {
				if seg.Camera == cam && slices.ContainsFunc(holds, func(h *spec.Hold) bool {
					return h.Active(now) && h.MatchesCamera(cam) && h.Overlaps(seg.Start, seg.End)
				}) {
					want = append(want, seg)
				}
			}
			got := s.Segments(cam)
			if len(got) != len(want) {
				t.Fatalf("seed %d, %s: kept %v, want %v (holds %v)", seed, cam, got, want, holds)
			}
			for i := range got {
				if got[i].Path != want[i].Path {
					t.Fatalf("seed %d, %s: kept %v, want %v", seed, cam, got, want)
				}
			}
			onDisk(t, want...)
		}
		s.Close()
	}
}

// TestHeldBytesFollowCloses: the held bytes a volume reports follow the
// segments that close into a hold, a hold that ends and one removed.
func TestHeldBytesFollowCloses(t *testing.T) {
	now := t0
	var mu sync.Mutex
	s := open(t, []Volume{{Path: t.TempDir()}}, WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }))
	h := hold("case", []string{"dock-*"}, t0, t0.Add(10*time.Second))
	h.Until = t0.Add(time.Hour)
	s.SetHolds([]*spec.Hold{h, hold("other", []string{"lobby"}, t0.Add(time.Hour), t0.Add(2*time.Hour))})
	held := func() int64 { s.Enforce(); return s.Usage()[0].HeldBytes }
	if n := held(); n != 0 {
		t.Fatalf("held %d before any footage", n)
	}
	a := segment(t, s, "dock-1", t0, 2)
	segment(t, s, "dock-1", t0.Add(10*time.Second), 2) // after the period
	segment(t, s, "lobby", t0, 2)                      // another camera
	b := segment(t, s, "dock-2", t0.Add(9*time.Second), 2)
	if n := held(); n != a.Bytes+b.Bytes {
		t.Errorf("held %d, want %d", n, a.Bytes+b.Bytes)
	}
	mu.Lock()
	now = h.Until
	mu.Unlock()
	if n := held(); n != 0 {
		t.Errorf("held %d after the hold ended", n)
	}
	mu.Lock()
	now = t0
	mu.Unlock()
	if n := held(); n != a.Bytes+b.Bytes {
		t.Errorf("held %d with the hold in force again, want %d", n, a.Bytes+b.Bytes)
	}
	s.SetHolds(nil)
	if n := held(); n != 0 {
		t.Errorf("held %d after the holds were removed", n)
	}
}
