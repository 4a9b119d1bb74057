package recorder

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"vigil/dev/camsim"
	"vigil/hcl/spec"
	"vigil/runtime/storage"
)

// fakeCamera is an RTSP server with what camsim cannot offer: an
// unsupported codec, garbage H.264, G.711 or Opus audio, rtsps.
type fakeCamera struct {
	srv    *gortsplib.Server
	stream *gortsplib.ServerStream
}

func (b *fakeCamera) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, b.stream, nil
}

func (b *fakeCamera) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, b.stream, nil
}

func (b *fakeCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func startFakeCamera(t *testing.T, forma format.Format, garbage bool) string {
	t.Helper()
	b := &fakeCamera{}
	b.srv = &gortsplib.Server{Handler: b, RTSPAddress: "127.0.0.1:0"}
	if err := b.srv.Start(); err != nil {
		t.Fatal(err)
	}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	b.stream = &gortsplib.ServerStream{Server: b.srv, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := b.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		b.stream.Close()
		b.srv.Close()
	})
	if garbage {
		go func() {
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			for seq := uint16(0); ; seq++ {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				// A STAP-A packet whose aggregation unit claims more bytes
				// than there are.
				b.stream.WritePacketRTP(medi, &rtp.Packet{
					Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3600, Marker: true},
					Payload: []byte{0x18, 0xff, 0xff, 0x65},
				})
			}
		}()
	}
	return "rtsp://" + b.srv.NetListener().Addr().String() + "/stream"
}

// TestBadCamerasDoNotAffectOthers: an unsupported codec and a malformed
// stream are clear events and failing states, while a good camera of the
// same recorder keeps recording.
func TestBadCamerasDoNotAffectOthers(t *testing.T) {
	t.Parallel()
	good := startCamsim(t, camsim.Options{})
	mjpeg := startFakeCamera(t, &format.MJPEG{}, false)
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps1080, PPS: pps}
	garbage := startFakeCamera(t, h264, true)

	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	m.Set([]Camera{
		{Name: "good", URL: good.URL(1)},
		{Name: "mjpeg", URL: mjpeg},
		{Name: "garbage", URL: garbage, StallTimeout: time.Second},
	})
	deadline := time.Now().Add(5 * time.Second)
	for events.count("camera.codec") != 1 || events.count("camera.malformed") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("want one codec and one malformed event: %+v\n%+v", events.ev, m.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	byName := map[string]CameraStatus{}
	for _, st := range m.Status() {
		byName[st.Name] = st
	}
	if st := byName["mjpeg"]; st.State != "failing" || !strings.Contains(st.Error, "M-JPEG") {
		t.Errorf("mjpeg camera: %+v", st)
	}
	if st := byName["garbage"]; st.State != "failing" || !strings.Contains(st.Error, "decode errors") {
		t.Errorf("garbage camera: %+v", st)
	}
	frames := byName["good"].Frames
	waitFor(t, 5*time.Second, "the good camera to go on recording", func() bool {
		for _, st := range m.Status() {
			if st.Name == "good" {
				return st.State == "recording" && st.Frames > frames
			}
		}
		return false
	})
}

// startSyntheticCamera serves synthetic H.264 (25 fps, a keyframe every
// idrEvery frames (0: never), parameter sets only in the SDP) with an
// optional audio track (audio nil: none), over rtsps when tlsConf is set.
func startSyntheticCamera(t *testing.T, tlsConf *tls.Config, audio format.Format, packet func(i int) *rtp.Packet, idrEvery int) string {
	t.Helper()
	b := &fakeCamera{}
	b.srv = &gortsplib.Server{Handler: b, RTSPAddress: "127.0.0.1:0", TLSConfig: tlsConf}
	if err := b.srv.Start(); err != nil {
		t.Fatal(err)
	}
	video := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{
		&format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps1080, PPS: pps}}}
	medias := []*description.Media{video}
	var sound *description.Media
	if audio != nil {
		sound = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{audio}}
		medias = append(medias, sound)
	}
	b.stream = &gortsplib.ServerStream{Server: b.srv, Desc: &description.Session{Medias: medias}}
	if err := b.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		b.stream.Close()
		b.srv.Close()
	})
	go func() {
		tick := time.NewTicker(20 * time.Millisecond) // one audio packet, every other one a video frame
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if i%2 == 0 {
				n := i / 2
				nalu := []byte{byte(h264.NALUTypeNonIDR) | 0x40, 0x9a, 0x00}
				if idrEvery > 0 && n%idrEvery == 0 {
					nalu = []byte{byte(h264.NALUTypeIDR) | 0x60, 0x88, 0x80}
				}
				b.stream.WritePacketRTP(video, &rtp.Packet{
					Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(n), Timestamp: uint32(n * frameTicks), Marker: true},
					Payload: nalu,
				})
			}
			if sound != nil {
				b.stream.WritePacketRTP(sound, packet(i))
			}
		}
	}()
	scheme := "rtsp://"
	if tlsConf != nil {
		scheme = "rtsps://"
	}
	return scheme + b.srv.NetListener().Addr().String() + "/stream"
}

func TestRecordG711AndOpus(t *testing.T) {
	t.Parallel()
	pcmu := startSyntheticCamera(t, nil, &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}, func(i int) *rtp.Packet {
		return &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(i * 160)},
			Payload: make([]byte, 160), // 20 ms
		}
	}, 25)
	opus := startSyntheticCamera(t, nil, &format.Opus{PayloadTyp: 97, ChannelCount: 1}, func(i int) *rtp.Packet {
		return &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 97, SequenceNumber: uint16(i), Timestamp: uint32(i * 960)},
			Payload: []byte{31 << 3, 0xff, 0xfe}, // CELT fullband, one 20 ms frame
		}
	}, 25)
	store := openStore(t, t.TempDir())
	m, _ := newManager(t, store)
	m.Set([]Camera{{Name: "pcmu", URL: pcmu}, {Name: "opus", URL: opus}})
	waitFor(t, 5*time.Second, "recording", func() bool {
		st := m.Status()
		return len(st) == 2 && st[0].State == "recording" && st[1].State == "recording"
	})
	waitFor(t, 20*time.Second, "2 s of video written", func() bool {
		st := m.Status()
		return st[0].Frames >= 50 && st[1].Frames >= 50
	})
	m.Close()
	for name, codec := range map[string]string{"pcmu": "h264+lpcm", "opus": "h264+opus"} {
		segs := store.Segments(name)
		if len(segs) != 1 || segs[0].Codec != codec {
			t.Fatalf("%s: %+v", name, segs)
		}
		info, err := storage.Probe(segs[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		// About 2 s: 50 frames of video, 100 packets of audio.
		if v, a := info.Tracks[0].Samples, info.Tracks[1].Samples; v < 40 || a < 80 || a < 2*v-10 || a > 2*v+10 {
			t.Errorf("%s: %d video and %d audio samples", name, v, a)
		}
		if d := info.Tracks[1].End - info.Tracks[0].End; d < -100*time.Millisecond || d > 100*time.Millisecond {
			t.Errorf("%s: audio ends %v after video", name, d)
		}
		// ffprobe knows the audio track (the synthetic video is not
		// decodable, so only the audio stream is asked for).
		if _, err := exec.LookPath("ffprobe"); err == nil {
			out, err := exec.Command("ffprobe", "-v", "quiet", "-select_streams", "a", "-show_entries", "stream=codec_name",
				"-of", "csv=p=0", segs[0].Path).Output()
			want := map[string]string{"pcmu": "pcm_s16be", "opus": "opus"}[name]
			if got := strings.TrimSpace(string(out)); err != nil || got != want {
				t.Errorf("%s: ffprobe sees audio codec %q (%v), want %q", name, got, err, want)
			}
		}
	}
}

// An rtsps:// camera with a self-signed certificate is refused by default
// (the system's roots do not know it), recorded when pinned or when
// tls_insecure says so, and refused when pinned to another certificate;
// a refusal is the camera's error, with one camera.certificate event.
func TestRecordRTSPS(t *testing.T) {
	t.Parallel()
	cert := selfSigned(t)
	url := startSyntheticCamera(t, &tls.Config{Certificates: []tls.Certificate{cert}}, nil, nil, 25)
	pin := spec.CertFingerprint(cert.Certificate[0])
	other := spec.CertFingerprint(selfSigned(t).Certificate[0])
	for _, tc := range []struct {
		name string
		cam  Camera
		// refused is a part of the error when the certificate is refused.
		refused string
	}{
		{"default", Camera{URL: url}, "not signed by an authority this server trusts"},
		{"pinned", Camera{URL: url, TLSFingerprint: pin}, ""},
		{"insecure", Camera{URL: url, TLSInsecure: true}, ""},
		{"wrong-pin", Camera{URL: url, TLSFingerprint: other}, "not the pinned tls_fingerprint " + other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, events := newManager(t, openStore(t, t.TempDir()))
			tc.cam.Name = "secure"
			m.Set([]Camera{tc.cam})
			if tc.refused == "" {
				waitFor(t, 5*time.Second, "recording over rtsps", func() bool { return m.Status()[0].State == "recording" })
				return
			}
			waitFor(t, 5*time.Second, "a camera.certificate event", func() bool { return events.count("camera.certificate") == 1 })
			st := m.Status()[0]
			if st.State != "failing" || !strings.Contains(st.Error, tc.refused) || !strings.Contains(st.Error, pin) {
				t.Errorf("state %s, error %q; want failing with %q and the camera's fingerprint %s", st.State, st.Error, tc.refused, pin)
			}
			if segs := m.cfg.Store.Segments("secure"); len(segs) != 0 {
				t.Errorf("%d segments recorded from a refused camera", len(segs))
			}
		})
	}
}

// selfSigned makes the kind of certificate cameras ship with.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "camera"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A stream that never offers a keyframe fails as malformed after
// NoKeyframe, with one event and no file, instead of "connecting" for ever.
func TestNoKeyframeFails(t *testing.T) {
	t.Parallel()
	url := startSyntheticCamera(t, nil, nil, nil, 0)
	store := openStore(t, t.TempDir())
	events := &eventLog{}
	m, err := NewManager(ManagerConfig{ServerName: "rec-1", Store: store, Events: events.add, NoKeyframe: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	m.Set([]Camera{{Name: "p", URL: url}})
	waitFor(t, 10*time.Second, "failing", func() bool { return m.Status()[0].State == "failing" })
	st := m.Status()[0]
	if !strings.Contains(st.Error, "no keyframe") {
		t.Errorf("error %q, want it to name the missing keyframe", st.Error)
	}
	if n := events.count("camera.malformed"); n != 1 {
		t.Errorf("%d camera.malformed events, want 1", n)
	}
	if n := len(store.Segments("p")); n != 0 {
		t.Errorf("%d segments of a stream without a keyframe", n)
	}
}
