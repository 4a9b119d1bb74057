package storage

import (
	"bytes"
	"log/slog"
	"testing"
)

// FuzzProbe feeds arbitrary bytes to the segment reader that runs on every
// file of a volume at start: it may return an error, never panic or
// allocate without bound. The corpus starts from a real segment and the
// hardening issue's crafted files.
func FuzzProbe(f *testing.F) {
	init, err := EncodeInit(opusTrack)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(init, EncodePart(1, []PartTrack{{ID: 1, Samples: []Sample{{Duration: 960, Data: [][]byte{{1, 2, 3}}, Size: 3}}}})...))
	for _, b := range craftedSegments(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := probe(bytes.NewReader(b), int64(len(b)))
		if err == nil && info.ValidSize > int64(len(b)) {
			t.Fatalf("valid size %d of a %d-byte file", info.ValidSize, len(b))
		}
		_, _ = ParseMoof(b)
	})
}

// FuzzIndex feeds arbitrary bytes to the index parser: any line may be
// torn or crafted, none may stop the volume from opening.
func FuzzIndex(f *testing.F) {
	f.Add([]byte(`{"seg":{"path":"2026-11-20/10-00-00.000000.mp4","start":"2026-11-20T10:00:00Z","end":"2026-11-20T10:00:02Z","bytes":100,"codec":"opus","server":"rec-1"}}` + "\n" +
		`{"del":"2026-11-20/10-00-00.000000.mp4"}` + "\n" + `{"days":{"2026-11-20":100}}` + "\n" + `{"gap":{"camera":"c","start":"2026-11-20T10:00:00Z"}}` + "\n"))
	f.Add([]byte("{\"seg\":\n\xff\x00"))
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, b []byte) {
		c := &camIndex{camera: "c", days: map[string]int64{}}
		if err := parseIndex(bytes.NewReader(b), "index.jsonl", c, map[string]segRecord{}, log); err != nil {
			t.Fatalf("index parse failed (the volume would not open): %v", err)
		}
		if len(c.gaps) > maxGaps {
			t.Fatalf("%d gaps kept", len(c.gaps))
		}
	})
}
