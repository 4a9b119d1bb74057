package recorder

import (
	"errors"
	"testing"
	"time"

	"vigil/dev/camsim"
)

// A viewer that never reads loses live frames; another viewer gets every
// frame from a keyframe on, in order; the recording loses nothing; and the
// viewers are let go when the camera leaves this server.
func TestLiveViewersNeverSlowRecording(t *testing.T) {
	srv := startCamsim(t, camsim.Options{})
	m, _ := newManager(t, openStore(t, t.TempDir()))
	if _, err := m.Live("cam", 8); !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("Live of a camera not recorded: %v, want ErrNotRecorded", err)
	}
	m.Set([]Camera{{Name: "cam", URL: srv.URL(1)}})
	waitFor(t, 20*time.Second, "recording", func() bool {
		st := m.Status()
		return len(st) == 1 && st[0].State == "recording"
	})
	stuck, err := m.Live("cam", 1)
	if err != nil {
		t.Fatal(err)
	}
	view, err := m.Live("cam", 64)
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	for i := 0; i < 60; i++ {
		f, ok := <-view.C
		if !ok {
			t.Fatal("the live view ended while the camera records")
		}
		if i == 0 && f.Sample.NonSync {
			t.Fatal("the first live frame is not a keyframe")
		}
		if !f.Wall.After(last) || f.Sample.Duration == 0 || f.Sample.Size == 0 || f.Codec == nil {
			t.Fatalf("frame %d: wall %v after %v, duration %d, size %d", i, f.Wall, last, f.Sample.Duration, f.Sample.Size)
		}
		last = f.Wall
	}
	if stuck.Lost() == 0 {
		t.Error("a viewer that never reads lost no frame")
	}
	if st := m.Status()[0]; st.Dropped != 0 {
		t.Errorf("the recording dropped %d frames", st.Dropped)
	}
	m.Set(nil)
	for range view.C { // drains, then ends: the camera left
	}
	for range stuck.C {
	}
	view.Close() // after the end: no effect
}
