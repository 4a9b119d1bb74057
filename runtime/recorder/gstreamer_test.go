package recorder

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/runtime/storage"
)

// gstServer is testdata/gst-rtsp-server.py running: GStreamer's RTSP
// server, shared and unshared media.
type gstServer struct {
	port  string
	mu    sync.Mutex
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startGStreamer(t *testing.T) *gstServer {
	t.Helper()
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		t.Skip("GStreamer's RTSP server test needs /usr/bin/python3 with gi")
	}
	cmd := exec.Command("/usr/bin/python3", "testdata/gst-rtsp-server.py")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// GStreamer's own complaints, shown when a test fails: a server that
	// died mid-test otherwise leaves only "connection refused".
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // the script exits when its input closes
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
			if t.Failed() {
				t.Logf("gst-rtsp-server.py %v; its stderr:\n%s", cmd.ProcessState, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	g := &gstServer{stdin: stdin, out: bufio.NewScanner(stdout)}
	if !g.out.Scan() {
		t.Fatalf("gst-rtsp-server.py said nothing: %v", g.out.Err())
	}
	switch f := strings.Fields(g.out.Text()); {
	case len(f) > 0 && f[0] == "skip":
		t.Skip(strings.TrimPrefix(g.out.Text(), "skip "))
	case len(f) == 2 && f[0] == "ready":
		g.port = f[1]
	default:
		t.Fatalf("gst-rtsp-server.py: %q", g.out.Text())
	}
	return g
}

func (g *gstServer) url(mount string) string { return "rtsp://127.0.0.1:" + g.port + mount }

// frames is how many video frames GStreamer encoded for mount so far.
func (g *gstServer) frames(t *testing.T, mount string) int64 {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintf(g.stdin, "frames %s\n", mount)
	if !g.out.Scan() {
		t.Fatalf("gst-rtsp-server.py: %v", g.out.Err())
	}
	f := strings.Fields(g.out.Text())
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	if err != nil {
		t.Fatalf("gst-rtsp-server.py: %q", g.out.Text())
	}
	return n
}

// TestGStreamerRTSPServer records from an RTSP server vigil did not write:
// unshared H.264 + AAC and H.265, and shared media that a second client
// joins (GStreamer then steps the timestamps of the first). Every frame
// GStreamer encoded reaches the files but at most one GOP, with increasing
// timestamps, files on the test's clock, and the camera recording
// throughout.
func TestGStreamerRTSPServer(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	g := startGStreamer(t)
	for _, tc := range []struct {
		mount   string
		streams []string
		second  bool // a second client joins
	}{
		{"/h264", []string{"h264", "aac"}, false},
		{"/h265", []string{"hevc"}, false},
		{"/shared", []string{"h264"}, true},
	} {
		t.Run(strings.Trim(tc.mount, "/"), func(t *testing.T) {
			t.Parallel()
			store := openStore(t, t.TempDir())
			m, events := newManager(t, store)
			m.Set([]Camera{{Name: "cam", URL: g.url(tc.mount), SegmentDuration: 2 * time.Second}})
			waitFor(t, 20*time.Second, "recording", func() bool { return m.Status()[0].State == "recording" })
			started := time.Now()
			states := map[string]bool{}
			written := func(n int64) func() bool {
				return func() bool {
					st := m.Status()[0]
					states[st.State] = true
					return st.Frames >= n
				}
			}
			waitFor(t, 20*time.Second, "frames", written(75))
			if tc.second {
				playAlongside(t, g.url(tc.mount))
			}
			waitFor(t, 20*time.Second, "frames", written(m.Status()[0].Frames+100))
			encoded := g.frames(t, tc.mount)
			m.Close()
			stopped := time.Now()
			if len(states) != 1 || !states["recording"] {
				t.Errorf("states while recording: %v", states)
			}
			files := checkFiles(t, store.Segments("cam"), tc.streams, started, stopped)
			// Unshared media is encoded for the recorder alone; shared media
			// also for the second client, which joined after the recorder.
			if lost := encoded - files; lost < 0 || lost > gop+5 {
				t.Errorf("GStreamer encoded %d frames, the files hold %d", encoded, files)
			}
			t.Logf("%s: %d frames encoded, %d in the files, %d timestamp events, gaps %+v", tc.mount, encoded, files,
				events.count("camera.timestamps"), store.Gaps("cam"))
		})
	}
}

// checkFiles probes every segment: the streams, increasing timestamps,
// and each file between started and stopped on the test's clock (within
// 1 s, the first keyframe may come a GOP before started). It returns the
// video frames in the files.
func checkFiles(t *testing.T, segs []storage.Segment, streams []string, started, stopped time.Time) int64 {
	t.Helper()
	var frames int64
	for _, seg := range segs {
		p := ffprobe(t, seg.Path)
		for i, want := range streams {
			if p[i] == nil || p[i].codec != want {
				t.Fatalf("%s: stream %d is %+v, want %s", seg.Path, i, p[i], want)
			}
			for j := 1; j < len(p[i].dts); j++ {
				if p[i].dts[j] <= p[i].dts[j-1] {
					t.Fatalf("%s stream %d: dts %v after %v", seg.Path, i, p[i].dts[j], p[i].dts[j-1])
				}
			}
		}
		frames += int64(len(p[0].dts))
		if seg.Start.Before(started.Add(-2*time.Second)) || seg.End.After(stopped.Add(time.Second)) {
			t.Errorf("segment %s to %s lies outside the recording (%s to %s)", seg.Start.Format(time.StampMilli),
				seg.End.Format(time.StampMilli), started.Format(time.StampMilli), stopped.Format(time.StampMilli))
		}
	}
	if last := segs[len(segs)-1].End; last.Sub(stopped).Abs() > time.Second {
		t.Errorf("the last segment ends at %s, the recording stopped at %s", last.Format(time.StampMilli), stopped.Format(time.StampMilli))
	}
	return frames
}

// lockedBuffer is a bytes.Buffer that the process's stderr copier and the
// test may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
