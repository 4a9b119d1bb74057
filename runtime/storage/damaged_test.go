package storage

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/runtime/api"
)

func box(typ string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

// craftedSegments are the hardening issue's files: none may panic the
// agent or make it allocate without bound; "huge" is recovered, the
// others are quarantined.
func craftedSegments(t testing.TB) map[string][]byte {
	init, err := EncodeInit(opusTrack)
	if err != nil {
		t.Fatal(err)
	}
	// A 64-bit box size near the largest int64 (off+size overflowed)
	// after one good part: cut back to that part like a crash's file.
	var samples []Sample
	for range 50 {
		samples = append(samples, Sample{Duration: 960, Data: [][]byte{make([]byte, 100)}, Size: 100})
	}
	huge := append(append([]byte(nil), init...), EncodePart(1, []PartTrack{{ID: 1, Samples: samples}})...)
	huge = binary.BigEndian.AppendUint32(huge, 1)
	huge = append(huge, "moof"...)
	huge = binary.BigEndian.AppendUint64(huge, 1<<63-8)
	huge = append(huge, make([]byte, 700)...)
	// A trun claiming 4 billion samples of no per-sample fields.
	trun := box("trun", binary.BigEndian.AppendUint32([]byte{0, 0, 0, 0}, 0xffffffff))
	tfhd := box("tfhd", []byte{0, 0, 0, 0, 0, 0, 0, 1})
	runs := append(append([]byte(nil), init...), box("moof", box("traf", append(tfhd, trun...)))...)
	runs = append(runs, box("mdat", make([]byte, 16))...)
	// A moov that is not one.
	moov := append(box("ftyp", []byte("iso6\x00\x00\x00\x01")), box("moov", bytes.Repeat([]byte{0xff}, 200))...)
	moov = append(moov, box("moof", nil)...)
	return map[string][]byte{"huge": huge, "runs": runs, "moov": moov}
}

// TestDamagedSegmentsQuarantined: crafted segment files of one camera are
// moved aside with an event when the store opens; the volume and the
// other camera's recordings go on.
func TestDamagedSegmentsQuarantined(t *testing.T) {
	dir := t.TempDir()
	s, err := Open([]Volume{{Name: "main", Path: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := segment(t, s, "cam1", t0, 2)
	s.Close()

	day := filepath.Join(dir, "cam2", t0.Format("2006-01-02"))
	os.MkdirAll(day, 0o755)
	names := map[string]string{}
	i := 0
	for kind, b := range craftedSegments(t) {
		_, name := segmentName(t0.Add(time.Duration(i) * time.Second))
		i++
		if err := os.WriteFile(filepath.Join(day, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		names[kind] = name
	}

	s, err = Open([]Volume{{Name: "main", Path: dir}}, nil)
	if err != nil {
		t.Fatalf("a volume with damaged files does not open: %v", err)
	}
	defer s.Close()
	var mu sync.Mutex
	var events []api.Event
	s.SetEvents(func(e api.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })

	for kind, name := range names {
		want := filepath.Join(day, name+".damaged")
		if kind == "huge" {
			want = filepath.Join(day, name)
		}
		if _, err := os.Stat(want); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	mu.Lock()
	n := 0
	for _, e := range events {
		if e.Kind == "storage.quarantined" && e.Camera == "cam2" && strings.Contains(e.Message, "damaged") {
			n++
		}
	}
	mu.Unlock()
	if n != len(names)-1 {
		t.Errorf("%d storage.quarantined events, want %d: %v", n, len(names)-1, events)
	}
	if segs := s.Segments("cam1"); len(segs) != 1 || segs[0].Path != good.Path {
		t.Errorf("cam1's segments after opening: %v", segs)
	}
	if segs := s.Segments("cam2"); len(segs) != 1 || segs[0].End.Sub(segs[0].Start) != time.Second {
		t.Errorf("cam2's segments after opening: %v, want the one-part file recovered", segs)
	}
	// The volume still records.
	segment(t, s, "cam2", t0.Add(time.Duration(60)*time.Second), 1)
}

// TestLongIndexLineSkipped: one index line over the limit is skipped; the
// lines around it and the volume are kept.
func TestLongIndexLineSkipped(t *testing.T) {
	dir := t.TempDir()
	s, err := Open([]Volume{{Name: "main", Path: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := segment(t, s, "cam1", t0, 1)
	b := segment(t, s, "cam1", t0.Add(time.Duration(10)*time.Second), 1)
	s.Close()
	index := filepath.Join(dir, "cam1", indexName)
	lines, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := bytes.Cut(lines, []byte("\n"))
	long := append([]byte(`{"seg":{"path":"`), bytes.Repeat([]byte("x"), 17<<20)...)
	out := append(append(append(append(first, '\n'), long...), '\n'), rest...)
	if err := os.WriteFile(index, out, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = Open([]Volume{{Name: "main", Path: dir}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("a 17 MiB index line fails the volume: %v", err)
	}
	defer s.Close()
	if segs := s.Segments("cam1"); len(segs) != 2 || segs[0].SHA256 != a.SHA256 || segs[1].SHA256 != b.SHA256 {
		t.Errorf("segments after the long line: %v", segs)
	}
}
