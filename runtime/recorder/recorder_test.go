package recorder

import (
	"bufio"
	"bytes"
	"fmt"

	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"vigil/dev/camsim"
	"vigil/runtime/api"
	"vigil/runtime/storage"
)

type eventLog struct {
	mu sync.Mutex
	ev []api.Event
}

func (l *eventLog) add(e api.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) count(kind string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func startCamsim(t *testing.T, opts camsim.Options) *camsim.Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Paths == 0 {
		opts.Paths = 1
	}
	srv, err := camsim.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func newManager(t *testing.T, store *storage.Store) (*Manager, *eventLog) {
	t.Helper()
	events := &eventLog{}
	m, err := NewManager(ManagerConfig{ServerName: "rec-1", Store: store, Events: events.add, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m, events
}

func openStore(t *testing.T, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open([]storage.Volume{{Path: dir}}, nil, storage.WithRetentionInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func needFFprobe(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
}

// probed is what ffprobe says about one stream of a file.
type probed struct {
	codec string
	dts   []float64
}

// ffprobe reads every packet of every stream; any message on stderr (at
// level error) fails the test.
func ffprobe(t *testing.T, path string) map[int]*probed {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=stream_index,dts_time:stream=index,codec_name",
		"-of", "csv=p=0", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffprobe %s: %v: %s", path, err, stderr.String())
	}
	streams := map[int]*probed{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 2 {
			continue
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		if streams[idx] == nil {
			streams[idx] = &probed{}
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			streams[idx].dts = append(streams[idx].dts, v)
		} else {
			streams[idx].codec = f[1]
		}
	}
	return streams
}

// decodeAll decodes every frame of a file with ffmpeg (when installed): any
// decoder complaint fails the test.
func decodeAll(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return
	}
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("ffmpeg decoding %s: %v %s", path, err, out)
	}
}

// recordFor records cam until d of camsim's video (25 fps) is in the files.
func recordFor(t *testing.T, srv *camsim.Server, cam Camera, d time.Duration) (*storage.Store, int64) {
	t.Helper()
	store := openStore(t, t.TempDir())
	m, _ := newManager(t, store)
	m.Set([]Camera{cam})
	waitFor(t, 5*time.Second, "recording", func() bool { return m.Status()[0].State == "recording" })
	waitFor(t, d+20*time.Second, fmt.Sprintf("%v of video written", d), func() bool { return m.Status()[0].Frames >= int64(d.Seconds()*25) })
	sent := srv.Stats()["cam1"].Sessions[0].FramesFromKeyframe
	m.Close()
	return store, sent
}

// checkRecording probes every segment: no ffprobe error, increasing
// timestamps, consecutive segments joined within one frame; it returns the
// video frames in the files.
func checkRecording(t *testing.T, segs []storage.Segment, wantStreams []string) int {
	t.Helper()
	if len(segs) < 2 {
		t.Fatalf("want at least 2 segments, got %d", len(segs))
	}
	frames := 0
	for i, seg := range segs {
		decodeAll(t, seg.Path)
		streams := ffprobe(t, seg.Path)
		if len(streams) != len(wantStreams) {
			t.Fatalf("%s: %d streams, want %v", seg.Path, len(streams), wantStreams)
		}
		for idx, want := range wantStreams {
			st := streams[idx]
			if st.codec != want {
				t.Errorf("%s stream %d: codec %q, want %q", seg.Path, idx, st.codec, want)
			}
			for j := 1; j < len(st.dts); j++ {
				if st.dts[j] <= st.dts[j-1] {
					t.Fatalf("%s stream %d: dts %v after %v", seg.Path, idx, st.dts[j], st.dts[j-1])
				}
			}
		}
		frames += len(streams[0].dts)
		// The index's end time is where the file's media ends.
		v := streams[0].dts
		fileDur := time.Duration((v[len(v)-1] - v[0] + 0.04) * float64(time.Second))
		if d := seg.End.Sub(seg.Start) - fileDur; d < -50*time.Millisecond || d > 50*time.Millisecond {
			t.Errorf("%s: index says %v, the file holds %v of video", seg.Path, seg.End.Sub(seg.Start), fileDur)
		}
		if i > 0 {
			if gap := seg.Start.Sub(segs[i-1].End); gap < -time.Millisecond || gap > 40*time.Millisecond {
				t.Errorf("segment %d starts %v after the previous one ends", i, gap)
			}
		}
		if !strings.HasPrefix(filepath.Base(seg.Path), seg.Start.UTC().Format("15-04-05.")) {
			t.Errorf("file %s does not carry its start time %s", seg.Path, seg.Start.UTC())
		}
	}
	return frames
}

func TestRecordH264(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	srv := startCamsim(t, camsim.Options{})
	store, sent := recordFor(t, srv, Camera{Name: "door", URL: srv.URL(1), SegmentDuration: 2 * time.Second}, 4*time.Second)
	segs := store.Segments("door")
	frames := checkRecording(t, segs, []string{"h264"})
	// The small clip has a 1 s GOP (25 frames).
	if d := sent - int64(frames); d < 0 || d > 25 {
		t.Errorf("camsim sent %d frames from the first keyframe, files hold %d", sent, frames)
	}
	for _, seg := range segs {
		if seg.Codec != "h264" || seg.Server != "rec-1" || seg.Bytes == 0 {
			t.Errorf("index entry %+v", seg)
		}
	}
	if day := store.DailyBytes("door")[time.Now().UTC().Format(time.DateOnly)]; day == 0 {
		t.Error("no daily bytes")
	}
}

func TestRecordH265WithAudio(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	srv := startCamsim(t, camsim.Options{Codec: "h265", Audio: true})
	store, sent := recordFor(t, srv, Camera{Name: "yard", URL: srv.URL(1), SegmentDuration: 2 * time.Second}, 4*time.Second)
	segs := store.Segments("yard")
	frames := checkRecording(t, segs, []string{"hevc", "aac"})
	if d := sent - int64(frames); d < 0 || d > 25 {
		t.Errorf("camsim sent %d frames from the first keyframe, files hold %d", sent, frames)
	}
	if segs[0].Codec != "h265+aac" {
		t.Errorf("codec %q", segs[0].Codec)
	}
}

// TestRecorderHelperProcess is the recorder that TestCrashRecoveryAndResume
// kills with SIGKILL.
func TestRecorderHelperProcess(t *testing.T) {
	dir, url := os.Getenv("VIGIL_RECORDER_HELPER_DIR"), os.Getenv("VIGIL_RECORDER_HELPER_URL")
	if dir == "" {
		t.Skip("helper process of TestCrashRecoveryAndResume")
	}
	store := openStore(t, dir)
	m, _ := newManager(t, store)
	m.Set([]Camera{{Name: "gate", URL: url}})
	waitFor(t, 5*time.Second, "recording", func() bool { return m.Status()[0].State == "recording" })
	fmt.Println("recording")
	select {}
}

func TestCrashRecoveryAndResume(t *testing.T) {
	t.Parallel()
	needFFprobe(t)
	srv := startCamsim(t, camsim.Options{})
	dir := t.TempDir()

	// A recorder in another process, killed with SIGKILL mid-segment.
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecorderHelperProcess$")
	cmd.Env = append(os.Environ(), "VIGIL_RECORDER_HELPER_DIR="+dir, "VIGIL_RECORDER_HELPER_URL="+srv.URL(1))
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "recording" {
		cmd.Process.Kill()
		t.Fatalf("helper: %q", line)
	}
	// Killed once two parts (2 s) of the open segment are on disk.
	var files []string
	waitFor(t, 20*time.Second, "two parts on disk", func() bool {
		files, _ = filepath.Glob(filepath.Join(dir, "gate", "*", "*.mp4"))
		if len(files) == 0 {
			return false
		}
		info, err := storage.Probe(files[0])
		return err == nil && info.Duration >= 2*time.Second
	})
	cmd.Process.Kill()
	cmd.Wait()

	// The cut file plays up to its last part, before any recovery.
	files, _ = filepath.Glob(filepath.Join(dir, "gate", "*", "*.mp4"))
	if len(files) != 1 {
		t.Fatalf("segments left by the killed recorder: %v", files)
	}
	cut := files[0]
	if n := len(ffprobe(t, cut)[0].dts); n < 25 {
		t.Errorf("the cut file plays %d frames", n)
	}
	decodeAll(t, cut)
	info, err := storage.Probe(cut)
	if err != nil {
		t.Fatal(err)
	}
	// A power cut can also leave a part half-written after the last one.
	f, _ := os.OpenFile(cut, os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("\x00\x00\x10\x00moof\x00\x00\x00"))
	f.Close()

	store := openStore(t, dir)
	segs := store.Segments("gate")
	if len(segs) != 1 || segs[0].Bytes != info.ValidSize || segs[0].End.Sub(segs[0].Start) != info.Duration {
		t.Fatalf("recovered index: %+v (want one segment of %d bytes, %v)", segs, info.ValidSize, info.Duration)
	}
	if st, _ := os.Stat(cut); st.Size() != info.ValidSize {
		t.Errorf("recovered file is %d bytes, want it cut to %d", st.Size(), info.ValidSize)
	}
	ffprobe(t, cut)

	// Restart: recording resumes, the span since the crash is a "restart" gap.
	m, _ := newManager(t, store)
	m.Set([]Camera{{Name: "gate", URL: srv.URL(1)}})
	waitFor(t, 5*time.Second, "recording", func() bool { return m.Status()[0].State == "recording" })
	waitFor(t, 20*time.Second, "a part on disk", func() bool { return !m.Status()[0].MediaEnd.IsZero() })
	m.Close()
	if n := len(store.Segments("gate")); n != 2 {
		t.Errorf("segments after resume: %d", n)
	}
	gaps := store.Gaps("gate")
	if len(gaps) != 1 || gaps[0].Cause != api.CauseRestart || !gaps[0].Start.Equal(segs[0].End) {
		t.Errorf("gaps after restart: %+v", gaps)
	}
}

func TestDropAndStallMakeGaps(t *testing.T) {
	t.Parallel()
	srv := startCamsim(t, camsim.Options{})
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	m.Set([]Camera{{Name: "hall", URL: srv.URL(1), StallTimeout: time.Second}})
	recording := func() bool { return m.Status()[0].State == "recording" }
	waitFor(t, 5*time.Second, "recording", recording)

	// A dropped session: gortsplib's server closes it without closing the
	// TCP connection at once, so the recorder sees either the disconnect or
	// the silence first.
	srv.Drop("cam1")
	waitFor(t, 5*time.Second, "a gap", func() bool { return len(store.Gaps("hall")) >= 1 })
	waitFor(t, 5*time.Second, "recording again", recording)
	if c := store.Gaps("hall")[0].Cause; c != api.CauseDisconnect && c != api.CauseStall {
		t.Errorf("gap cause after a drop: %q", c)
	}

	stalled := time.Now()
	srv.Stall("cam1", 2500*time.Millisecond)
	stallGap := func() *api.Gap {
		for _, g := range store.Gaps("hall") {
			if g.Cause == api.CauseStall && g.End.After(stalled) {
				return &g
			}
		}
		return nil
	}
	waitFor(t, 10*time.Second, "a stall gap", func() bool { return stallGap() != nil })
	waitFor(t, 5*time.Second, "recording again", recording)
	if g := stallGap(); g.End.Sub(g.Start) < 2*time.Second || g.End.Sub(g.Start) > 8*time.Second {
		t.Errorf("stall gap %+v", g)
	}
	for _, g := range store.Gaps("hall") {
		if !g.End.After(g.Start) || g.Server != "rec-1" {
			t.Errorf("gap %+v", g)
		}
	}
	if events.count("camera.stalled") == 0 || events.count("camera.recording") < 3 {
		t.Errorf("events: %+v", events.ev)
	}
}

func TestWrongPasswordNoRetryStorm(t *testing.T) {
	t.Parallel()
	srv := startCamsim(t, camsim.Options{Username: "admin", Password: "secret"})
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	// void, an unreachable camera, retries with the ordinary backoff (1 s,
	// 2 s, ...): its attempts show how far the sessions' clock has gone.
	m.Set([]Camera{{Name: "lobby", URL: srv.URL(1), Username: "admin", Password: "wrong"}, {Name: "void", URL: "rtsp://127.0.0.1:1/cam1"}})
	attempts := func(camera string) float64 {
		var mt dto.Metric
		m.reconnects.WithLabelValues(camera).Write(&mt)
		return mt.GetCounter().GetValue()
	}
	waitFor(t, 5*time.Second, "an auth event and void's first attempt", func() bool {
		return events.count("camera.auth") == 1 && attempts("void") >= 1
	})
	// Two more attempts of void span at least its second wait (at least
	// 1.6 s), longer than lobby's first wait would be (at most 1.2 s) were it
	// not the maximum (a sleep proves nothing on a busy machine).
	from := attempts("void")
	waitFor(t, 30*time.Second, "two more attempts of void", func() bool { return attempts("void") >= from+2 })
	st := m.Status()[0]
	if st.State != "failing" || !strings.Contains(st.Error, "password") {
		t.Errorf("status %+v", st)
	}
	if n := attempts("lobby"); n != 1 {
		t.Errorf("%v connection attempts while void made %v, want 1 (backoff to the maximum)", n, attempts("void"))
	}
	if events.count("camera.auth") != 1 {
		t.Errorf("auth events: %d", events.count("camera.auth"))
	}

	// The right password records; the other camera was never affected.
	m.Set([]Camera{{Name: "lobby", URL: srv.URL(1), Username: "admin", Password: "secret"}})
	waitFor(t, 5*time.Second, "recording", func() bool {
		s := m.Status()
		return len(s) == 1 && s[0].State == "recording"
	})
}

func TestUnreachableCamera(t *testing.T) {
	t.Parallel()
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	m.Set([]Camera{{Name: "void", URL: "rtsp://127.0.0.1:1/cam1"}})
	waitFor(t, 5*time.Second, "an unreachable event", func() bool { return events.count("camera.unreachable") == 1 })
	if st := m.Status()[0]; st.State != "failing" {
		t.Errorf("status %+v", st)
	}
}

func TestRecordUDP(t *testing.T) {
	t.Parallel()
	srv := startCamsim(t, camsim.Options{UDP: true})
	store := openStore(t, t.TempDir())
	m, _ := newManager(t, store)
	m.Set([]Camera{{Name: "udp", URL: srv.URL(1), Transport: "udp"}})
	waitFor(t, 5*time.Second, "recording", func() bool { return m.Status()[0].State == "recording" })
	waitFor(t, 20*time.Second, "1 s of video written", func() bool { return m.Status()[0].Frames >= 25 })
	if s := srv.Stats()["cam1"].Sessions; len(s) != 1 || !strings.EqualFold(s[0].Transport, "udp") {
		t.Fatalf("camsim sessions: %+v", s)
	}
	m.Close()
	segs := store.Segments("udp")
	if len(segs) != 1 {
		t.Fatalf("segments: %+v", segs)
	}
	info, err := storage.Probe(segs[0].Path)
	if err != nil || info.VideoSamples() < 25 {
		t.Errorf("probe: %+v %v", info, err)
	}
}

// TestFullDiskResumes fills a small tmpfs: the full disk is an event, not a
// crash, retention deletes the oldest segment and recording resumes. A 2 MB
// disk refills within seconds, so storage.ok (announced only after 30 s
// without a failed write) is not awaited: frames written after the full
// event show that recording resumed.
func TestFullDiskResumes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	srv := startCamsim(t, camsim.Options{Profile: "1080p"})
	store := openStore(t, dir)
	m, events := newManager(t, store)
	m.Set([]Camera{{Name: "full", URL: srv.URL(1), SegmentDuration: time.Second}})
	waitFor(t, 15*time.Second, "a storage.full event", func() bool { return events.count("storage.full") > 0 })
	atFull := m.Status()[0].Frames
	deadline := time.Now().Add(15 * time.Second)
	for m.Status()[0].Frames <= atFull || m.Status()[0].State != "recording" {
		if time.Now().After(deadline) {
			t.Fatalf("not recording again: %+v\n%+v", m.Status(), events.ev)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := m.Status()[0]
	if st.Dropped == 0 {
		t.Errorf("no frames counted as dropped: %+v", st)
	}
	// The disk stays just full: writes fail after each round of retention,
	// but the camera's event is raised once a minute, not every round. Wait
	// for a second round: a second storage gap, closed as recording resumed.
	waitFor(t, 30*time.Second, "a second storage gap", func() bool {
		n := 0
		for _, g := range store.Gaps("full") {
			if g.Cause == api.CauseStorage {
				n++
			}
		}
		return n >= 2
	})
	if n := events.count("camera.storage"); n != 1 {
		t.Errorf("%d camera.storage events, want 1", n)
	}
	m.Close()
	gaps := store.Gaps("full")
	if len(gaps) == 0 || gaps[0].Cause != api.CauseStorage {
		t.Errorf("gaps: %+v", gaps)
	}
	// Retention made the room: the day's statistics count more bytes than
	// the segments still on disk.
	var kept, recorded int64
	for _, seg := range store.Segments("full") {
		kept += seg.Bytes
	}
	for _, b := range store.DailyBytes("full") {
		recorded += b
	}
	if recorded <= kept {
		t.Errorf("nothing deleted: %d bytes recorded, %d kept", recorded, kept)
	}
}
