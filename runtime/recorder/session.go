package recorder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph265"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/g711"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/pion/rtp"

	"vigil/runtime/api"

	"vigil/hcl/spec"
)

// causeKind is the event kind of each gap cause the recorder reports.
var causeKind = map[api.GapCause]string{
	api.CauseUnreachable:   spec.EventCameraUnreachable,
	api.CauseAuth:          spec.EventCameraAuth,
	api.CauseCertificate:   spec.EventCameraCertificate,
	api.CauseCodec:         spec.EventCameraCodec,
	api.CauseMalformed:     spec.EventCameraMalformed,
	api.CauseStall:         spec.EventCameraStalled,
	api.CauseDisconnect:    spec.EventCameraDisconnected,
	api.CauseStorage:       spec.EventCameraStorage,
	api.CauseTimestampJump: spec.EventCameraTimestamps,
}

// Backoff bounds between connection attempts.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// udpReadBuffer is the socket buffer of UDP cameras: about a second of a
// 16 Mbit/s stream, so scheduling hiccups at a hundred cameras lose nothing.
// gortsplib refuses to connect when the kernel grants less than asked, so
// it is capped at net.core.rmem_max (raise that sysctl to get all of it).
const udpReadBuffer = 2 << 20

var udpBufferSize = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0 // not Linux: the system default
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || limit <= 0 {
		return 0
	}
	return min(udpReadBuffer, limit)
})

// A camera's writer queue holds at most maxQueuedBytes of media (about 10 s
// of a 3 Mbit/s stream) in at most writeQueue parts, so a disk that stalls
// for a few seconds (a journal commit under many fsyncs) loses nothing,
// while a disk that cannot keep up costs bounded memory. The memory is only
// used while the disk is behind.
const (
	writeQueue     = 256
	maxQueuedBytes = 4 << 20
)

// restartWindow: a segment that ended this recently before a session starts
// means the recorder itself was down (a restart), so that span is a gap.
const restartWindow = 10 * time.Minute

// sessionError is a classified connection failure.
type sessionError struct {
	cause api.GapCause
	err   error
}

func (e *sessionError) Error() string { return e.err.Error() }
func (e *sessionError) Unwrap() error { return e.err }

func failure(cause api.GapCause, format string, args ...any) error {
	return &sessionError{cause: cause, err: fmt.Errorf(format, args...)}
}

// session records one camera: it connects, reconnects with backoff, and
// keeps the state, the counters and the open gap.
type session struct {
	m *Manager
	// cam is the camera as the session started; its settings that change
	// without a new connection are segDur and stall.
	cam    Camera
	segDur atomic.Int64 // SegmentDuration
	stall  atomic.Int64 // StallTimeout
	// set is the camera as Manager.Set last gave it (under Manager.mu).
	set    Camera
	stats  *camStats
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	jobs     chan job
	wdone    chan struct{}
	mux      atomic.Pointer[muxer]
	lastSeen atomic.Int64 // unix nanos of the last video frame

	// warm is set while the session holds its media (Camera.Warm);
	// promote clears it and closes release.
	warm    atomic.Bool
	release chan struct{}

	live  liveTap    // live viewers (Manager.Live)
	drops eventTally // camera.dropped
	jumps eventTally // camera.timestamps
	drift eventTally // camera.drift

	mu            sync.Mutex
	state         string
	since         time.Time
	from          time.Time // first frame of the current recording (CameraStatus.From)
	errMsg        string
	codec         string
	gap           *api.Gap // open gap, nil while recording
	lastGap       *api.Gap
	lastKind      string    // event kind of the last failure, to avoid repeating it
	storageEvents eventGate // camera.storage
}

// eventTally counts what an event reports: the first occurrence is
// reported at once, the following ones together at most once a minute,
// with their true count.
type eventTally struct {
	mu   sync.Mutex
	n    int64
	from time.Time // the first occurrence not reported yet
	what string    // the last occurrence's reason
	last time.Time // the last report
}

// add counts n occurrences; it returns what to report now (n == 0: nothing).
func (t *eventTally) add(n int64, what string, now time.Time) (int64, time.Time, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.from = now
	}
	t.n += n
	t.what = what
	return t.takeLocked(now, false)
}

// take returns what is left to report once a minute has passed since the
// last report (or at once when all).
func (t *eventTally) take(now time.Time, all bool) (int64, time.Time, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.takeLocked(now, all)
}

func (t *eventTally) takeLocked(now time.Time, all bool) (int64, time.Time, string) {
	if t.n == 0 || !all && now.Sub(t.last) < time.Minute {
		return 0, time.Time{}, ""
	}
	n, from, what := t.n, t.from, t.what
	t.n, t.last = 0, now
	return n, from, what
}

// eventGate lets an event through at most once a minute.
type eventGate struct{ last atomic.Int64 }

func (g *eventGate) open() bool {
	now, last := time.Now().UnixNano(), g.last.Load()
	return now-last >= int64(time.Minute) && g.last.CompareAndSwap(last, now)
}

// newSession starts a session. resumed: the recorder has just started, so a
// recent end of this camera's recordings is a restart gap; changed: the
// camera's settings changed, a restart gap until this session records.
func newSession(m *Manager, cam Camera, resumed, changed bool) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		m: m, cam: cam, ctx: ctx, cancel: cancel,
		done:    make(chan struct{}),
		jobs:    make(chan job, writeQueue),
		wdone:   make(chan struct{}),
		state:   "connecting",
		since:   m.now(),
		stats:   &camStats{},
		release: make(chan struct{}),
	}
	s.warm.Store(cam.Warm)
	s.set = cam
	s.segDur.Store(int64(cam.SegmentDuration))
	s.stall.Store(int64(cam.StallTimeout))
	s.stats.onDrop = s.onDrop
	s.stats.framesC = m.frames.WithLabelValues(cam.Name)
	s.stats.bytesC = m.bytes.WithLabelValues(cam.Name)
	s.gap = &api.Gap{Camera: cam.Name, Server: m.cfg.ServerName, Start: s.since}
	// A camera that starts later (a takeover, a warm backup) was recorded
	// elsewhere meanwhile, as far as this server knows: no restart gap.
	switch last, ok := m.cfg.Store.LastSegment(cam.Name); {
	case changed:
		s.gap.Cause = api.CauseRestart
	case resumed && !cam.Warm && ok && last.End.Before(s.since) && s.since.Sub(last.End) < restartWindow:
		s.gap.Start, s.gap.Cause = last.End, api.CauseRestart
	}
	w := &writer{
		store: m.cfg.Store, camera: cam.Name, server: m.cfg.ServerName,
		fsyncEvery: m.cfg.FsyncInterval, now: m.now, stats: s.stats, in: s.jobs,
		forceCut: func() {
			if mx := s.mux.Load(); mx != nil {
				mx.forceCut.Store(true)
			}
		},
		onOpen:     s.onRecording,
		onWriteErr: s.onWriteErr,
		holding:    cam.Warm,
		holdFor:    m.cfg.WarmHold,
		release:    s.release,
	}
	go w.run(s.wdone)
	return s
}

// promote turns a warm session into a recording one: the writer writes
// what it held, and segments get their full length again.
func (s *session) promote() {
	if !s.warm.Swap(false) {
		return
	}
	if mx := s.mux.Load(); mx != nil {
		mx.setSegDur(s.segmentDuration())
	}
	close(s.release)
}

// update applies the settings that need no new connection: segment
// duration (from the next keyframe on) and stall timeout.
func (s *session) update(c Camera) {
	s.segDur.Store(int64(c.SegmentDuration))
	s.stall.Store(int64(c.StallTimeout))
	if mx := s.mux.Load(); mx != nil {
		mx.setSegDur(s.segmentDuration())
	}
}

func (s *session) stallTimeout() time.Duration { return time.Duration(s.stall.Load()) }

// segmentDuration is the muxer's segment length: every GOP its own segment
// while warm, so that the writer can drop the oldest ones.
func (s *session) segmentDuration() time.Duration {
	if s.warm.Load() {
		return 0
	}
	return time.Duration(s.segDur.Load())
}

func (s *session) stop() {
	s.live.close() // viewers move on now, not after the files are closed
	s.cancel()
	<-s.done
}

func (s *session) run() {
	defer close(s.done)
	defer func() {
		close(s.jobs)
		<-s.wdone
		s.reportTallies(true) // the counts of the last minute are not lost
		s.closeGap(s.m.now(), true)
	}()
	attempt := 0
	for {
		recorded := s.stats.frames.Load()
		err := s.connect()
		if s.ctx.Err() != nil {
			return
		}
		if s.stats.frames.Load() > recorded {
			attempt = 0 // it did record: start the backoff over
		}
		s.m.reconnects.WithLabelValues(s.cam.Name).Inc()
		cause := s.failed(err)
		s.reportTallies(true)
		wait := backoff(attempt)
		if cause == api.CauseAuth || cause == api.CauseCodec || cause == api.CauseCertificate {
			wait = maxBackoff // retrying sooner cannot help
		}
		attempt++
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// backoff is the capped exponential delay before attempt n, jittered by
// ±20% so that cameras cut off together do not reconnect together.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 5 {
		d = minBackoff << n
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return min(max(d, minBackoff), maxBackoff)
}

// failed records a failure: state, open gap, and an event when the cause
// differs from the previous failure (no event storm while a camera stays
// down).
func (s *session) failed(err error) api.GapCause {
	cause := api.CauseDisconnect
	var se *sessionError
	if errors.As(err, &se) {
		cause = se.cause
	}
	now := s.m.now()
	s.mu.Lock()
	if s.state != "failing" {
		s.since = now
	}
	s.state = "failing"
	s.errMsg = err.Error()
	if s.gap == nil {
		start := now
		if last := s.lastSeen.Load(); last > 0 {
			start = now.Add(-time.Since(time.Unix(0, last))) // lastSeen is on the real clock
		}
		s.gap = &api.Gap{Camera: s.cam.Name, Server: s.m.cfg.ServerName, Start: start}
	}
	if s.gap.Cause == "" {
		s.gap.Cause = cause
	}
	kind := causeKind[cause]
	repeat := kind == s.lastKind
	s.lastKind = kind
	s.mu.Unlock()
	s.m.up.WithLabelValues(s.cam.Name).Set(0)
	if !repeat {
		sev := spec.SeverityWarning
		if cause == api.CauseAuth || cause == api.CauseCodec || cause == api.CauseCertificate {
			sev = spec.SeverityError
		}
		s.m.emit(sev, kind, s.cam.Name, fmt.Sprintf("camera %s: %s: %v", s.cam.Name, cause, err))
	}
	return cause
}

// onRecording is called by the writer when a segment file opens; loss is
// the gap the muxer left before it, if any.
func (s *session) onRecording(wall time.Time, codec string, loss *api.Gap) {
	s.stats.lastWrite.Store(s.m.now().UnixNano())
	s.mu.Lock()
	s.codec = codec
	was := s.state
	if s.state != "recording" {
		s.state, s.since, s.from, s.errMsg = "recording", s.m.now(), wall, ""
	}
	if loss != nil {
		switch {
		case s.gap == nil:
			g := *loss
			g.Camera, g.Server = s.cam.Name, s.m.cfg.ServerName
			s.gap = &g
		case loss.Start.Before(s.gap.Start):
			s.gap.Start = loss.Start
		}
		if s.gap.Cause == "" {
			s.gap.Cause = loss.Cause
		}
	}
	s.lastKind = ""
	s.mu.Unlock()
	s.m.up.WithLabelValues(s.cam.Name).Set(1)
	if g := s.closeGap(wall, false); g != nil && was != "recording" {
		s.m.emit(spec.SeverityInfo, spec.EventCameraRecording, s.cam.Name, fmt.Sprintf("camera %s: recording (%s) after a gap of %s (%s)",
			s.cam.Name, codec, g.End.Sub(g.Start).Round(time.Millisecond), g.Cause))
	} else if was != "recording" {
		s.m.emit(spec.SeverityInfo, spec.EventCameraRecording, s.cam.Name, fmt.Sprintf("camera %s: recording (%s)", s.cam.Name, codec))
	}
}

// closeGap ends the open gap at end and stores it. A gap with no cause
// (the first connection simply took a moment) is not a gap.
func (s *session) closeGap(end time.Time, stopping bool) *api.Gap {
	s.mu.Lock()
	g := s.gap
	s.gap = nil
	if stopping {
		s.state = "stopped"
	}
	s.mu.Unlock()
	if stopping {
		s.m.up.WithLabelValues(s.cam.Name).Set(0)
	}
	if g == nil || g.Cause == "" || !end.After(g.Start) || s.warm.Load() {
		return nil // a warm session was never asked to record
	}
	g.End = end
	if err := s.m.cfg.Store.AddGap(*g); err != nil {
		s.m.log.Error("cannot record gap", "camera", s.cam.Name, "error", err)
	}
	s.m.gaps.WithLabelValues(s.cam.Name, string(g.Cause)).Inc()
	s.mu.Lock()
	s.lastGap = g
	s.mu.Unlock()
	return g
}

func (s *session) onWriteErr(err error) {
	cause := api.CauseStorage
	now := s.m.now()
	s.mu.Lock()
	if s.gap == nil {
		s.gap = &api.Gap{Camera: s.cam.Name, Server: s.m.cfg.ServerName, Start: now, Cause: cause}
	}
	if s.state != "failing" {
		s.since = now
	}
	s.state, s.errMsg = "failing", err.Error()
	// On a disk kept just full, writes fail again after every round of
	// retention: one event a minute, as for dropped frames.
	repeat := s.lastKind == causeKind[cause] || !s.storageEvents.open()
	s.lastKind = causeKind[cause]
	s.mu.Unlock()
	s.m.up.WithLabelValues(s.cam.Name).Set(0)
	if !repeat {
		msg := "cannot write recording"
		if isFull(err) {
			msg = "storage full, frames dropped until retention makes room"
		}
		s.m.emit(spec.SeverityError, causeKind[cause], s.cam.Name, fmt.Sprintf("camera %s: %s: %v", s.cam.Name, msg, err))
	}
}

// onDrop counts dropped frames; the camera.dropped event reports the true
// count, at most once a minute.
func (s *session) onDrop(n int64, reason string) {
	s.m.dropped.WithLabelValues(s.cam.Name).Add(float64(n))
	s.report(&s.drops, n, reason)
}

// onJump reports a discontinuity of the camera's timestamps.
func (s *session) onJump(j jump) {
	dir := "jumped forward"
	by := j.by
	if by < 0 {
		dir, by = "stepped back", -by
	}
	s.report(&s.jumps, 1, fmt.Sprintf("%s timestamps %s by %s", j.track, dir, by.Round(time.Millisecond)))
}

// onReanchor reports that the camera's clock drifted from the recorder's.
func (s *session) onReanchor(drift time.Duration) {
	s.report(&s.drift, 1, fmt.Sprintf("the camera's clock was %s off the recorder's", drift.Round(time.Millisecond)))
}

func (s *session) report(t *eventTally, n int64, what string) {
	c, from, why := t.add(n, what, time.Now())
	s.emitTally(t, c, from, why)
}

// reportTallies sends the counts held back by the once-a-minute limit;
// all: whatever the limit (the connection ended).
func (s *session) reportTallies(all bool) {
	now := time.Now()
	for _, t := range []*eventTally{&s.drops, &s.jumps, &s.drift} {
		n, from, what := t.take(now, all)
		s.emitTally(t, n, from, what)
	}
}

func (s *session) emitTally(t *eventTally, n int64, from time.Time, what string) {
	if n == 0 {
		return
	}
	name := s.cam.Name
	switch t {
	case &s.drops:
		s.m.emit(spec.SeverityWarning, spec.EventCameraDropped, name, fmt.Sprintf("camera %s: %d frames dropped since %s: %s", name, n, from.Format(time.TimeOnly), what))
	case &s.jumps:
		msg := fmt.Sprintf("camera %s: %s; recording goes on without a hole", name, what)
		if n > 1 {
			msg = fmt.Sprintf("camera %s: %d timestamp discontinuities since %s, the last: %s; recording goes on without a hole", name, n, from.Format(time.TimeOnly), what)
		}
		s.m.emit(spec.SeverityWarning, causeKind[api.CauseTimestampJump], name, msg)
	case &s.drift:
		msg := fmt.Sprintf("camera %s: %s: a new segment starts at the recorder's time", name, what)
		if n > 1 {
			msg = fmt.Sprintf("camera %s: %d new segments since %s placed by the recorder's clock, the last because %s", name, n, from.Format(time.TimeOnly), what)
		}
		s.m.emit(spec.SeverityInfo, spec.EventCameraDrift, name, msg)
	}
}

// notWriting is the watchdog of "recording means written": frames arrive
// but none reached the files for idle. The session fails with the cause of
// the last drop, and recovers when a segment opens again.
func (s *session) notWriting(idle time.Duration) {
	cause, reason := s.stats.lastDrop()
	if cause == "" {
		cause, reason = api.CauseMalformed, "no frame could be recorded"
	}
	n := s.stats.received.Load() - s.stats.receivedAtWrite.Load()
	last := time.Unix(0, s.stats.writtenUntil.Load())
	s.mu.Lock()
	s.state, s.since = "failing", s.m.now()
	s.errMsg = fmt.Sprintf("%d frames received, none written for %s: %s", n, idle.Round(time.Second), reason)
	if s.gap == nil {
		s.gap = &api.Gap{Camera: s.cam.Name, Server: s.m.cfg.ServerName, Start: last, Cause: cause}
	}
	msg := s.errMsg
	s.lastKind = causeKind[cause]
	s.mu.Unlock()
	s.m.up.WithLabelValues(s.cam.Name).Set(0)
	s.m.emit(spec.SeverityError, causeKind[cause], s.cam.Name, fmt.Sprintf("camera %s: not recording: %s", s.cam.Name, msg))
}

func (s *session) recording() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == "recording"
}

// watchEvery is how often a connection checks its stream and its writes.
const watchEvery = 250 * time.Millisecond

// checkWritten runs the watchdog every watchEvery: a recording session
// whose frames arrive but reach no file is failing before StallTimeout has
// passed since its last write; after NoKeyframe of that the connection is
// started over.
func (s *session) checkWritten(real time.Time) error {
	lw := s.stats.lastWrite.Load()
	seen := s.lastSeen.Load()
	if lw == 0 || s.warm.Load() || seen == 0 || real.Sub(time.Unix(0, seen)) >= s.stallTimeout() {
		return nil // nothing written yet, holding, or nothing arriving: not this watchdog's business
	}
	idle := s.m.now().Sub(time.Unix(0, lw))
	// Media reaches the file a part (up to partDuration) at a time: a
	// StallTimeout shorter than two parts would see a healthy camera fail.
	if idle+watchEvery <= max(s.stallTimeout(), 2*partDuration) {
		return nil // by the next check it is still under the bound
	}
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state == "recording" {
		s.notWriting(idle)
	}
	if idle >= s.m.cfg.NoKeyframe {
		cause, reason := s.stats.lastDrop()
		if cause == "" {
			cause, reason = api.CauseMalformed, "no frame could be recorded"
		}
		return failure(cause, "frames for %s but none written: %s", idle.Round(time.Second), reason)
	}
	return nil
}

// connect runs one connection until it fails or the session stops.
func (s *session) connect() error {
	u, err := base.ParseURL(s.cam.URL)
	if err != nil {
		return failure(api.CauseUnreachable, "invalid camera URL: %v", err)
	}
	if s.cam.Username != "" {
		u.User = url.UserPassword(s.cam.Username, s.cam.Password)
	}
	proto := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme:      u.Scheme,
		Host:        u.Host,
		Protocol:    &proto,
		ReadTimeout: max(s.stallTimeout(), 5*time.Second),
		DialContext: dialCoalesced,
	}
	if strings.EqualFold(s.cam.Transport, "udp") {
		proto = gortsplib.ProtocolUDP
		c.UDPReadBufferSize = udpBufferSize()
	}
	if u.Scheme == "rtsps" {
		c.TLSConfig = tlsConfig(s.cam)
	}
	// Decode errors of the connection (gortsplib's, the depacketizers' and
	// the muxer's) tell a malformed stream from a silent one.
	var decodeErrs atomic.Int64
	var lastDecode atomic.Value
	decErr := func(err error) {
		decodeErrs.Add(1)
		lastDecode.Store(err.Error())
	}
	c.OnDecodeError = decErr
	if err := c.Start(); err != nil {
		return classify(err)
	}
	var mx *muxer
	defer func() {
		// The client first: once it is closed no callback can reach the
		// muxer, which then flushes and closes the segment.
		c.Close()
		if mx != nil {
			mx.close()
			s.mux.Store(nil)
		}
	}()
	stopWatch := context.AfterFunc(s.ctx, c.Close)
	defer stopWatch()

	desc, _, err := c.Describe(u)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return failure(api.CauseUnreachable, "not an RTSP server: it closed the connection without answering")
		}
		return classify(err)
	}
	mx, err = s.setup(c, desc, decErr)
	if err != nil {
		return err
	}
	s.lastSeen.Store(0)
	started := time.Now()
	if _, err := c.Play(nil); err != nil {
		return classify(err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- c.Wait() }()
	tick := time.NewTicker(watchEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return s.ctx.Err()
		case err := <-waitErr:
			return classify(err)
		case now := <-tick.C:
			s.reportTallies(false)
			if err := s.checkWritten(now); err != nil {
				return err
			}
			last := started
			if ns := s.lastSeen.Load(); ns > 0 {
				last = time.Unix(0, ns)
			}
			if now.Sub(last) >= s.stallTimeout() {
				if n := decodeErrs.Load(); n > 0 {
					return failure(api.CauseMalformed, "no playable frame for %s, %d decode errors, last: %v", s.stallTimeout(), n, lastDecode.Load())
				}
				return failure(api.CauseStall, "no frame for %s", s.stallTimeout())
			}
			if wait := s.m.cfg.NoKeyframe; !mx.opened.Load() && now.Sub(started) >= wait {
				if mx.noParams.Load() {
					return failure(api.CauseMalformed, "frames for %s but no parameter sets (SPS/PPS), in the stream description or in band: nothing can be decoded", wait)
				}
				return failure(api.CauseMalformed, "frames for %s but no keyframe to start a recording from: check the camera's keyframe (I-frame) interval", wait)
			}
		}
	}
}

// setup picks the tracks to record, sets them up and wires the
// depacketizers to a new muxer.
func (s *session) setup(c *gortsplib.Client, desc *description.Session, decErr func(error)) (*muxer, error) {
	var h264f *format.H264
	var h265f *format.H265
	video := desc.FindFormat(&h265f)
	if video == nil {
		video = desc.FindFormat(&h264f)
	}
	if video == nil {
		return nil, failure(api.CauseCodec, "no H.264 or H.265 video track (the camera offers %s)", offered(desc))
	}

	audioMedia, audioForma, audio, writeAudio := s.pickAudio(desc, decErr)

	if _, err := c.Setup(desc.BaseURL, video, 0, 0); err != nil {
		return nil, classify(err)
	}
	if audioMedia != nil {
		if _, err := c.Setup(desc.BaseURL, audioMedia, 0, 0); err != nil {
			return nil, classify(err)
		}
	}

	// The video depacketizer, its format, and which of its errors only mean
	// that it waits for more packets.
	var (
		mx  *muxer
		dec interface {
			Decode(*rtp.Packet) ([][]byte, error)
		}
		videoForma format.Format
		incomplete func(error) bool
	)
	if h265f != nil {
		// The parameters as the SDP announced them (in-band ones reach
		// the muxer with the frames).
		mx = newMuxer(s.segmentDuration(), true, h265f.VPS, h265f.SPS, h265f.PPS, audio, s.jobs, s.stats, s.m.now)
		d, err := h265f.CreateDecoder()
		if err != nil {
			return nil, failure(api.CauseMalformed, "H.265 depacketizer: %v", err)
		}
		dec, videoForma = d, h265f
		incomplete = func(err error) bool {
			return errors.Is(err, rtph265.ErrMorePacketsNeeded) || errors.Is(err, rtph265.ErrNonStartingPacketAndNoPrevious)
		}
	} else {
		mx = newMuxer(s.segmentDuration(), false, nil, h264f.SPS, h264f.PPS, audio, s.jobs, s.stats, s.m.now)
		d, err := h264f.CreateDecoder()
		if err != nil {
			return nil, failure(api.CauseMalformed, "H.264 depacketizer: %v", err)
		}
		dec, videoForma = d, h264f
		incomplete = func(err error) bool {
			return errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious)
		}
	}
	mx.onDecodeErr = decErr
	mx.live = &s.live
	mx.onJump = s.onJump
	mx.onReanchor = s.onReanchor
	c.OnPacketRTP(video, videoForma, func(pkt *rtp.Packet) {
		// The time decoder must see every packet; the depacketizer too,
		// even before timestamps are known, so that garbage is seen as
		// such.
		pts, ok := c.PacketPTS(video, pkt)
		au, err := dec.Decode(pkt)
		if err != nil {
			if !incomplete(err) {
				decErr(err)
			}
			return
		}
		if !ok {
			return
		}
		s.lastSeen.Store(time.Now().UnixNano())
		s.stats.received.Add(1)
		mx.writeVideo(pts, au)
	})
	if audioMedia != nil {
		c.OnPacketRTP(audioMedia, audioForma, func(pkt *rtp.Packet) {
			if pts, ok := c.PacketPTS(audioMedia, pkt); ok {
				writeAudio(mx, pts, pkt)
			}
		})
	}
	s.mux.Store(mx)
	if !s.warm.Load() {
		mx.setSegDur(s.segmentDuration()) // promoted meanwhile
	}
	return mx, nil
}

// pickAudio chooses the first audio track vigil can store (AAC, Opus,
// G.711) and returns its muxer track and a packet handler. Other audio is
// left out of the recording.
func (s *session) pickAudio(desc *description.Session, decErr func(error)) (*description.Media, format.Format, *audioTrack, func(*muxer, int64, *rtp.Packet)) {
	var aac *format.MPEG4Audio
	if m := desc.FindFormat(&aac); m != nil && aac.Config != nil {
		dec, err := aac.CreateDecoder()
		if err == nil {
			t := &audioTrack{codec: &codecs.MPEG4Audio{Config: *aac.Config}, timeScale: uint32(aac.ClockRate())}
			return m, aac, t, func(mx *muxer, pts int64, pkt *rtp.Packet) {
				aus, err := dec.Decode(pkt)
				if err != nil {
					if !errors.Is(err, rtpmpeg4audio.ErrMorePacketsNeeded) {
						decErr(err)
					}
					return
				}
				mx.writeAudio(pts, aus, mpeg4audio.SamplesPerAccessUnit)
			}
		}
	}
	var op *format.Opus
	if m := desc.FindFormat(&op); m != nil {
		dec, err := op.CreateDecoder()
		if err == nil {
			t := &audioTrack{codec: &codecs.Opus{ChannelCount: op.ChannelCount}, timeScale: uint32(op.ClockRate())}
			return m, op, t, func(mx *muxer, pts int64, pkt *rtp.Packet) {
				frame, err := dec.Decode(pkt)
				if err != nil {
					decErr(err)
					return
				}
				mx.writeAudio(pts, [][]byte{frame}, uint32(opus.PacketDuration2(frame)))
			}
		}
	}
	var g *format.G711
	if m := desc.FindFormat(&g); m != nil {
		dec, err := g.CreateDecoder()
		if err == nil {
			ch := max(g.ChannelCount, 1)
			t := &audioTrack{
				codec:     &codecs.LPCM{BitDepth: 16, SampleRate: g.SampleRate, ChannelCount: ch},
				timeScale: uint32(g.SampleRate),
			}
			mulaw := g.MULaw
			return m, g, t, func(mx *muxer, pts int64, pkt *rtp.Packet) {
				samples, err := dec.Decode(pkt)
				if err != nil {
					decErr(err)
					return
				}
				// MP4 has no G.711 sample entry that players agree on:
				// store it as 16-bit PCM.
				var pcm []byte
				if mulaw {
					var l g711.Mulaw
					l.Unmarshal(samples)
					pcm = l
				} else {
					var l g711.Alaw
					l.Unmarshal(samples)
					pcm = l
				}
				mx.writeAudio(pts, [][]byte{pcm}, uint32(len(samples)/ch))
			}
		}
	}
	if len(desc.Medias) > 1 {
		s.m.log.Info("camera audio not recorded: codec not supported", "camera", s.cam.Name, "offers", offered(desc))
	}
	return nil, nil, nil, nil
}

func offered(desc *description.Session) string {
	var names []string
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			names = append(names, codecName(f))
		}
	}
	if len(names) == 0 {
		return "no track"
	}
	return strings.Join(names, ", ")
}

// codecName names a format for operators: the encoding name of its rtpmap
// ("H264/90000"), M-JPEG for what RTP calls JPEG (the video codec cameras
// offer besides H.26x), or its payload type when it has no rtpmap.
func codecName(f format.Format) string {
	if _, ok := f.(*format.MJPEG); ok {
		return "M-JPEG"
	}
	if name, _, _ := strings.Cut(f.RTPMap(), "/"); name != "" {
		return name
	}
	return fmt.Sprintf("payload type %d", f.PayloadType())
}

// classify maps a gortsplib or network error to a gap cause.
func classify(err error) error {
	if err == nil {
		return failure(api.CauseDisconnect, "connection closed")
	}
	var se *sessionError
	if errors.As(err, &se) {
		return err
	}
	if cert := certFailure(err); cert != nil {
		return cert
	}
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		switch bad.Code {
		case base.StatusUnauthorized, base.StatusForbidden:
			return failure(api.CauseAuth, "the camera refused the username or password (%d %s)", bad.Code, bad.Message)
		case base.StatusNotFound:
			return failure(api.CauseUnreachable, "the camera has no such stream (404): check the URL path")
		}
		return failure(api.CauseUnreachable, "the camera answered %d %s", bad.Code, bad.Message)
	}
	var authErr liberrors.ErrClientAuthSetup
	if errors.As(err, &authErr) {
		return failure(api.CauseAuth, "authentication: %v", err)
	}
	var sdpErr liberrors.ErrClientSDPInvalid
	if errors.As(err, &sdpErr) {
		return failure(api.CauseMalformed, "invalid stream description: %v", err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return failure(api.CauseUnreachable, "cannot connect: %v", err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return failure(api.CauseUnreachable, "cannot resolve the camera host: %v", err)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return failure(api.CauseUnreachable, "the camera does not answer: %v", err)
	}
	if answer, ok := notRTSP(err); ok {
		return failure(api.CauseUnreachable, "%s", answer)
	}
	return failure(api.CauseDisconnect, "%v", err)
}

// notRTSP recognises gortsplib's complaint about a peer whose answer does
// not start with "RTSP/1.0" ("expected 'RTSP/1.0', got [72 84 84 80]") and
// says what the peer is in words.
func notRTSP(err error) (string, bool) {
	msg := err.Error()
	i := strings.Index(msg, "expected 'RTSP/1.0', got [")
	if i < 0 {
		return "", false
	}
	list, _, _ := strings.Cut(msg[i+len("expected 'RTSP/1.0', got ["):], "]")
	var got []byte
	for _, f := range strings.Fields(list) {
		b, err := strconv.Atoi(f)
		if err != nil || b < 0 || b > 255 {
			return "", false
		}
		got = append(got, byte(b))
	}
	if strings.HasPrefix(string(got), "HTTP") {
		return "not an RTSP server: it answered HTTP (a web port? RTSP is usually port 554)", true
	}
	return fmt.Sprintf("not an RTSP server: it answered %q", got), true
}

// status returns the session's CameraStatus.
func (s *session) status() CameraStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := CameraStatus{
		Name: s.cam.Name, State: s.state, Since: s.since, From: s.from, Error: s.errMsg, Codec: s.codec,
		Frames: s.stats.frames.Load(), Bytes: s.stats.bytes.Load(), Dropped: s.stats.dropped.Load(),
		Skipped: s.stats.skipped.Load(),
	}
	if end := s.stats.writtenUntil.Load(); end > 0 {
		st.MediaEnd = time.Unix(0, end)
	}
	if s.warm.Load() && st.State != "failing" {
		st.State = "warm"
	}
	if s.gap != nil && s.gap.Cause != "" {
		g := *s.gap
		st.Gap = &g
	} else if s.lastGap != nil {
		g := *s.lastGap
		st.Gap = &g
	}
	return st
}
