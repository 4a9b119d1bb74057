package camsim

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/pion/rtp"
)

// maxBurst bounds how many late frames a path sends at once after it was
// descheduled; frames later than that are skipped, as a camera's encoder
// drops frames when it cannot keep up, so readers never get a flood.
const maxBurst = clipFPS

// path is one simulated camera: a live source and the RTSP stream that readers
// attach to.
type path struct {
	s      *Server
	name   string
	stream *gortsplib.ServerStream
	video  *trackState
	audio  *trackState // nil without audio
	epoch  time.Time   // time at which frame 0 (and audio frame 0) was due

	stallUntil atomic.Int64 // unix nanoseconds
	// Timestamp faults, applied by the path's goroutine at its next tick:
	// a pending jump (nanoseconds), the clock's rate error (ppm x 1000), a
	// pending encoder restart, and whether new readers step the stream
	// back (shared media).
	jump        atomic.Int64
	driftMilli  atomic.Int64
	restart     atomic.Bool
	sharedStep  atomic.Bool
	stepFrom    time.Time    // when the timestamps last started over (path goroutine and addReader, under mu)
	attached    atomic.Int64 // sessions that set up this path, playing or not
	produced    atomic.Int64
	sent        atomic.Int64
	skipped     atomic.Int64
	writeErrors atomic.Int64

	mu      sync.Mutex
	readers []*session    // playing sessions, oldest first
	closed  []ReaderStats // the last keepClosed sessions that stopped playing, oldest first
}

// keepClosed is how many closed sessions a path remembers in its stats, so
// that a benchmark can read a recorder's counts after stopping it.
const keepClosed = 8

// trackState is the sending state of one track of a path. Only the path's
// goroutine touches it.
type trackState struct {
	t      *track
	media  *description.Media
	next   int64  // index of the next unit by the clock
	first  int64  // the clip's unit sent as unit 0
	tsBase uint32 // RTP timestamp of unit 0
	// The clock error in ppm since unit ppmFrom; the error accumulated
	// before is folded into tsBase.
	ppm     float64
	ppmFrom int64
	pkt     rtp.Packet
}

func newPath(s *Server, name string, c *clip, audio *track, audioFormat func() format.Format) (*path, error) {
	var vf format.Format
	if c.codec == "h265" {
		vf = &format.H265{PayloadTyp: videoPayloadType, VPS: c.vps, SPS: c.sps, PPS: c.pps}
	} else {
		vf = &format.H264{PayloadTyp: videoPayloadType, PacketizationMode: 1, SPS: c.sps, PPS: c.pps}
	}
	p := &path{s: s, name: name}
	p.video = newTrackState(&c.video, &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{vf}}, videoPayloadType)
	desc := &description.Session{Title: "vigil camsim " + name, Medias: []*description.Media{p.video.media}}
	if audio != nil {
		p.audio = newTrackState(audio, &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{audioFormat()}}, audioPayloadType)
		desc.Medias = append(desc.Medias, p.audio.media)
	}
	p.stream = &gortsplib.ServerStream{Server: s.rtsp, Desc: desc}
	if err := p.stream.Initialize(); err != nil {
		return nil, err
	}
	return p, nil
}

func newTrackState(t *track, m *description.Media, pt uint8) *trackState {
	ts := &trackState{t: t, media: m, tsBase: randUint32()}
	ts.pkt.Version = 2
	ts.pkt.PayloadType = pt
	ts.pkt.SequenceNumber = uint16(randUint32())
	return ts
}

// run generates frames on the path's clock until the server closes.
func (p *path) run() {
	defer p.s.wg.Done()
	period := time.Second / clipFPS
	select {
	case <-time.After(time.Until(p.epoch)):
	case <-p.s.done:
		return
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	p.tick(time.Now())
	for {
		select {
		case <-p.s.done:
			return
		case <-tick.C:
			p.tick(time.Now())
		}
	}
}

// due returns the number of units of track t due by elapsed.
func due(t *track, elapsed time.Duration) int64 {
	// Unit n is due at n*ticks/clockRate seconds after the epoch. Split the
	// seconds off so that the products cannot overflow in a long run.
	if elapsed < 0 {
		return 0
	}
	sec, rem := int64(elapsed/time.Second), int64(elapsed%time.Second)
	clock := sec*int64(t.clockRate) + rem*int64(t.clockRate)/int64(time.Second)
	return clock/t.ticks + 1
}

// unitTime returns when unit n of t is due, relative to the epoch.
func unitTime(t *track, n int64) time.Duration {
	clock, rate := n*t.ticks, int64(t.clockRate)
	return time.Duration(clock/rate)*time.Second + time.Duration(clock%rate*int64(time.Second)/rate)
}

// tick sends every frame that is due at now.
func (p *path) tick(now time.Time) {
	elapsed := now.Sub(p.epoch)
	stalled := now.UnixNano() < p.stallUntil.Load()
	p.applyFaults(stalled, now)
	p.sendDue(p.video, elapsed, stalled, true)
	if p.audio != nil {
		p.sendDue(p.audio, elapsed, stalled, false)
	}
}

func (p *path) sendDue(ts *trackState, elapsed time.Duration, stalled, isVideo bool) {
	n := due(ts.t, elapsed)
	if n-ts.next > maxBurst {
		if isVideo && !stalled {
			p.skipped.Add(n - maxBurst - ts.next)
		}
		ts.next = n - maxBurst
	}
	if stalled {
		ts.next = n
		return
	}
	for ; ts.next < n; ts.next++ {
		u := &ts.t.units[(ts.first+ts.next)%int64(len(ts.t.units))]
		if isVideo {
			p.countFrame(u.key)
		}
		// Nobody has set up the path: nothing to write, and sequence numbers
		// only count packets really sent.
		if p.attached.Load() == 0 {
			continue
		}
		ts.pkt.Timestamp = ts.timestamp(ts.next)
		ntp := p.epoch.Add(unitTime(ts.t, ts.next))
		for i := range u.packets {
			ts.pkt.Payload = u.packets[i].payload
			ts.pkt.Marker = u.packets[i].marker
			// The only error is a closed stream, which happens at Close.
			_ = p.stream.WritePacketRTPWithNTP(ts.media, &ts.pkt, ntp)
			ts.pkt.SequenceNumber++
		}
	}
}

// timestamp is the RTP timestamp of unit n, with the clock's error.
func (ts *trackState) timestamp(n int64) uint32 {
	ticks := n * ts.t.ticks
	return ts.tsBase + uint32(ticks) + uint32(int64(float64((n-ts.ppmFrom)*ts.t.ticks)*ts.ppm/1e6))
}

// applyFaults applies the timestamp faults asked for since the last tick.
func (p *path) applyFaults(stalled bool, now time.Time) {
	tracks := []*trackState{p.video}
	if p.audio != nil {
		tracks = append(tracks, p.audio)
	}
	if by := p.jump.Swap(0); by != 0 {
		for _, ts := range tracks {
			ts.tsBase += uint32(int64(time.Duration(by).Seconds() * float64(ts.t.clockRate)))
		}
	}
	if ppm := float64(p.driftMilli.Load()) / 1000; ppm != p.video.ppm {
		for _, ts := range tracks {
			ts.tsBase = ts.timestamp(ts.next) - uint32(ts.next*ts.t.ticks)
			ts.ppm, ts.ppmFrom = ppm, ts.next
		}
	}
	if !stalled && p.restart.Swap(false) {
		// The encoder starts over: timestamps from a new origin, the clip
		// from its first (key) frame.
		for _, ts := range tracks {
			ts.tsBase = randUint32() - uint32(ts.next*ts.t.ticks)
			ts.ppmFrom = ts.next
			n := int64(len(ts.t.units))
			ts.first = (n - ts.next%n) % n
		}
		p.mu.Lock()
		p.stepFrom = now
		p.mu.Unlock()
	}
}

// countFrame accounts one produced video frame to the path and its readers.
func (p *path) countFrame(key bool) {
	p.produced.Add(1)
	p.mu.Lock()
	if len(p.readers) > 0 {
		p.sent.Add(1)
	}
	for _, r := range p.readers {
		r.frames++
		if key {
			r.keySeen = true
		}
		if r.keySeen {
			r.fromKey++
		}
	}
	p.mu.Unlock()
}

func (p *path) addReader(se *session) {
	p.mu.Lock()
	if !se.playing {
		se.playing = true
		se.since = time.Now()
		if p.sharedStep.Load() && len(p.readers) > 0 {
			// Shared media starting over for the newcomer: the readers
			// already playing see the timestamps step back.
			p.jump.Add(-int64(se.since.Sub(p.stepFrom)))
			p.stepFrom = se.since
		}
		p.readers = append(p.readers, se)
	}
	p.mu.Unlock()
}

func (p *path) removeReader(se *session) {
	p.mu.Lock()
	for i, r := range p.readers {
		if r == se {
			p.readers = append(p.readers[:i], p.readers[i+1:]...)
			break
		}
	}
	if se.playing {
		rs := se.stats()
		rs.Until = time.Now()
		if len(p.closed) == keepClosed {
			p.closed = append(p.closed[:0], p.closed[1:]...)
		}
		p.closed = append(p.closed, rs)
	}
	se.playing = false
	p.mu.Unlock()
}

func (p *path) stats() PathStats {
	st := PathStats{
		Produced:    p.produced.Load(),
		Sent:        p.sent.Load(),
		Skipped:     p.skipped.Load(),
		Bytes:       p.stream.Stats().OutboundBytes,
		WriteErrors: p.writeErrors.Load(),
		Stalled:     time.Now().UnixNano() < p.stallUntil.Load(),
	}
	p.mu.Lock()
	st.Readers = len(p.readers)
	st.Sessions = make([]ReaderStats, 0, len(p.readers)+len(p.closed))
	for _, r := range p.readers {
		st.Sessions = append(st.Sessions, r.stats())
	}
	st.Sessions = append(st.Sessions, p.closed...)
	p.mu.Unlock()
	return st
}

// stats returns the session's counters; the caller holds path.mu.
func (se *session) stats() ReaderStats {
	return ReaderStats{
		Remote:             se.remote,
		Transport:          se.transport,
		Since:              se.since,
		Frames:             se.frames,
		FramesFromKeyframe: se.fromKey,
	}
}
