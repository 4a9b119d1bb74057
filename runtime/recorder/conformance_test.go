package recorder

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"

	"vigil/dev/camsim"
	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// camCase records camsim's cam1 while fault disturbs it, over real RTSP.
type camCase struct {
	srv     *camsim.Server
	m       *Manager
	store   *storage.Store
	events  *eventLog
	started time.Time // the test's clock when recording started
	stopped time.Time // and when it stopped
	sent    int64     // frames camsim sent the recorder from its first key frame
	states  map[string]bool
}

// runCase records for at least frames more frames after fault, checking
// the state every 50 ms.
func runCase(t *testing.T, opts camsim.Options, cam Camera, before, after int64, fault func(*camsim.Server)) *camCase {
	t.Helper()
	needFFprobe(t)
	c := &camCase{srv: startCamsim(t, opts), states: map[string]bool{}}
	c.store = openStore(t, t.TempDir())
	c.m, c.events = newManager(t, c.store)
	cam.Name, cam.URL = "cam", c.srv.URL(1)
	c.m.Set([]Camera{cam})
	waitFor(t, 10*time.Second, "recording", func() bool { return c.m.Status()[0].State == "recording" })
	c.started = time.Now()
	frames := func() int64 { return c.m.Status()[0].Frames }
	waitFor(t, 20*time.Second, "frames before the fault", func() bool { return frames() >= before })
	fault(c.srv)
	at := frames()
	waitFor(t, 30*time.Second, "frames after the fault", func() bool {
		c.states[c.m.Status()[0].State] = true
		return frames() >= at+after
	})
	c.sent = c.srv.Stats()["cam1"].Sessions[0].FramesFromKeyframe
	c.m.Close()
	c.stopped = time.Now()
	return c
}

// files checks the files with ffprobe: timestamps increase, the files hold
// what camsim sent but at most maxLost frames, and every file lies between
// the start and the end of the recording on the test's clock, within 1 s.
func (c *camCase) files(t *testing.T, maxLost int64) []storage.Segment {
	t.Helper()
	segs := c.store.Segments("cam")
	var frames int64
	for _, seg := range segs {
		streams := ffprobe(t, seg.Path)
		for i, p := range streams {
			for j := 1; j < len(p.dts); j++ {
				if p.dts[j] <= p.dts[j-1] {
					t.Fatalf("%s stream %d: dts %v after %v", seg.Path, i, p.dts[j], p.dts[j-1])
				}
			}
		}
		frames += int64(len(streams[0].dts))
		if a, v := streams[1], streams[0]; a != nil && len(a.dts) > 0 {
			// Audio stays with the video across discontinuities.
			if d := a.dts[len(a.dts)-1] - v.dts[len(v.dts)-1]; d < -0.5 || d > 0.5 {
				t.Errorf("%s: the audio ends %.3f s from the video", seg.Path, d)
			}
		}
		if seg.Start.Before(c.started.Add(-2*time.Second)) || seg.End.After(c.stopped.Add(time.Second)) {
			t.Errorf("segment %s to %s lies outside the recording (%s to %s)", seg.Start.Format(time.StampMilli), seg.End.Format(time.StampMilli),
				c.started.Format(time.StampMilli), c.stopped.Format(time.StampMilli))
		}
	}
	t.Logf("%d segments, camsim sent %d frames from the first key frame, the files hold %d", len(segs), c.sent, frames)
	if lost := c.sent - frames; lost < 0 || lost > maxLost {
		t.Errorf("camsim sent %d frames from the first key frame, the files hold %d: %d lost, want at most %d", c.sent, frames, lost, maxLost)
	}
	if last := segs[len(segs)-1].End; last.Sub(c.stopped).Abs() > time.Second {
		t.Errorf("the last segment ends at %s, the recording stopped at %s", last.Format(time.StampMilli), c.stopped.Format(time.StampMilli))
	}
	return segs
}

func (c *camCase) event(t *testing.T, kind, contains string) {
	t.Helper()
	c.events.mu.Lock()
	defer c.events.mu.Unlock()
	for _, e := range c.events.ev {
		if e.Kind == kind && strings.Contains(e.Message, contains) {
			return
		}
	}
	t.Errorf("no %s event saying %q in %+v", kind, contains, c.events.ev)
}

// gop is the small clip's GOP: what a discontinuity may cost at most.
const gop = 25

func TestConformanceStepBack(t *testing.T) {
	t.Parallel()
	c := runCase(t, camsim.Options{Audio: true}, Camera{SegmentDuration: 2 * time.Second}, 75, 100, func(s *camsim.Server) { s.Jump("cam1", -10*time.Second) })
	c.files(t, gop)
	c.event(t, "camera.timestamps", "video timestamps stepped back by 10")
	if c.states["failing"] || len(c.store.Gaps("cam")) != 0 {
		t.Errorf("states %v, gaps %+v: want recording throughout, no gap", c.states, c.store.Gaps("cam"))
	}
}

func TestConformanceJumpForward(t *testing.T) {
	t.Parallel()
	c := runCase(t, camsim.Options{Codec: "h265"}, Camera{SegmentDuration: 2 * time.Second}, 75, 100, func(s *camsim.Server) { s.Jump("cam1", 30*time.Second) })
	c.files(t, gop)
	c.event(t, "camera.timestamps", "video timestamps jumped forward by 30")
}

// A camera restarting its encoder inside its session: the pause is a gap
// "timestamp jump", the rest is recorded.
func TestConformanceRestartInSession(t *testing.T) {
	t.Parallel()
	var paused time.Time
	c := runCase(t, camsim.Options{Audio: true}, Camera{SegmentDuration: 2 * time.Second}, 75, 100, func(s *camsim.Server) {
		paused = time.Now()
		s.Restart("cam1", 2*time.Second)
	})
	c.files(t, gop)
	gaps := c.store.Gaps("cam")
	if len(gaps) != 1 || gaps[0].Cause != api.CauseTimestampJump {
		t.Fatalf("gaps %+v, want one timestamp jump", gaps)
	}
	if d := gaps[0].End.Sub(gaps[0].Start); d < 1500*time.Millisecond || d > 3*time.Second || gaps[0].Start.Sub(paused).Abs() > time.Second {
		t.Errorf("gap %s to %s, want the 2 s pause from %s", gaps[0].Start.Format(time.StampMilli), gaps[0].End.Format(time.StampMilli), paused.Format(time.StampMilli))
	}
}

// A camera clock 10% fast: without re-anchoring, 15 s of it would end the
// files 1.5 s in the future.
func TestConformanceDrift(t *testing.T) {
	t.Parallel()
	c := runCase(t, camsim.Options{}, Camera{SegmentDuration: 5 * time.Second}, 25, 375, func(s *camsim.Server) { s.Drift("cam1", 100_000) })
	c.files(t, gop)
	c.event(t, "camera.drift", "off the recorder's")
}

// GStreamer's shared media steps back the timestamps of the readers already
// playing when another one joins; a second client here must cost nothing.
func TestConformanceSecondClientOnSharedStream(t *testing.T) {
	t.Parallel()
	c := runCase(t, camsim.Options{}, Camera{SegmentDuration: 2 * time.Second}, 100, 100, func(s *camsim.Server) {
		s.SharedSteps("cam1", true)
		playAlongside(t, s.URL(1))
	})
	c.files(t, gop)
	c.event(t, "camera.timestamps", "stepped back")
	if c.states["failing"] {
		t.Errorf("states %v: want recording throughout", c.states)
	}
}

// playAlongside plays url with a second RTSP client until the test ends.
func playAlongside(t *testing.T, url string) {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	// A shared media may answer 503 while it is still being prepared for
	// the first client (GStreamer's does on a busy machine): try again
	// until it plays.
	deadline := time.Now().Add(20 * time.Second)
	for {
		other := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
		if err := other.Start(); err != nil {
			t.Fatal(err)
		}
		desc, _, err := other.Describe(u)
		if err == nil {
			if err = other.SetupAll(desc.BaseURL, desc.Medias); err == nil {
				_, err = other.Play(nil)
			}
		}
		if err == nil {
			t.Cleanup(other.Close)
			return
		}
		other.Close()
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
