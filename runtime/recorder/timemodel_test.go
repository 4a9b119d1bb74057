package recorder

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// fakeCam feeds a real clip into a muxer, its writer and a store on a fake
// clock, so that hours of a camera's timestamps (steps, drift, restarts)
// are checked in seconds, with the files read back by ffprobe.
type fakeCam struct {
	t     *testing.T
	clip  *camsim.Clip
	clock atomic.Int64 // the recorder's clock, unix nanoseconds
	pts   float64      // the camera's next timestamp (90 kHz)
	ppm   float64      // the camera clock's rate error
	next  int          // next unit of the clip
	fed   []time.Time  // arrival of every frame fed
	store *storage.Store
	mux   *muxer
	stats *camStats
	jobs  chan job
	wdone chan struct{}

	mu     sync.Mutex
	jumps  []jump
	drifts []time.Duration
}

func newFakeCam(t *testing.T, segDur time.Duration) *fakeCam {
	t.Helper()
	clip, err := camsim.LoadClip("h264", "small")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeCam{t: t, clip: clip, store: openStore(t, t.TempDir()), stats: &camStats{},
		jobs: make(chan job, writeQueue), wdone: make(chan struct{}), pts: 123456}
	f.clock.Store(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano())
	f.mux = newMuxer(segDur, false, nil, clip.SPS, clip.PPS, nil, f.jobs, f.stats, f.now)
	f.mux.onJump = func(j jump) { f.mu.Lock(); f.jumps = append(f.jumps, j); f.mu.Unlock() }
	f.mux.onReanchor = func(d time.Duration) { f.mu.Lock(); f.drifts = append(f.drifts, d); f.mu.Unlock() }
	w := &writer{
		store: f.store, camera: "cam", server: "rec-1", fsyncEvery: time.Hour, now: f.now, stats: f.stats, in: f.jobs,
		forceCut: func() { f.mux.forceCut.Store(true) },
		onOpen: func(_ time.Time, _ string, loss *api.Gap) {
			if loss != nil {
				g := *loss
				g.Camera = "cam"
				if err := f.store.AddGap(g); err != nil {
					t.Error(err)
				}
			}
		},
		onWriteErr: func(err error) { t.Error(err) },
	}
	go w.run(f.wdone)
	return f
}

func (f *fakeCam) now() time.Time { return time.Unix(0, f.clock.Load()) }

// play feeds d of frames at 25 fps on the recorder's clock; the camera's
// timestamps advance by its own clock (ppm).
func (f *fakeCam) play(d time.Duration) {
	period := time.Second / time.Duration(f.clip.FPS)
	for range int(d / period) {
		f.fed = append(f.fed, f.now())
		f.mux.writeVideo(int64(f.pts), f.clip.Units[f.next%len(f.clip.Units)])
		f.next++
		f.pts += float64(videoTimeScale/f.clip.FPS) * (1 + f.ppm/1e6)
		f.clock.Add(int64(period))
		// Real time runs much slower than this clock: let the writer keep
		// up, as a real disk does with a real camera.
		for len(f.jobs) > writeQueue/2 || f.stats.queued.Load() > maxQueuedBytes/2 {
			time.Sleep(time.Millisecond)
		}
	}
}

// restart makes the camera restart its encoder after a pause: timestamps
// from a new origin, and the clip from its first key frame.
func (f *fakeCam) restart(pause time.Duration, newPTS float64) {
	f.clock.Add(int64(pause))
	f.pts = newPTS
	f.next = 0
}

// finish closes the segment and waits for the writer.
func (f *fakeCam) finish() []storage.Segment {
	f.mux.close()
	close(f.jobs)
	<-f.wdone
	return f.store.Segments("cam")
}

// check probes every file: every frame fed is there but lost, timestamps
// increase, and every frame's wall-clock time (segment start + its DTS) is
// within bound of the time it was fed. It returns the frames in the files.
func (f *fakeCam) check(segs []storage.Segment, lost int, bound time.Duration) int {
	t := f.t
	t.Helper()
	frames, worst := 0, time.Duration(0)
	for i, seg := range segs {
		p := ffprobe(t, seg.Path)[0]
		if p == nil || len(p.dts) == 0 {
			t.Fatalf("%s: no video", seg.Path)
		}
		for j := range p.dts {
			if j > 0 && p.dts[j] <= p.dts[j-1] {
				t.Fatalf("%s: dts %v after %v", seg.Path, p.dts[j], p.dts[j-1])
			}
			if lost == 0 {
				wall := seg.Start.Add(time.Duration((p.dts[j] - p.dts[0]) * float64(time.Second)))
				off := wall.Sub(f.fed[frames+j])
				worst = max(worst, off, -off)
			}
		}
		if i > 0 && seg.Start.Before(segs[i-1].End) {
			t.Errorf("segment %d starts at %s, before the previous one ends (%s)", i, seg.Start, segs[i-1].End)
		}
		frames += len(p.dts)
	}
	if got := len(f.fed) - frames; got != lost {
		t.Errorf("fed %d frames, files hold %d: %d lost, want %d", len(f.fed), frames, got, lost)
	}
	if worst > bound {
		t.Errorf("a frame's wall-clock time in the files is %s off the clock when it arrived, want at most %s", worst, bound)
	}
	t.Logf("%d segments, %d frames, worst wall-clock error %s", len(segs), frames, worst)
	return frames
}

// A camera whose timestamps step back 10 s after 10 minutes (NTP step, a
// second client on a shared stream) loses no frame: the stream goes on
// where it was due, with an event, and the files stay on the wall clock.
func TestStepBackAfterTenMinutesLosesNothing(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	f := newFakeCam(t, time.Minute)
	f.play(10 * time.Minute)
	f.pts -= 10 * videoTimeScale
	f.play(30 * time.Second)
	segs := f.finish()
	f.check(segs, 0, 100*time.Millisecond)
	if len(f.jumps) != 1 || f.jumps[0].by > -9*time.Second || f.jumps[0].by < -11*time.Second {
		t.Errorf("jumps reported: %+v, want one of -10s", f.jumps)
	}
	if gaps := f.store.Gaps("cam"); len(gaps) != 0 {
		t.Errorf("gaps %+v, want none: nothing was lost", gaps)
	}
}

// Forward jumps and a wrap-sized jump are discontinuities like a step back.
func TestForwardJumpLosesNothing(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	f := newFakeCam(t, 20*time.Second)
	f.play(30 * time.Second)
	f.pts += 10 * videoTimeScale
	f.play(10 * time.Second)
	f.pts += 1 << 32 // a timestamp that wrapped once more than the decoder saw
	f.play(10 * time.Second)
	segs := f.finish()
	f.check(segs, 0, 100*time.Millisecond)
	if len(f.jumps) != 2 {
		t.Errorf("jumps reported: %+v, want 2", f.jumps)
	}
}

// A camera clock 1,000 ppm fast or slow for 10 minutes: every frame of
// every segment stays within 1 s of the wall clock (the segments are
// re-anchored, with an event), and no frame is lost.
func TestDriftKeepsFilesOnTheWallClock(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	for _, ppm := range []float64{1000, -1000} {
		f := newFakeCam(t, time.Minute)
		f.ppm = ppm
		f.play(10 * time.Minute)
		segs := f.finish()
		f.check(segs, 0, time.Second)
		if len(f.drifts) == 0 {
			t.Errorf("%v ppm: no re-anchoring in 10 minutes (600 ms of drift)", ppm)
		}
		for _, d := range f.drifts {
			if d < -time.Second || d > time.Second {
				t.Errorf("%v ppm: re-anchored at a drift of %s", ppm, d)
			}
		}
	}
}

// A camera that restarts its encoder without closing the session (pause,
// timestamps from a new origin, a key frame): the pause is a gap with cause
// "timestamp jump", and the next segment starts at the clock's time.
func TestRestartInSessionIsAGap(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	f := newFakeCam(t, time.Minute)
	f.play(20 * time.Second)
	paused := f.now()
	f.restart(3*time.Second, 5e6)
	f.play(20 * time.Second)
	segs := f.finish()
	f.check(segs, 0, 100*time.Millisecond)
	gaps := f.store.Gaps("cam")
	if len(gaps) != 1 || gaps[0].Cause != api.CauseTimestampJump {
		t.Fatalf("gaps %+v, want one timestamp jump", gaps)
	}
	if d := gaps[0].End.Sub(gaps[0].Start); d < 2900*time.Millisecond || d > 3100*time.Millisecond || gaps[0].Start.Sub(paused).Abs() > 50*time.Millisecond {
		t.Errorf("gap %s to %s, want the 3 s pause from %s", gaps[0].Start, gaps[0].End, paused)
	}
}

// A keyframe that arrives late (the largest frame, after a connection's
// setup) does not make the files late: the segment starts where the least
// delayed of its first frames puts it.
func TestLateFirstKeyframeDoesNotDelayTheFiles(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	f := newFakeCam(t, time.Minute)
	onTime := f.now()
	f.clock.Add(int64(300 * time.Millisecond))
	f.play(time.Second / 25) // the keyframe, 300 ms late
	f.clock.Add(-int64(300 * time.Millisecond))
	f.fed[0] = onTime
	f.play(10 * time.Second)
	segs := f.finish()
	f.check(segs, 0, time.Millisecond)
	if !segs[0].Start.Equal(onTime) {
		t.Errorf("the segment starts at %s, want %s", segs[0].Start.Format(time.StampMilli), onTime.Format(time.StampMilli))
	}
}
