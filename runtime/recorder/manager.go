// Package recorder records the cameras assigned to this server: one RTSP
// client (gortsplib) per camera, whose H.264/H.265 video and AAC, Opus or
// G.711 audio are written as fragmented MP4 segments into a storage.Store.
//
// Per camera, the RTSP client's goroutine depacketizes frames into a muxer,
// which cuts a new segment at the first keyframe after SegmentDuration (or
// when the codec parameters change) and hands a part of about one second to
// the camera's writer goroutine through a bounded queue. The writer appends
// the part to the file (a file cut by a crash plays up to its last part) and
// fsyncs at least every FsyncInterval. A full queue or a failed write drops
// frames (counted, with an event) and recording restarts at the next
// keyframe in a new file; no camera ever waits for another one's disk.
//
// A connection that fails, delivers no frame for StallTimeout, or delivers
// for NoKeyframe only frames that cannot start a recording (no keyframe, no
// parameter sets), is retried with a jittered backoff from 1 s to 30 s
// (straight to 30 s for wrong credentials, an unsupported codec or a refused
// rtsps:// certificate, see tlsConfig). Every
// interruption becomes a gap (api.Gap) stored with the recordings, and an
// event. A camera of the Manager's first Set that last recorded less than
// 10 minutes before gets a "restart" gap for that span (the recorder itself
// was down); a camera whose settings change gets a "restart" gap until its
// new session records.
//
// # Time model
//
// Two clocks meet in a recording. The recorder's clock (ManagerConfig.Now:
// the agent's clock, kept by the site's time sync) names the files and
// gives every time in the index, the gaps, the states and the events. The
// camera's clock, its RTP timestamps, fills the fMP4 media time (tfdt,
// sample durations) inside a file, so that motion plays smoothly. A reader
// may rely on this: the wall-clock time of a frame is its segment's start
// (file name and index) plus its decode time in the file, and it is within
// 1 s of when the frame reached the recorder. Camera clocks (RTCP sender
// reports) are not trusted: many cameras are never set.
//
// The first segment of a connection starts at the recorder's clock when its
// first keyframe arrives, moved back to where the least delayed frame of its
// first part puts it (a keyframe, the largest frame, often arrives late;
// the file is named after that). The next ones follow on from the previous
// end, by the stream's timestamps, so they join without a hole. Two things
// break that chain:
//
//   - A discontinuity of the camera's timestamps (a step back, a jump
//     forward beyond the time that passed, a reset to a new origin, an
//     encoder restart, a second client joining a shared stream) is
//     rebased: the stream goes on one frame after the previous one, so no
//     frame is lost, and a camera.timestamps event says so. (The 32-bit
//     RTP timestamp's own wrap is unwrapped by the RTSP client.) If the camera also paused (sent
//     nothing for over 500 ms), the next keyframe starts a new segment at
//     the recorder's clock and the pause is a gap with cause "timestamp
//     jump". Frames the DTS extractor still cannot time are dropped up to
//     the next keyframe (a fresh extractor) and are a gap of that cause.
//   - Drift: the lateness of the least delayed frame over the last 2 to 4 s
//     (network delay only ever adds to a frame's lateness) is how far the
//     camera's clock drifted from ours. Past 500 ms, the next keyframe
//     starts a new segment placed by the recorder's clock, with a
//     camera.drift event; a camera running fast ends its previous segment
//     there in the index rather than overlapping it.
//
// # Recording means written
//
// A session is "recording" from the moment a segment file opens and only
// while media reaches it: frames that arrive but reach no file for
// StallTimeout (at least two parts; lost until a keyframe, a disk that
// refuses them) make it
// "failing", with an open gap and an event naming the cause and the count of
// frames; after NoKeyframe of that the connection starts over. Dropped
// frames are counted exactly in camera.dropped events (the first at once,
// the rest once a minute).
package recorder

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/runtime/api"
	"vigil/runtime/storage"

	"vigil/hcl/spec"
)

// Camera is what the recorder needs to know about a camera.
type Camera struct {
	Name, URL, Username, Password string
	// Transport is "tcp" (default) or "udp".
	Transport string
	// TLSFingerprint pins an rtsps:// camera's certificate
	// (spec.CertFingerprint's form); TLSInsecure skips its check. With
	// neither, the certificate must be valid for the URL's host under the
	// system's roots.
	TLSFingerprint string
	TLSInsecure    bool
	// SegmentDuration is the length of one file (default 60 s); the cut
	// happens at the first keyframe after it.
	SegmentDuration time.Duration
	// StallTimeout: no frame for this long is a disconnect (default 5 s).
	StallTimeout time.Duration
	// Retention is the camera's own maximum age of recordings (0: the
	// storage's limits only).
	Retention time.Duration
	// Warm asks for a session that connects and keeps the last
	// ManagerConfig.WarmHold of media in memory but writes nothing, until
	// Set names the camera again without Warm: then what it holds is
	// written first and recording goes on, without waiting for a
	// connection or a keyframe. A warm session records no gap.
	Warm bool
}

// DefaultWarmHold is the most media a warm session keeps, in whole GOPs,
// unless ManagerConfig.WarmHold says otherwise.
const DefaultWarmHold = 10 * time.Second

// Defaults applied to zero Camera fields.
const (
	DefaultSegmentDuration = 60 * time.Second
	DefaultStallTimeout    = 5 * time.Second
	DefaultFsyncInterval   = 5 * time.Second
	// DefaultNoKeyframe: a connection whose frames give nothing to record
	// for this long (no keyframe, no parameter sets) fails as malformed.
	// Long, because "smart" encoders stretch the GOP to 40 s and more.
	DefaultNoKeyframe = time.Minute
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	ServerName string
	Store      *storage.Store
	// Events receives camera and storage events; it must not block.
	Events func(api.Event)
	// Registry receives the recorder and storage metrics; nil: not exported.
	Registry prometheus.Registerer
	Logger   *slog.Logger
	// FsyncInterval bounds how long written media may stay in the page
	// cache (default 5 s).
	FsyncInterval time.Duration
	// NoKeyframe bounds how long a connection may deliver frames of which
	// none can start a recording (default DefaultNoKeyframe).
	NoKeyframe time.Duration
	// WarmHold is the most media a warm session keeps (default
	// DefaultWarmHold): it should span the time from a server's first
	// missed keepalive to its dead verdict, plus a GOP.
	WarmHold time.Duration
	// Now is the recorder's wall clock (default time.Now): it names the
	// files and dates segments, gaps and states. Tests run it fast.
	Now func() time.Time
}

// CameraStatus is the recorder's view of one camera.
type CameraStatus struct {
	Name string
	// State is "connecting", "recording" or "failing"; "warm" for a warm
	// session (Camera.Warm) that is not failing.
	State string
	Since time.Time
	// From is the wall-clock time of the first frame of the current
	// recording (for a promoted warm session, of the first frame it held):
	// where this server's media starts, which may be before Since.
	From time.Time
	// MediaEnd is where the media written so far ends, in the files' time;
	// zero before the first part. While the camera fails, its gap starts
	// there.
	MediaEnd time.Time
	// Error is the last failure while State is "failing".
	Error string
	Codec string // e.g. "h264+aac"
	// Frames are video frames written, Bytes the bytes of media written,
	// Dropped the frames lost after recording started (slow disk, full
	// disk, corrupt data), Skipped the frames before the first keyframe of
	// each connection (not decodable, so not recordable).
	Frames, Bytes, Dropped, Skipped int64
	// Gap is the open gap while not recording, else the last one.
	Gap *api.Gap
}

// Manager owns the camera sessions of this server.
type Manager struct {
	cfg ManagerConfig
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*session
	// handovers are the sessions connecting to a camera's new source while
	// its old one still records (Set).
	handovers map[string]*session
	first     bool // no Set yet: the cameras of the first are resumed after a restart
	stopping  sync.WaitGroup
	closed    bool

	frames     *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	dropped    *prometheus.CounterVec
	reconnects *prometheus.CounterVec
	gaps       *prometheus.CounterVec
	up         *prometheus.GaugeVec
}

// NewManager creates a Manager recording into cfg.Store. It also makes the
// store report its events to cfg.Events.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("recorder: no storage")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FsyncInterval <= 0 {
		cfg.FsyncInterval = DefaultFsyncInterval
	}
	if cfg.NoKeyframe <= 0 {
		cfg.NoKeyframe = DefaultNoKeyframe
	}
	if cfg.WarmHold <= 0 {
		cfg.WarmHold = DefaultWarmHold
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{
		cfg:       cfg,
		log:       cfg.Logger,
		sessions:  map[string]*session{},
		handovers: map[string]*session{},
		first:     true,
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_recorder_frames_total", Help: "Video frames written to disk."}, []string{"camera"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_recorder_bytes_total", Help: "Bytes of media written to disk."}, []string{"camera"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_recorder_frames_dropped_total", Help: "Video frames lost after recording started (slow or full disk, corrupt data)."}, []string{"camera"}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_recorder_reconnects_total", Help: "Failed or lost camera connections."}, []string{"camera"}),
		gaps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_recorder_gaps_total", Help: "Recording gaps by cause."}, []string{"camera", "cause"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_recorder_recording", Help: "1 while the camera is being recorded."}, []string{"camera"}),
	}
	if cfg.Registry != nil {
		for _, c := range []prometheus.Collector{m.frames, m.bytes, m.dropped, m.reconnects, m.gaps, m.up, cfg.Store} {
			if err := cfg.Registry.Register(c); err != nil {
				return nil, err
			}
		}
	}
	cfg.Store.SetEvents(func(e api.Event) {
		e.Server = cfg.ServerName
		m.send(e)
	})
	return m, nil
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

func (m *Manager) emit(severity spec.Severity, kind, camera, msg string) {
	m.log.Log(context.Background(), severity.Level(), msg, "kind", kind, "camera", camera)
	m.send(api.Event{Time: m.now(), Severity: severity, Kind: kind, Server: m.cfg.ServerName, Camera: camera, Message: msg})
}

func (m *Manager) send(e api.Event) {
	if m.cfg.Events != nil {
		m.cfg.Events(e)
	}
}

func withDefaults(c Camera) Camera {
	if c.SegmentDuration <= 0 {
		c.SegmentDuration = DefaultSegmentDuration
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.Transport == "" {
		c.Transport = "tcp"
	}
	return c
}

// Set makes the recorded cameras exactly cams: it starts new cameras and
// stops removed ones. It does not wait for connections or for stopped
// cameras to close their files.
//
// A changed camera loses no recording where it can be helped. Settings
// that need no new connection (segment duration, stall timeout, retention)
// apply to the running session. A new source (URL, credentials, transport)
// of a recording camera is handed over make-before-break, as failback is:
// a new session connects beside the old one, holding its media, and takes
// over once it has a keyframe (at most handoverWait); the two files
// overlap by the time that takes, rather than leaving a hole.
func (m *Manager) Set(cams []Camera) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	want := map[string]Camera{}
	for _, c := range cams {
		want[c.Name] = withDefaults(c)
	}
	restarted := map[string]bool{} // cameras whose source changed while not recording
	for name, s := range m.sessions {
		c, ok := want[name]
		warm := s.warm.Load()
		target := s
		if h := m.handovers[name]; h != nil {
			target = h // the source being handed over to
		}
		switch {
		case !ok || (c.Warm && !warm):
			m.stopLocked(name, s)
		case !sameSource(c, target.set) && !warm && !c.Warm && s.recording():
			m.handoverLocked(name, c)
		case !sameSource(c, target.set):
			restarted[name] = !warm && !c.Warm
			m.stopLocked(name, s)
		default:
			if warm && !c.Warm {
				s.promote()
			}
			target.update(c)
			target.set = c
			m.cfg.Store.SetRetention(name, c.Retention)
		}
	}
	for name, c := range want {
		if _, ok := m.sessions[name]; ok {
			continue
		}
		m.cfg.Store.SetRetention(name, c.Retention)
		s := newSession(m, c, m.first, restarted[name])
		m.sessions[name] = s
		go s.run()
	}
	m.first = false
}

// handoverWait bounds how long a camera's old source keeps recording while
// its new one connects: then the new one takes over, recording or not.
const handoverWait = 15 * time.Second

// handoverLocked starts a warm session on camera c's new source; when it
// holds media it replaces the running session (awaitHandover).
func (m *Manager) handoverLocked(name string, c Camera) {
	if h := m.handovers[name]; h != nil {
		m.stopAsync(h) // superseded by a newer source
	}
	warm := c
	warm.Warm = true
	h := newSession(m, warm, false, false)
	h.set = c
	m.handovers[name] = h
	m.cfg.Store.SetRetention(name, c.Retention)
	go h.run()
	go m.awaitHandover(name, h)
}

func (m *Manager) awaitHandover(name string, h *session) {
	deadline := time.NewTimer(handoverWait)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ready := false; !ready; {
		select {
		case <-h.ctx.Done():
			return // superseded, removed, or the manager closed
		case <-deadline.C:
			ready = true
		case <-tick.C:
			mx := h.mux.Load()
			ready = mx != nil && mx.opened.Load()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.sessions[name]
	if m.closed || m.handovers[name] != h || old == nil {
		return
	}
	delete(m.handovers, name)
	m.sessions[name] = h
	mx := h.mux.Load()
	opened := mx != nil && mx.opened.Load()
	old.mu.Lock()
	state, since, codec := old.state, old.since, old.codec
	old.mu.Unlock()
	h.mu.Lock()
	if opened && state == "recording" {
		// The camera goes on recording: what the new session holds is
		// written first, from its keyframe on.
		h.state, h.since, h.codec = state, since, codec
	}
	if h.gap != nil {
		// Until now the old source recorded: a gap, if the new source
		// does not, starts here, and is the restart's unless it says why.
		h.gap.Start = m.now()
		if h.gap.Cause == "" && !opened {
			h.gap.Cause = api.CauseRestart
		}
	}
	h.mu.Unlock()
	h.promote()
	m.stopAsync(old)
	m.log.Info("camera source handed over", "camera", name)
}

// sameSource tells whether a and b record the same source the same way,
// whatever their settings that need no new connection.
func sameSource(a, b Camera) bool {
	return a.URL == b.URL && a.Username == b.Username && a.Password == b.Password && a.Transport == b.Transport &&
		a.TLSFingerprint == b.TLSFingerprint && a.TLSInsecure == b.TLSInsecure
}

func (m *Manager) stopLocked(name string, s *session) {
	delete(m.sessions, name)
	if h := m.handovers[name]; h != nil {
		delete(m.handovers, name)
		m.stopAsync(h)
	}
	m.stopping.Add(1)
	go func() {
		defer m.stopping.Done()
		s.stop()
		m.mu.Lock()
		_, again := m.sessions[name]
		m.mu.Unlock()
		if !again {
			m.forget(name)
		}
	}()
}

// stopAsync stops a session that is not (or no longer) the camera's.
func (m *Manager) stopAsync(s *session) {
	m.stopping.Add(1)
	go func() {
		defer m.stopping.Done()
		s.stop()
	}()
}

// forget drops a removed camera's metric series.
func (m *Manager) forget(name string) {
	for _, v := range []*prometheus.CounterVec{m.frames, m.bytes, m.dropped, m.reconnects} {
		v.DeleteLabelValues(name)
	}
	m.gaps.DeletePartialMatch(prometheus.Labels{"camera": name})
	m.up.DeleteLabelValues(name)
}

// Status returns every camera's status, by name.
func (m *Manager) Status() []CameraStatus {
	m.mu.Lock()
	ss := make([]*session, 0, len(m.sessions))
	for _, s := range m.sessions {
		ss = append(ss, s)
	}
	m.mu.Unlock()
	out := make([]CameraStatus, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.status())
	}
	slices.SortFunc(out, func(a, b CameraStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close stops every camera, closing their segments into the index, and
// waits for them.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for name, s := range m.sessions {
		m.stopLocked(name, s)
	}
	m.mu.Unlock()
	m.stopping.Wait()
}
