package camsim

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Paths == 0 {
		opts.Paths = 2
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// frame is one video access unit as received by a test reader.
type frame struct {
	at  time.Time
	ts  uint32
	key bool
}

// reader plays one URL with the gortsplib client and collects video frames.
type reader struct {
	c      *gortsplib.Client
	desc   *description.Session
	mu     sync.Mutex
	frames []frame
	audio  []uint32 // RTP timestamps of audio packets
	seqErr int      // video packets whose sequence number did not follow
}

func play(t *testing.T, rawURL string, proto gortsplib.Protocol) (*reader, error) {
	t.Helper()
	u, err := base.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &reader{c: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Protocol: &proto}}
	if err := r.c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := r.c.Describe(u)
	if err != nil {
		r.c.Close()
		return nil, err
	}
	r.desc = desc
	if err := r.c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		r.c.Close()
		return nil, err
	}
	var (
		dec interface {
			Decode(*rtp.Packet) ([][]byte, error)
		}
		lastSeq uint16
		seqSeen bool
	)
	var h264f *format.H264
	var h265f *format.H265
	var aacf *format.MPEG4Audio
	video := desc.FindFormat(&h264f)
	isKey := h264.IsRandomAccess
	if video != nil {
		dec, err = h264f.CreateDecoder()
	} else if video = desc.FindFormat(&h265f); video != nil {
		dec, err = h265f.CreateDecoder()
		isKey = h265IsKey
	} else {
		err = fmt.Errorf("no video track")
	}
	if err != nil {
		r.c.Close()
		t.Fatal(err)
	}
	audio := desc.FindFormat(&aacf)
	r.c.OnPacketRTPAny(func(m *description.Media, _ format.Format, pkt *rtp.Packet) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if m == audio {
			r.audio = append(r.audio, pkt.Timestamp)
			return
		}
		if m != video {
			return
		}
		if seqSeen && pkt.SequenceNumber != lastSeq+1 {
			r.seqErr++
		}
		lastSeq, seqSeen = pkt.SequenceNumber, true
		au, err := dec.Decode(pkt)
		if err != nil {
			return // more packets needed, or a partial first frame
		}
		r.frames = append(r.frames, frame{at: time.Now(), ts: pkt.Timestamp, key: isKey(au)})
	})
	if _, err := r.c.Play(nil); err != nil {
		r.c.Close()
		return nil, err
	}
	t.Cleanup(r.c.Close)
	return r, nil
}

func h265IsKey(au [][]byte) bool {
	for _, n := range au {
		if typ := (n[0] >> 1) & 0x3f; typ >= 16 && typ <= 21 {
			return true
		}
	}
	return false
}

func (r *reader) snapshot() []frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]frame(nil), r.frames...)
}

func (r *reader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.frames)
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func TestClipsParse(t *testing.T) {
	for _, tc := range []struct {
		codec, profile string
		frames, gop    int
	}{
		{"h264", "small", 50, 25},
		{"h265", "small", 50, 25},
		{"h264", "1080p", 100, 50},
		{"h265", "1080p", 100, 50},
		{"h264", "1080p-gop1", 100, 25},
	} {
		c, err := loadClip(tc.codec, tc.profile)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(c.video.units); got != tc.frames {
			t.Errorf("%s %s: %d frames, want %d", tc.codec, tc.profile, got, tc.frames)
		}
		for i, u := range c.video.units {
			if want := i%tc.gop == 0; u.key != want {
				t.Errorf("%s %s: frame %d key=%v, want %v", tc.codec, tc.profile, i, u.key, want)
			}
			if len(u.packets) == 0 || !u.packets[len(u.packets)-1].marker {
				t.Errorf("%s %s: frame %d does not end with a marked packet", tc.codec, tc.profile, i)
			}
		}
	}
	a, conf, err := loadAudio()
	if err != nil {
		t.Fatal(err)
	}
	if conf.SampleRate != 48000 || len(a.units) < 90 {
		t.Errorf("audio: %d Hz, %d frames; want 48000 Hz and about 94 frames", conf.SampleRate, len(a.units))
	}
	if _, err := loadClip("h264", "4k"); err == nil {
		t.Error("loading a clip that does not exist succeeded")
	}
}

func TestSplitAnnexB(t *testing.T) {
	in := []byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0x88, 0}
	got := splitAnnexB(in)
	want := [][]byte{{0x67, 1, 2}, {0x68, 3}, {0x65, 0x88}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("splitAnnexB = %v, want %v", got, want)
	}
	aus, keys := groupAccessUnits("h264", [][]byte{
		{0x09, 0xf0},         // AUD: dropped
		{0x67, 1}, {0x68, 2}, // SPS, PPS
		{0x65, 0x88}, {0x65, 0x10}, // IDR, first slice then a second slice
		{0x41, 0x9a}, // P, first slice
	})
	if len(aus) != 2 || len(aus[0]) != 4 || len(aus[1]) != 1 || !keys[0] || keys[1] {
		t.Fatalf("groupAccessUnits = %v %v", aus, keys)
	}
}

func TestStartErrors(t *testing.T) {
	for _, opts := range []Options{
		{Listen: "127.0.0.1:0", Paths: 0},
		{Listen: "127.0.0.1:0", Paths: 1, Codec: "vp8"},
		{Listen: "127.0.0.1:0", Paths: 1, Profile: "4k"},
		{Listen: "127.0.0.1:0", Paths: 1, Password: "x"},
		{Listen: "256.0.0.1:0", Paths: 1},
	} {
		if s, err := Start(opts); err == nil {
			s.Close()
			t.Errorf("Start(%+v) succeeded", opts)
		} else if !strings.HasPrefix(err.Error(), "camsim: ") {
			t.Errorf("error %q lacks the camsim prefix", err)
		}
	}
}

// TestFramesAcrossLoop reads past the end of the 2 s clip: frames arrive at
// 25 fps, with RTP timestamps 3600 apart, contiguous sequence numbers, and a
// key frame where the clip starts over.
func TestFramesAcrossLoop(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Paths: 1})
	r, err := play(t, s.URL(1), gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	// The clip has 50 frames and the reader started with the path's clock:
	// 56 frames include the start of the second loop.
	if !waitFor(5*time.Second, func() bool { return r.count() >= 56 }) {
		t.Fatalf("got %d frames in 5 s, want 56 in about 2.3 s", r.count())
	}
	st := s.Stats()["cam1"]
	fs := r.snapshot()
	keys := 0
	for i := 1; i < len(fs); i++ {
		if d := fs[i].ts - fs[i-1].ts; d != 3600 {
			t.Fatalf("frame %d: timestamp step %d, want 3600", i, d)
		}
		if fs[i].key {
			keys++
		}
	}
	// 56 frames of a 25-frame GOP: at least two key frames after the first
	// frame, one of them the start of the second loop.
	if keys < 2 {
		t.Errorf("%d key frames after the first, want at least 2", keys)
	}
	if r.seqErr != 0 {
		t.Errorf("%d sequence number jumps", r.seqErr)
	}
	if rate := float64(len(fs)-1) / fs[len(fs)-1].at.Sub(fs[0].at).Seconds(); rate < 20 || rate > 30 {
		t.Errorf("frame rate %.1f, want 25", rate)
	}
	if st.Readers != 1 || len(st.Sessions) != 1 || st.Sessions[0].Transport != "TCP" {
		t.Errorf("stats: %+v", st)
	}
	// The reader's count and the path's are the frames handed to this reader;
	// the client has them all except those still in flight.
	if got := st.Sessions[0].Frames; got < int64(len(fs)) || got > int64(len(fs))+2 {
		t.Errorf("reader stats count %d frames, client received %d", got, len(fs))
	}
	firstKey := 0
	for firstKey < len(fs) && !fs[firstKey].key {
		firstKey++
	}
	if got, want := st.Sessions[0].FramesFromKeyframe, int64(len(fs)-firstKey); got < want || got > want+2 {
		t.Errorf("reader stats count %d frames from the first key frame, client received %d", got, want)
	}
	if st.Sent != st.Sessions[0].Frames || st.Produced < st.Sent || st.Bytes == 0 {
		t.Errorf("stats: %+v", st)
	}
	if s.Stats()["cam2"].Sent != 0 {
		t.Error("cam2 has no reader but counts frames as sent")
	}
}

func TestUDP(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Paths: 1, UDP: true})
	r, err := play(t, s.URL(1), gortsplib.ProtocolUDP)
	if err != nil {
		t.Fatal(err)
	}
	if !waitFor(2*time.Second, func() bool { return r.count() >= 10 }) {
		t.Fatalf("got %d frames over UDP", r.count())
	}
	if tr := s.Stats()["cam1"].Sessions[0].Transport; tr != "UDP" {
		t.Errorf("transport %q, want UDP", tr)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Paths: 1, Username: "admin", Password: "secret"})
	host := s.Addr()
	if _, err := play(t, "rtsp://admin:wrong@"+host+"/cam1", gortsplib.ProtocolTCP); err == nil {
		t.Fatal("a wrong password was accepted")
	} else if !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong password: %v, want a 401", err)
	}
	if _, err := play(t, "rtsp://"+host+"/cam1", gortsplib.ProtocolTCP); err == nil {
		t.Fatal("no credentials were accepted")
	}
	// The gortsplib client answers the digest challenge.
	r, err := play(t, "rtsp://admin:secret@"+host+"/cam1", gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatalf("right password (digest): %v", err)
	}
	if !waitFor(2*time.Second, func() bool { return r.count() > 0 }) {
		t.Fatal("no frames after authenticating")
	}
	// Basic authentication, as some recorders send it up front.
	basic := func(pass string) string {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "DESCRIBE rtsp://%s/cam1 RTSP/1.0\r\nCSeq: 1\r\nAuthorization: Basic %s\r\n\r\n",
			host, base64.StdEncoding.EncodeToString([]byte("admin:"+pass)))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line)
	}
	if got := basic("secret"); got != "RTSP/1.0 200 OK" {
		t.Errorf("basic auth, right password: %q", got)
	}
	if got := basic("nope"); strings.Contains(got, "200") {
		t.Errorf("basic auth, wrong password: %q", got)
	}
}

func TestDrop(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Paths: 2})
	r1, err := play(t, s.URL(1), gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := play(t, s.URL(2), gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(time.Second, func() bool { return r1.count() > 0 })
	s.Drop("/cam1")
	done := make(chan error, 1)
	go func() { done <- r1.c.Wait() }()
	select {
	case err := <-done:
		t.Logf("reader of cam1 ended: %v", err)
	case <-time.After(2 * time.Second):
		t.Fatal("Drop did not close the reader's session")
	}
	if !waitFor(time.Second, func() bool { return s.Stats()["cam1"].Readers == 0 }) {
		t.Error("cam1 still counts a reader after Drop")
	}
	// The closed session stays in the stats with its counts.
	if ss := s.Stats()["cam1"].Sessions; len(ss) != 1 || ss[0].Until.IsZero() || ss[0].Frames < int64(r1.count()) {
		t.Errorf("sessions after Drop: %+v (client got %d frames)", ss, r1.count())
	}
	// Other paths are untouched, and the dropped path accepts a new reader.
	n := r2.count()
	if !waitFor(time.Second, func() bool { return r2.count() > n+3 }) {
		t.Error("cam2 stopped when cam1 was dropped")
	}
	r3, err := play(t, s.URL(1), gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatalf("reconnecting after Drop: %v", err)
	}
	if !waitFor(time.Second, func() bool { return r3.count() > 0 }) {
		t.Error("no frames after reconnecting")
	}
}

func TestStall(t *testing.T) {
	t.Parallel()
	// cam2 is not stalled: its frames tell how far camsim's clock has gone
	// (sleeps prove nothing on a busy machine).
	s := start(t, Options{Paths: 2})
	ticks := func(k int64) bool {
		from := s.Stats()["cam2"].Produced
		return waitFor(5*time.Second, func() bool { return s.Stats()["cam2"].Produced >= from+k })
	}
	r, err := play(t, s.URL(1), gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(time.Second, func() bool { return r.count() > 2 })
	// Long enough that the checks below fall inside it on a busy machine.
	const stall = 3 * time.Second
	s.Stall("cam1", stall)
	// Frames in flight: the tick under way is over two ticks later, and the
	// client then has every frame generated for it.
	if !ticks(2) || !waitFor(5*time.Second, func() bool { return int64(r.count()) >= s.Stats()["cam1"].Sessions[0].Frames }) {
		t.Fatalf("frames in flight never arrived: client has %d, stats %+v", r.count(), s.Stats()["cam1"])
	}
	n, produced := r.count(), s.Stats()["cam1"].Produced
	if !s.Stats()["cam1"].Stalled {
		t.Error("stats do not show the stall")
	}
	// Half a second of frames later, none of cam1's was generated or arrived.
	if !ticks(12) {
		t.Fatal("cam2 generates no frames")
	}
	if got := r.count(); got != n {
		t.Errorf("%d frames arrived during the stall", got-n)
	}
	if got := s.Stats()["cam1"].Produced; got != produced {
		t.Errorf("%d frames produced during the stall", got-produced)
	}
	if !waitFor(stall+5*time.Second, func() bool { return r.count() > n+5 }) {
		t.Fatal("frames did not resume after the stall")
	}
	if st := s.Stats()["cam1"]; st.Readers != 1 || st.Stalled {
		t.Errorf("after the stall: %+v", st)
	}
	// The stream resumes where the clock is: the timestamps jump by the stall.
	fs := r.snapshot()
	if d := fs[n].ts - fs[n-1].ts; d < uint32(stall.Seconds()*90000*2/3) {
		t.Errorf("timestamp step over the stall is %d, want about %d", d, uint32(stall.Seconds()*90000))
	}
}

func TestRefuse(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Paths: 1})
	s.Refuse(700 * time.Millisecond)
	if _, err := play(t, s.URL(1), gortsplib.ProtocolTCP); err == nil {
		t.Fatal("a connection was accepted while refusing")
	} else {
		t.Logf("while refusing: %v", err)
	}
	var r *reader
	if !waitFor(3*time.Second, func() bool {
		var err error
		r, err = play(t, s.URL(1), gortsplib.ProtocolTCP)
		return err == nil
	}) {
		t.Fatal("connections still refused 3 s after a refusal of 0.7 s")
	}
	if !waitFor(time.Second, func() bool { return r.count() > 0 }) {
		t.Error("no frames after the refusal")
	}
}

func TestH265AndAudio(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Paths: 1, Codec: "h265", Audio: true})
	r, err := play(t, s.URL(1), gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	var h265f *format.H265
	var aacf *format.MPEG4Audio
	if r.desc.FindFormat(&h265f) == nil || h265f.VPS == nil || h265f.SPS == nil || h265f.PPS == nil {
		t.Fatal("SDP lacks an H.265 track with parameter sets")
	}
	if r.desc.FindFormat(&aacf) == nil || aacf.Config.SampleRate != 48000 {
		t.Fatal("SDP lacks the AAC track")
	}
	if !waitFor(2*time.Second, func() bool { return r.count() >= 5 }) {
		t.Fatalf("got %d H.265 frames", r.count())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.audio) < 5 {
		t.Fatalf("got %d audio packets", len(r.audio))
	}
	for i := 1; i < len(r.audio); i++ {
		if d := r.audio[i] - r.audio[i-1]; d != 1024 {
			t.Fatalf("audio packet %d: timestamp step %d, want 1024", i, d)
		}
	}
}

func TestControlHandler(t *testing.T) {
	t.Parallel()
	s := start(t, Options{Paths: 1})
	h := httptest.NewServer(ControlHandler(s))
	defer h.Close()
	for _, tc := range []struct {
		method, target string
		status         int
	}{
		{"POST", "/stall?path=cam1&for=300ms", 200},
		{"POST", "/drop?path=cam1", 200},
		{"POST", "/refuse?for=1ms", 200},
		{"POST", "/drop?path=cam9", 404},
		{"POST", "/stall?path=cam1", 400},
		{"POST", "/refuse?for=soon", 400},
		{"GET", "/drop?path=cam1", 405},
	} {
		req, _ := http.NewRequest(tc.method, h.URL+tc.target, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.target, res.StatusCode, tc.status)
		}
	}
	if !s.Stats()["cam1"].Stalled {
		t.Error("POST /stall did not stall cam1")
	}
	res, err := http.Get(h.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var stats map[string]PathStats
	if err := json.NewDecoder(res.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if _, ok := stats["cam1"]; !ok || len(stats) != 1 {
		t.Errorf("GET /stats: %v", stats)
	}
}

func TestFFprobe(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	s := start(t, Options{Paths: 1, Audio: true, Username: "u", Password: "p"})
	u := strings.Replace(s.URL(1), "rtsp://", "rtsp://u:p@", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Only stdout is parsed: a reader that joins a live stream mid-GOP makes
	// the decoder complain on stderr until the next key frame, as with any
	// real camera.
	cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-rtsp_transport", "tcp",
		"-show_entries", "stream=codec_name,width,height,sample_rate", "-of", "csv=p=0", u)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
	}
	got := strings.Fields(string(out))
	if len(got) != 2 || got[0] != "h264,320,240" || got[1] != "aac,48000" {
		t.Errorf("ffprobe sees %q, want h264 320x240 and aac 48000", got)
	}
}
