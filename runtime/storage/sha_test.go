package storage

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"vigil/runtime/evidence"
)

// TestSegmentSHA256: the hash kept in the index is that of the file's bytes,
// computed while writing, kept across a restart, and computed by the
// recovery of a segment a crash left open (after it is cut back).
func TestSegmentSHA256(t *testing.T) {
	dir := t.TempDir()
	s := open(t, []Volume{{Path: dir}})
	a := segment(t, s, "cam", t0, 3)
	if want := mustHash(t, a.Path); a.SHA256 != want || len(want) != 64 {
		t.Fatalf("closed segment's hash %q, file's %q", a.SHA256, want)
	}
	// A crash: an open segment with 2 parts and a torn third.
	f, err := s.Create("cam", t0.Add(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	writeParts(t, f, 2)
	fd, err := os.OpenFile(f.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd.Write([]byte{0, 0, 0x10, 0, 'm', 'o', 'o', 'f', 1, 2, 3})
	fd.Close()
	s.Close()

	s2 := open(t, []Volume{{Path: dir}})
	segs := s2.Segments("cam")
	if len(segs) != 2 {
		t.Fatalf("segments after restart: %v", segs)
	}
	if segs[0].SHA256 != a.SHA256 {
		t.Errorf("hash after restart %q, want %q", segs[0].SHA256, a.SHA256)
	}
	if want := mustHash(t, segs[1].Path); segs[1].SHA256 != want {
		t.Errorf("recovered segment's hash %q, file's (cut back) %q", segs[1].SHA256, want)
	}
	s2.Close()

	// An index written before hashes were kept loads with empty hashes.
	idx := filepath.Join(dir, "cam", indexName)
	line := `{"seg":{"path":"2026-11-20/10-00-00.000000.mp4","start":"2026-11-20T10:00:00Z","end":"2026-11-20T10:00:03Z","bytes":` +
		strconv.FormatInt(a.Bytes, 10) + `,"codec":"opus"}}` + "\n"
	if err := os.WriteFile(idx, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	s3 := open(t, []Volume{{Path: dir}})
	if segs := s3.Segments("cam"); len(segs) != 2 || segs[0].SHA256 != "" || segs[1].SHA256 == "" {
		t.Errorf("old index line: %+v", segs)
	}
}

func mustHash(t *testing.T, path string) string {
	t.Helper()
	h, err := evidence.HashFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
