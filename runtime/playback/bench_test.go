package playback

import (
	"crypto/sha256"
	"os"
	"sync"
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// BenchmarkExportHour is the export of one hour of a 3 Mbit/s camera
// (camsim's 1080p clip, 25 fps, 2 s GOP) in 1-minute segments on this
// server's disk: the files read part by part, the progressive MP4 built
// and hashed as the agent does (without the HTTP transfer). Setting up
// writes the hour (1.35 GB) first.
func BenchmarkExportHour(b *testing.B) {
	clip, err := camsim.LoadClip("h264", "1080p")
	if err != nil {
		b.Fatal(err)
	}
	store, err := storage.Open([]storage.Volume{{Path: b.TempDir()}}, nil, storage.WithRetentionInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	start := time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)
	if err := camsim.WriteFootage(store, clip, "cam1", "rec-1", start, time.Hour, time.Minute); err != nil {
		b.Fatal(err)
	}
	var files []File
	var total int64
	for _, seg := range store.Segments("cam1") {
		info, err := storage.Probe(seg.Path)
		if err != nil {
			b.Fatal(err)
		}
		total += seg.Bytes
		files = append(files, File{Piece: api.Piece{Server: "rec-1", Start: seg.Start, End: seg.End, Bytes: seg.Bytes, Path: seg.Path},
			Layout: LayoutOf(&info, true)})
	}
	init, err := os.ReadFile(files[0].Piece.Path)
	if err != nil {
		b.Fatal(err)
	}
	init = init[:files[0].Layout.InitSize]
	items := Cut(files, start, start.Add(time.Hour))
	var mu sync.Mutex
	open := map[string]*os.File{}
	read := func(_, path string, off, size int64) ([]byte, error) {
		mu.Lock()
		f := open[path]
		if f == nil {
			if f, err = os.Open(path); err != nil {
				mu.Unlock()
				return nil, err
			}
			open[path] = f
		}
		mu.Unlock()
		buf := make([]byte, size)
		_, err := f.ReadAt(buf, off)
		return buf, err
	}
	b.SetBytes(total)
	b.ResetTimer()
	for range b.N {
		if err := Export(sha256.New(), items, init, read); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for _, f := range open {
		f.Close()
	}
}
