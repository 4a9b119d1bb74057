package recorder

import (
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/runtime/api"
)

// Settings that need no new connection apply to the running session; a new
// source (here the transport) is handed over make-before-break: the camera
// stays recording, no gap, and the files leave no hole.
func TestSettingsChangeWithoutHole(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	srv := startCamsim(t, camsim.Options{UDP: true})
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	cam := Camera{Name: "door", URL: srv.URL(1), SegmentDuration: 2 * time.Second}
	m.Set([]Camera{cam})
	waitFor(t, 10*time.Second, "recording", func() bool { return m.Status()[0].State == "recording" })
	since := m.Status()[0].Since

	cam.SegmentDuration, cam.StallTimeout, cam.Retention = 3*time.Second, 8*time.Second, time.Hour
	m.Set([]Camera{cam})
	frames := m.Status()[0].Frames
	waitFor(t, 10*time.Second, "frames", func() bool { return m.Status()[0].Frames > frames+50 })
	if st := m.Status()[0]; st.State != "recording" || !st.Since.Equal(since) || len(srv.Stats()["cam1"].Sessions) != 1 {
		t.Fatalf("after a change of settings: %+v, camsim sessions %+v: want the same session", st, srv.Stats()["cam1"].Sessions)
	}

	cam.Transport = "udp"
	m.Set([]Camera{cam})
	states := map[string]bool{}
	waitFor(t, 20*time.Second, "the handover", func() bool {
		states[m.Status()[0].State] = true
		ss := srv.Stats()["cam1"].Sessions
		return len(ss) == 2 && ss[0].Transport == "UDP" && !ss[1].Until.IsZero()
	})
	frames = m.Status()[0].Frames
	waitFor(t, 10*time.Second, "frames over UDP", func() bool {
		states[m.Status()[0].State] = true
		return m.Status()[0].Frames > frames+50
	})
	m.Close()
	if len(states) != 1 || !states["recording"] {
		t.Errorf("states during the handover: %v, want recording only", states)
	}
	if gaps := store.Gaps("door"); len(gaps) != 0 {
		t.Errorf("gaps %+v", gaps)
	}
	if n := events.count("camera.recording"); n != 1 {
		t.Errorf("%d camera.recording events, want 1: the camera never stopped", n)
	}
	segs := store.Segments("door")
	for i := 1; i < len(segs); i++ {
		if hole := segs[i].Start.Sub(segs[i-1].End); hole > 100*time.Millisecond {
			t.Errorf("a hole of %s before segment %d", hole, i)
		}
	}
	for _, seg := range segs {
		ffprobe(t, seg.Path)
	}
}

// A new source that does not work: the old one records until handoverWait,
// then the camera is failing with the new source's cause, its gap starting
// at the handover, not before.
func TestHandoverToABrokenSource(t *testing.T) {
	t.Parallel()
	srv := startCamsim(t, camsim.Options{})
	store := openStore(t, t.TempDir())
	m, _ := newManager(t, store)
	cam := Camera{Name: "door", URL: srv.URL(1)}
	m.Set([]Camera{cam})
	waitFor(t, 10*time.Second, "recording", func() bool { return m.Status()[0].State == "recording" })
	changed := time.Now()
	cam.URL = "rtsp://127.0.0.1:9/nothing"
	m.Set([]Camera{cam})
	waitFor(t, handoverWait+10*time.Second, "failing", func() bool { return m.Status()[0].State == "failing" })
	st := m.Status()[0]
	if st.Gap == nil || st.Gap.Cause != api.CauseUnreachable || st.Gap.Start.Before(changed.Add(handoverWait)) {
		t.Errorf("status %+v, gap %+v: want unreachable from the handover, %s after the change", st, st.Gap, handoverWait)
	}
	waitFor(t, 10*time.Second, "the old session closed", func() bool { return srv.Stats()["cam1"].Readers == 0 })
}
