package recorder

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"

	"vigil/runtime/camsim"
)

// badCamera is an RTSP server with one stream that camsim cannot offer: an
// unsupported codec, or H.264 whose packets are garbage.
type badCamera struct {
	srv    *gortsplib.Server
	stream *gortsplib.ServerStream
}

func (b *badCamera) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, b.stream, nil
}

func (b *badCamera) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, b.stream, nil
}

func (b *badCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func startBadCamera(t *testing.T, forma format.Format, garbage bool) string {
	t.Helper()
	b := &badCamera{}
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
	mjpeg := startBadCamera(t, &format.MJPEG{}, false)
	h264 := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: sps1080, PPS: pps}
	garbage := startBadCamera(t, h264, true)

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
