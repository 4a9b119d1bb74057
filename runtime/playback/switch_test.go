package playback

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// Playback (HLS, the .mp4 stream) and the export across a server switch
// whose recordings overlap by less than a GOP hold every frame time once,
// on a clock that only goes forward: no hole longer than a frame, the
// whole period long, as ffmpeg reads them.
func TestAcrossASwitch(t *testing.T) {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian's ffmpeg)", tool)
		}
	}
	// rec-2's key frames 0.4 s into rec-1's parts, and inside the first
	// frame of one (which then keeps no frame).
	for _, from := range []float64{8.4, 8.01} {
		t.Run(strconv.FormatFloat(from, 'f', -1, 64), func(t *testing.T) { acrossASwitch(t, from) })
	}
}

func acrossASwitch(t *testing.T, from float64) {
	clip, err := camsim.LoadClip("h264", "small") // 1 s GOP
	if err != nil {
		t.Fatal(err)
	}
	// rec-1 records 0..10 s, rec-2 from 8.4 s: its key frames at 8.4 s,
	// 9.4 s, 10.4 s..., none at rec-1's end; it plays from 9.4 s.
	var files []File
	infos := map[string]*storage.ProbeInfo{}
	for _, rec := range []struct {
		server string
		start  float64
	}{{"rec-1", 0}, {"rec-2", from}} {
		store, err := storage.Open([]storage.Volume{{Path: t.TempDir()}}, nil, storage.WithRetentionInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		if err := camsim.WriteFootage(store, clip, "cam1", rec.server, at(rec.start), 10*time.Second, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		for _, seg := range store.Segments("cam1") {
			info, err := storage.Probe(seg.Path)
			if err != nil {
				t.Fatal(err)
			}
			infos[seg.Path] = &info
			files = append(files, File{Piece: api.Piece{Server: rec.server, Start: seg.Start, End: seg.End, Bytes: seg.Bytes, Path: seg.Path},
				Layout: LayoutOf(&info, true)})
		}
	}
	items := Cut(files, at(0), at(18))
	if len(items) != 2 || items[1].Start() != at(from+1) || items[0].End() != at(from+1) || len(Holes(items)) != 0 {
		t.Fatalf("items %+v", items)
	}
	read := func(path string, off, size int64, shift, cut time.Duration) ([]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil || off+size > int64(len(b)) {
			return nil, fmt.Errorf("reading %s: %v", path, err)
		}
		b = b[off : off+size]
		Patch(b, off, infos[path], shift, cut)
		return b, nil
	}
	dir := t.TempDir()

	// HLS, its media served as the agent does.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/index.m3u8" {
			io.WriteString(w, Playlist(items, false))
			return
		}
		// /v1/playback/media/SERVER/SHIFT[,CUT]/PATH
		parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v1/playback/media/"), "/", 3)
		shift, cut, err := ParseMediaTimes(parts[1])
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		info := infos[parts[2]]
		if info == nil {
			http.NotFound(w, r)
			return
		}
		b, err := read(parts[2], 0, info.ValidSize, shift, cut)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	}))
	defer srv.Close()
	hls := filepath.Join(dir, "hls.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", srv.URL+"/index.m3u8", "-c", "copy", hls).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg -i index.m3u8 -c copy: %v: %s", err, out)
	}

	// The .mp4 stream.
	chunks, ok := Stream(items)
	if !ok {
		t.Fatal("not one stream")
	}
	var stream []byte
	for _, c := range chunks {
		b, err := read(c.Path, c.Offset, c.Size, c.Shift, c.Cut)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	mp4 := filepath.Join(dir, "stream.mp4")
	if err := os.WriteFile(mp4, stream, 0o644); err != nil {
		t.Fatal(err)
	}

	// The export.
	exported := filepath.Join(dir, "export.mp4")
	w, err := os.Create(exported)
	if err != nil {
		t.Fatal(err)
	}
	err = Export(w, items, stream[:chunks[0].Size], func(_, path string, off, size int64) ([]byte, error) {
		return read(path, off, size, 0, 0)
	})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}

	frame := time.Second / time.Duration(clip.FPS)
	for _, out := range []string{hls, mp4, exported} {
		if dec, err := exec.Command("ffmpeg", "-v", "error", "-i", out, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(dec)) > 0 {
			t.Errorf("decoding %s: %v: %s", filepath.Base(out), err, dec)
		}
		b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=dts_time", "-of", "csv=p=0", out).Output()
		if err != nil {
			t.Fatalf("ffprobe: %v", err)
		}
		var first, last time.Duration = -1, -1
		for _, line := range strings.Fields(string(b)) {
			s, err := strconv.ParseFloat(strings.TrimSuffix(line, ","), 64)
			if err != nil {
				t.Fatalf("dts %q", line)
			}
			d := time.Duration(s * float64(time.Second))
			// Where a part is cut inside a frame, the frame before is
			// held a little longer: less than two frames apart.
			if last >= 0 && (d < last+frame-time.Millisecond || d-last >= 2*frame) {
				t.Errorf("%s: a frame at %v after one at %v: closer than a frame, or a hole", filepath.Base(out), d, last)
			}
			if first < 0 {
				first = d
			}
			last = d
		}
		// To the end of the part holding 18 s.
		if got, want := last-first, at(from+10).Sub(at(0))-frame; (got - want).Abs() > time.Millisecond {
			t.Errorf("%s: frames from %v to %v, want %v long", filepath.Base(out), first, last, want)
		}
	}
}
