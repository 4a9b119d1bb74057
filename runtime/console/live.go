package console

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/gorilla/websocket"

	"vigil/runtime/recorder"
	"vigil/runtime/storage"
)

// LiveQueue is how many frames a live viewer may be behind (2 s at 25 fps)
// before it loses frames up to the next keyframe.
const LiveQueue = 50

// liveWriteTimeout ends a live view whose browser stopped reading.
const liveWriteTimeout = 10 * time.Second

// liveReadTimeout ends a relayed view whose upstream server went silent (cut
// off by the network): longer than any camera's wait for a key frame.
const liveReadTimeout = 30 * time.Second

// Hello is the text message that precedes a live stream, and follows it
// again whenever the codec or the time line changes (the browser then
// starts a new MediaSource), or ends it.
type Hello struct {
	// Server is the server recording the camera, whose session the
	// frames come from.
	Server string `json:"server,omitempty"`
	Camera string `json:"camera"`
	// Codec is the video codec as MediaSource.isTypeSupported wants it
	// (RFC 6381), e.g. "avc1.64001f" or "hvc1.1.6.L93.B0".
	Codec string `json:"codec,omitempty"`
	// EpochMS is the wall-clock time (Unix ms) of media time 0: a frame
	// shown at currentTime t was recorded at EpochMS + 1000 t.
	EpochMS int64 `json:"epoch_ms,omitempty"`
	// Resync: the same stream goes on, with a new EpochMS.
	Resync bool `json:"resync,omitempty"`
	// Error says why there is no stream (the browser retries); End why
	// it ended (the camera left the server).
	Error string `json:"error,omitempty"`
	End   string `json:"end,omitempty"`
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 64 << 10,
	// The console is served by every agent of the site and a page may
	// reach any of them; the stream is as public as GET /v1/state.
	CheckOrigin: func(*http.Request) bool { return true },
}

// Upgrade turns a live request into a WebSocket. The connection's reader
// runs until the browser goes away, which cancels the returned context.
func Upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, context.Context, context.CancelFunc, error) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		defer cancel()
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	return conn, ctx, cancel, nil
}

// SendHello writes one Hello message.
func SendHello(conn *websocket.Conn, h Hello) error {
	b, _ := json.Marshal(h)
	conn.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
	return conn.WriteMessage(websocket.TextMessage, b)
}

// Close ends a live connection with a normal closure.
func Close(conn *websocket.Conn) {
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	conn.Close()
}

// resyncAfter is how far the wall-clock time of a key frame may stray from
// the time line's before the page is given a new epoch.
const resyncAfter = 250 * time.Millisecond

// ServeLive sends a camera's frames from view as fMP4 over conn: a Hello,
// a video-only init section, and one fragment per frame. Decoding times
// follow the frames' durations, so the browser's buffer never overlaps or
// breaks (the recorder's wall clock may step when a segment is re-anchored);
// the Hello's epoch maps them to the wall clock, and a key frame that
// strays from it by more than resyncAfter (lost frames, a step) sends a
// Hello with Resync and the new epoch, so the page can show how far behind
// live it plays. It returns when the view ends (the camera left this
// server), ctx ends, or the browser stops reading.
func ServeLive(ctx context.Context, conn *websocket.Conn, server, camera string, view *recorder.LiveView) error {
	defer view.Close()
	var (
		codec    codecs.Codec
		codecStr string
		init     []byte
		epoch    time.Time
		next     uint64 // decoding time of the next frame, 90 kHz
		seq      uint32
	)
	at := func(t uint64) time.Time { return epoch.Add(time.Duration(t) * time.Second / 90000) }
	for {
		var f recorder.LiveFrame
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case f, ok = <-view.C:
		}
		if !ok {
			SendHello(conn, Hello{Server: server, Camera: camera, End: fmt.Sprintf("%s no longer records %s here", server, camera)})
			return nil
		}
		newInit := false
		if f.Codec != codec { // a new segment, maybe new parameter sets
			codec = f.Codec
			b, err := storage.EncodeInit([]storage.Track{{ID: 1, TimeScale: 90000, Codec: codec}})
			if err != nil {
				return err
			}
			newInit = !bytes.Equal(b, init)
			init = b
		}
		var err error
		switch {
		case epoch.IsZero() || newInit && codecString(codec) != codecStr:
			// The first frame, or another codec: the page starts over.
			epoch, next, codecStr = f.Wall, 0, codecString(codec)
			if err = SendHello(conn, Hello{Server: server, Camera: camera, Codec: codecStr, EpochMS: epoch.UnixMilli()}); err == nil {
				err = send(conn, init)
			}
		case newInit: // same codec, new parameter sets: MSE takes them in the same buffer
			err = send(conn, init)
		case !f.Sample.NonSync && (f.Wall.Sub(at(next)) > resyncAfter || at(next).Sub(f.Wall) > resyncAfter):
			epoch = f.Wall.Add(-at(next).Sub(epoch))
			err = SendHello(conn, Hello{Server: server, Camera: camera, Codec: codecStr, EpochMS: epoch.UnixMilli(), Resync: true})
		}
		if err != nil {
			return err
		}
		seq++
		part := storage.EncodePart(seq, []storage.PartTrack{{ID: 1, BaseTime: next, Samples: []storage.Sample{f.Sample}}})
		next += uint64(f.Sample.Duration)
		if err := send(conn, part); err != nil {
			return err
		}
	}
}

func send(conn *websocket.Conn, b []byte) error {
	conn.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
	return conn.WriteMessage(websocket.BinaryMessage, b)
}

// Relay serves a live view through the server that records the camera:
// it opens the same stream on upstream (a wss:// URL, verified with tc)
// and passes every message on, so a page that reached any server of the
// site can watch every camera. header goes with the upstream request.
func Relay(ctx context.Context, down *websocket.Conn, upstream string, tc *tls.Config, header http.Header) error {
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 64 << 10, TLSClientConfig: tc}
	up, resp, err := dialer.DialContext(ctx, upstream, header)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%s: %s", err, resp.Status)
		}
		return err
	}
	defer up.Close()
	go func() {
		<-ctx.Done()
		up.Close() // unblocks ReadMessage
	}()
	for {
		up.SetReadDeadline(time.Now().Add(liveReadTimeout))
		kind, b, err := up.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		down.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
		if err := down.WriteMessage(kind, b); err != nil {
			return err
		}
	}
}

// codecString names a video codec for MediaSource.isTypeSupported
// (RFC 6381; ISO/IEC 14496-15 annex E for H.265).
func codecString(c codecs.Codec) string {
	switch c := c.(type) {
	case *codecs.H264:
		if len(c.SPS) < 4 {
			return "avc1"
		}
		return fmt.Sprintf("avc1.%02x%02x%02x", c.SPS[1], c.SPS[2], c.SPS[3])
	case *codecs.H265:
		var sps h265.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			return "hvc1"
		}
		p := sps.ProfileTierLevel
		var b strings.Builder
		b.WriteString("hvc1.")
		if p.GeneralProfileSpace > 0 {
			b.WriteByte("ABC"[p.GeneralProfileSpace-1])
		}
		fmt.Fprintf(&b, "%d.", p.GeneralProfileIdc)
		var compat uint32 // the flags in reverse bit order
		for j, f := range p.GeneralProfileCompatibilityFlag {
			if f {
				compat |= 1 << j
			}
		}
		fmt.Fprintf(&b, "%x.", compat)
		tier := "L"
		if p.GeneralTierFlag == 1 {
			tier = "H"
		}
		fmt.Fprintf(&b, "%s%d", tier, p.GeneralLevelIdc)
		var c0 byte
		for i, f := range []bool{p.GeneralProgressiveSourceFlag, p.GeneralInterlacedSourceFlag, p.GeneralNonPackedConstraintFlag, p.GeneralFrameOnlyConstraintFlag,
			p.GeneralMax12bitConstraintFlag, p.GeneralMax10bitConstraintFlag, p.GeneralMax8bitConstraintFlag, p.GeneralMax422ChromeConstraintFlag} {
			if f {
				c0 |= 0x80 >> i
			}
		}
		if c0 != 0 {
			fmt.Fprintf(&b, ".%X", c0)
		}
		return b.String()
	}
	return ""
}
