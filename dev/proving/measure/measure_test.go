package measure

import (
	"os"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/runtime/storage"
)

const period = 40 * time.Millisecond

// frames returns n frame times from start, one period apart.
func frames(start time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * period)
	}
	return out
}

func TestAnalyzeTakeover(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// s1 records 100 frames (4 s) and dies; s2 takes over 50 frames (2 s)
	// later, with a 3 ms clock offset, and records 100 frames.
	a := frames(t0, 100)
	b := frames(t0.Add(150*period+3*time.Millisecond), 100)
	c := Analyze("cam1", map[string][]time.Time{"s1": a, "s2": b}, t0, t0.Add(250*period), period)
	if c.Lost != 50 {
		t.Errorf("lost %d frames, want 50", c.Lost)
	}
	if want := 50*period + 3*time.Millisecond; c.Gap != want {
		t.Errorf("gap %v, want %v", c.Gap, want)
	}
	if !c.GapStart.Equal(a[99]) || !c.GapEnd.Equal(b[0]) {
		t.Errorf("gap from %v to %v, want %v to %v", c.GapStart, c.GapEnd, a[99], b[0])
	}
	if c.Duplicated != 0 || c.Frames != 200 {
		t.Errorf("duplicated %v frames %d, want 0 and 200", c.Duplicated, c.Frames)
	}
}

func TestAnalyzeMakeBeforeBreak(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// The backup records frames 0-99, the primary 80-199 (5 ms late): 20
	// frames recorded twice, none lost.
	a := frames(t0, 100)
	b := frames(t0.Add(80*period+5*time.Millisecond), 120)
	c := Analyze("cam1", map[string][]time.Time{"backup": a, "primary": b}, t0, t0.Add(200*period), period)
	if c.Lost != 0 || c.Gap != 0 {
		t.Errorf("lost %d gap %v, want none", c.Lost, c.Gap)
	}
	if c.Frames != 200 {
		t.Errorf("%d distinct frames, want 200", c.Frames)
	}
	if want := 20*period - 5*time.Millisecond; c.Duplicated != want {
		t.Errorf("duplicated %v, want %v", c.Duplicated, want)
	}
}

func TestAnalyzeEdges(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Nothing recorded: the whole window is lost.
	c := Analyze("cam1", nil, t0, t0.Add(time.Second), period)
	if c.Lost != 25 || c.Gap != time.Second {
		t.Errorf("empty: lost %d gap %v, want 25 and 1s", c.Lost, c.Gap)
	}
	// Recording starts 10 frames into the window and stops 5 before it ends.
	c = Analyze("cam1", map[string][]time.Time{"s1": frames(t0.Add(10*period), 85)}, t0, t0.Add(100*period), period)
	if c.Lost != 15 {
		t.Errorf("edges: lost %d, want 15", c.Lost)
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 3}, {99, 5}, {100, 5}, {0, 1}} {
		if got := Percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
}

// TestReadFile writes a segment with package storage, the way the recorder
// does, and reads its frame times back.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	st, err := storage.Open([]storage.Volume{{Name: "main", Path: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)
	f, err := st.Create("cam1", start)
	if err != nil {
		t.Fatal(err)
	}
	init, err := storage.EncodeInit([]storage.Track{{ID: 1, TimeScale: 90000, Codec: &codecs.H264{
		SPS: []byte{0x67, 0x42, 0xc0, 0x1f, 0xd9, 0x00, 0xf0, 0x11, 0x7e, 0xf0, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01,
			0x00, 0x00, 0x03, 0x00, 0x30, 0x8f, 0x18, 0x32, 0x48},
		PPS: []byte{0x68, 0xce, 0x3c, 0x80}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WriteInit(init); err != nil {
		t.Fatal(err)
	}
	// Two parts of 25 frames at 25 fps.
	for p := range 2 {
		samples := make([]storage.Sample, 25)
		for i := range samples {
			samples[i] = storage.Sample{Duration: 3600, NonSync: i > 0, Data: [][]byte{{0, 0, 0, 1, 0x65}}, Size: 5}
		}
		if err := f.WritePart([]storage.PartTrack{{ID: 1, BaseTime: uint64(p) * 25 * 3600, Samples: samples}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Close(start.Add(2*time.Second), "h264", "s1"); err != nil {
		t.Fatal(err)
	}
	site, err := Read(map[string][]string{"s1": {dir}})
	if err != nil {
		t.Fatal(err)
	}
	got := site["cam1"]["s1"]
	if len(got) != 50 {
		t.Fatalf("read %d frames, want 50", len(got))
	}
	for i, ts := range got {
		if want := start.Add(time.Duration(i) * period); !ts.Equal(want) {
			t.Fatalf("frame %d at %v, want %v", i, ts, want)
		}
	}
}

func TestReadFileWithoutInit(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/2026-03-04/05-06-07.000000.mp4"
	if err := os.MkdirAll(dir+"/2026-03-04", 0o755); err != nil {
		t.Fatal(err)
	}
	// A segment the recorder has just created: only part of the ftyp box.
	if err := os.WriteFile(p, []byte{0, 0, 0, 24, 'f', 't'}, 0o644); err != nil {
		t.Fatal(err)
	}
	times, err := ReadFile(p)
	if err != nil || len(times) != 0 {
		t.Fatalf("ReadFile = %d frames, %v; want none and no error", len(times), err)
	}
}
