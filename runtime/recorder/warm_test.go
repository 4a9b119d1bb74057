package recorder

import (
	"testing"
	"time"

	"vigil/dev/camsim"
)

// A warm session writes nothing and records no gap; promoted, it writes
// what it held first, so the files start before the promotion, joined and
// with every frame camsim sent from the first keyframe on.
func TestWarmSessionHoldsThenRecords(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	srv := startCamsim(t, camsim.Options{Paths: 2})
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	door := Camera{Name: "door", URL: srv.URL(1), SegmentDuration: 2 * time.Second}
	gate := Camera{Name: "gate", URL: srv.URL(2), SegmentDuration: 2 * time.Second, Warm: true}
	warmDoor := door
	warmDoor.Warm = true
	m.Set([]Camera{warmDoor, gate})
	waitFor(t, 5*time.Second, "both warm", func() bool {
		st := m.Status()
		return st[0].State == "warm" && st[1].State == "warm"
	})
	// Recording, door would have closed a 2 s segment by the time it has
	// received 3 s of video (a sleep proves nothing on a busy machine).
	waitFor(t, 20*time.Second, "3 s of video held by the warm door", func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.sessions["door"].stats.received.Load() >= 3*25
	})
	if segs := store.Segments("door"); len(segs) != 0 {
		t.Fatalf("a warm session wrote %d segments", len(segs))
	}

	promoted := time.Now()
	m.Set([]Camera{door}) // door records, gate is dropped
	waitFor(t, 5*time.Second, "door recording", func() bool {
		st := m.Status()
		return len(st) == 1 && st[0].State == "recording"
	})
	waitFor(t, 20*time.Second, "the video after the promotion written", func() bool {
		return !m.Status()[0].MediaEnd.Before(promoted.Add(time.Second))
	})
	sent := srv.Stats()["cam1"].Sessions[0].FramesFromKeyframe
	m.Close()

	segs := store.Segments("door")
	frames := checkRecording(t, segs, []string{"h264"})
	if held := promoted.Sub(segs[0].Start); held < time.Second {
		t.Errorf("the recording starts %v before the promotion, want about the 3 s held (less the wait for a keyframe)", held)
	}
	// The small clip has a 1 s GOP; the session's last part may be cut.
	if d := sent - int64(frames); d < 0 || d > 25 {
		t.Errorf("camsim sent %d frames from the first keyframe, files hold %d", sent, frames)
	}
	for _, cam := range []string{"door", "gate"} {
		if g := store.Gaps(cam); len(g) != 0 {
			t.Errorf("%s: gaps %+v, want none", cam, g)
		}
	}
	if n := len(store.Segments("gate")); n != 0 {
		t.Errorf("gate was never promoted but has %d segments", n)
	}
	if n := events.count("camera.recording"); n != 1 {
		t.Errorf("%d camera.recording events, want 1 (door)", n)
	}
}

// hold keeps whole segments, the newest always, and drops the oldest while
// the rest still spans holdFor (here 3 s of ten 1 s segments: the last 3).
func TestWriterHoldBound(t *testing.T) {
	w := &writer{holding: true, holdFor: 3 * time.Second}
	t0 := time.Now()
	var segs []*segMeta
	for i := range 10 { // ten 1 s GOPs in two parts each
		seg := &segMeta{wall: t0.Add(time.Duration(i) * time.Second)}
		segs = append(segs, seg)
		w.hold(job{seg: seg, end: 500 * time.Millisecond})
		w.hold(job{seg: seg, end: time.Second, close: true})
	}
	if got := w.held[0].seg; got != segs[7] {
		t.Fatalf("oldest held segment starts at %v, want %v", got.wall.Sub(t0), segs[7].wall.Sub(t0))
	}
	if len(w.held) != 6 {
		t.Errorf("%d parts held, want 6 (the last 3 segments)", len(w.held))
	}
}

// A camera whose settings change keeps recording, without a gap; a camera
// that leaves and comes back later (a failback, then another takeover) gets
// none either: it was recorded elsewhere meanwhile, as far as this server
// knows.
func TestRestartGapsOnlyWhereRecordingStopped(t *testing.T) {
	t.Parallel()
	srv := startCamsim(t, camsim.Options{})
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	door := Camera{Name: "door", URL: srv.URL(1), SegmentDuration: 2 * time.Second}
	recording := func(what string) {
		waitFor(t, 5*time.Second, what, func() bool {
			st := m.Status()
			return len(st) == 1 && st[0].State == "recording"
		})
	}
	m.Set([]Camera{door})
	recording("recording")
	since := m.Status()[0].Since

	door.StallTimeout = 3 * time.Second
	m.Set([]Camera{door})
	if st := m.Status(); len(st) != 1 || st[0].State != "recording" || !st[0].Since.Equal(since) {
		t.Fatalf("after a settings change: %+v, want the same session recording", st)
	}
	if gaps := store.Gaps("door"); len(gaps) != 0 {
		t.Fatalf("gaps after a settings change: %+v, want none", gaps)
	}

	m.Set(nil)
	waitFor(t, 5*time.Second, "stopped", func() bool { return len(m.Status()) == 0 })
	time.Sleep(time.Second) // away for a while: a gap, were one recorded, would span it
	m.Set([]Camera{door})
	recording("recording again")
	// The event follows the closing of a gap, if any.
	waitFor(t, 5*time.Second, "the second camera.recording event", func() bool { return events.count("camera.recording") == 2 })
	if n := len(store.Gaps("door")); n != 0 {
		t.Errorf("%d gaps after the camera came back, want none: %+v", n, store.Gaps("door"))
	}
}
