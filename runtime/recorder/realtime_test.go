package recorder

import (
	"os"
	"testing"
	"time"

	"vigil/dev/camsim"
)

// TestRealTimeTenMinutes is the bar in real time, opt-in
// (VIGIL_REALTIME=1, 11 minutes): camsim cameras 1,000 ppm fast, 1,000 ppm
// slow, and one whose timestamps step back 10 s after 10 minutes. Every
// file's index end must be within 1 s of when its last part reached the
// disk (its modification time), and each camera may lose at most one GOP.
// The fake-clock tests (TestDriftKeepsFilesOnTheWallClock,
// TestStepBackAfterTenMinutesLosesNothing) check the same in seconds.
func TestRealTimeTenMinutes(t *testing.T) {
	if os.Getenv("VIGIL_REALTIME") == "" {
		t.Skip("set VIGIL_REALTIME=1 to run the 11-minute real-time test")
	}
	t.Parallel()
	needFFprobe(t)
	srv := startCamsim(t, camsim.Options{Paths: 3})
	srv.Drift("cam1", 1000)
	srv.Drift("cam2", -1000)
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	names := []string{"fast", "slow", "step"}
	var cams []Camera
	for i, n := range names {
		cams = append(cams, Camera{Name: n, URL: srv.URL(i + 1)})
	}
	m.Set(cams)
	waitFor(t, 10*time.Second, "recording", func() bool {
		for _, st := range m.Status() {
			if st.State != "recording" {
				return false
			}
		}
		return true
	})
	time.Sleep(10 * time.Minute) // the point of this test is real time
	srv.Jump("cam3", -10*time.Second)
	time.Sleep(30 * time.Second)
	stats := srv.Stats()
	m.Close()
	for i, n := range names {
		var frames int64
		worst := time.Duration(0)
		segs := store.Segments(n)
		for _, seg := range segs {
			frames += int64(len(ffprobe(t, seg.Path)[0].dts))
			fi, err := os.Stat(seg.Path)
			if err != nil {
				t.Fatal(err)
			}
			off := fi.ModTime().Sub(seg.End)
			worst = max(worst, off, -off)
		}
		sent := stats[srv.Paths()[i]].Sessions[0].FramesFromKeyframe
		t.Logf("%s: %d segments, %d frames sent from the first keyframe, %d in the files, worst |file written - index end| %s",
			n, len(segs), sent, frames, worst.Round(time.Millisecond))
		if lost := sent - frames; lost < 0 || lost > gop {
			t.Errorf("%s: %d frames lost", n, lost)
		}
		if worst > time.Second {
			t.Errorf("%s: a file's index end is %s off when it was written", n, worst)
		}
	}
	t.Logf("events: %d camera.drift, %d camera.timestamps", events.count("camera.drift"), events.count("camera.timestamps"))
}
