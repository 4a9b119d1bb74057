package recorder

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// A session whose frames arrive but reach no file for StallTimeout is
// failing, with an open gap and an event naming the cause and the count;
// when a segment opens again it is recording and the gap is stored.
func TestReceivingButNotWritingIsFailing(t *testing.T) {
	t.Parallel()
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	s := newSession(m, withDefaults(Camera{Name: "gate", URL: "rtsp://127.0.0.1:1/x"}), false, false)
	t.Cleanup(func() { close(s.jobs); <-s.wdone })

	s.onRecording(m.now(), "h264", nil)
	written := m.now().Add(-6 * time.Second)
	s.stats.lastWrite.Store(written.UnixNano())
	s.stats.writtenUntil.Store(written.Add(-200 * time.Millisecond).UnixNano()) // the media's end
	s.stats.received.Add(150)
	s.stats.drop(150, api.CauseTimestampJump, "undecodable frame timing, waiting for the next keyframe")
	s.lastSeen.Store(time.Now().UnixNano())
	if err := s.checkWritten(time.Now()); err != nil {
		t.Fatalf("checkWritten: %v (before NoKeyframe, the connection is kept)", err)
	}
	st := s.status()
	if st.State != "failing" || st.Gap == nil || st.Gap.Cause != api.CauseTimestampJump || !st.Gap.Start.Equal(written.Add(-200*time.Millisecond)) {
		t.Fatalf("status %+v gap %+v, want failing with an open timestamp-jump gap from the end of the media written", st, st.Gap)
	}
	if !strings.Contains(st.Error, "150 frames received, none written for 6s") {
		t.Errorf("error %q does not give the count", st.Error)
	}
	if events.count("camera.timestamps") != 1 || events.count("camera.dropped") != 1 {
		t.Errorf("events %+v", events.ev)
	}

	s.onRecording(m.now(), "h264", nil)
	if st := s.status(); st.State != "recording" {
		t.Errorf("state %s after writing again", st.State)
	}
	gaps := store.Gaps("gate")
	if len(gaps) != 1 || gaps[0].Cause != api.CauseTimestampJump || !gaps[0].Start.Equal(written.Add(-200*time.Millisecond)) {
		t.Errorf("stored gaps %+v", gaps)
	}
}

// The dropped-frames event carries the true count: the first drop at once,
// the following ones together once a minute or when the connection ends.
func TestDroppedEventCountsEveryFrame(t *testing.T) {
	t.Parallel()
	store := openStore(t, t.TempDir())
	m, events := newManager(t, store)
	s := newSession(m, withDefaults(Camera{Name: "gate", URL: "rtsp://127.0.0.1:1/x"}), false, false)
	t.Cleanup(func() { close(s.jobs); <-s.wdone })
	for range 250 {
		s.stats.drop(1, api.CauseStorage, "the write queue is full (disk too slow)")
	}
	s.reportTallies(false) // within the minute: held back
	s.reportTallies(true)
	var msgs []string
	for _, e := range events.ev {
		if e.Kind == "camera.dropped" {
			msgs = append(msgs, e.Message)
		}
	}
	if len(msgs) != 2 || !strings.Contains(msgs[0], ": 1 frames dropped") || !strings.Contains(msgs[1], ": 249 frames dropped") {
		t.Errorf("dropped events %q, want 1 then 249", msgs)
	}
}

func TestNotRTSPServer(t *testing.T) {
	for in, want := range map[string]string{
		"expected 'RTSP/1.0', got [72 84 84 80 47 49 46 49]": "not an RTSP server: it answered HTTP",
		"expected 'RTSP/1.0', got [83 83 72 45]":             `not an RTSP server: it answered "SSH-"`,
	} {
		err := classify(errors.New(in))
		var se *sessionError
		if !errors.As(err, &se) || se.cause != api.CauseUnreachable || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("classify(%q) = %v, want %q", in, err, want)
		}
	}
}

// A camera URL that points at a web server says so in words, whether the
// server answers HTTP or closes the connection.
func TestHTTPPeerIsNotAnRTSPServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 512))
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}
	}()
	web := httptest.NewServer(http.NotFoundHandler()) // Go's closes on an RTSP request
	t.Cleanup(web.Close)
	m, _ := newManager(t, openStore(t, t.TempDir()))
	m.Set([]Camera{
		{Name: "answers", URL: "rtsp://" + ln.Addr().String() + "/stream"},
		{Name: "closes", URL: "rtsp://" + web.Listener.Addr().String() + "/stream"},
	})
	waitFor(t, 10*time.Second, "failing", func() bool {
		st := m.Status()
		return st[0].State == "failing" && st[1].State == "failing"
	})
	for _, st := range m.Status() {
		if !strings.HasPrefix(st.Error, "not an RTSP server: it ") || st.Gap == nil || st.Gap.Cause != api.CauseUnreachable {
			t.Errorf("status %+v gap %+v", st, st.Gap)
		}
	}
}
