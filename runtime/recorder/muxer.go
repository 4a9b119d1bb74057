package recorder

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// partDuration is how much media one fMP4 part holds at most: the most a
// crash can lose before the part reaches the file. A part is also written
// as soon as it holds maxPartBytes, which bounds the media each camera keeps
// in memory and what a killed server loses (a 3 Mbit/s camera fills about six
// parts a second: at most 0.17 s lost). 64 KiB parts cost no more CPU than
// 128 KiB ones (make bench-record, N=100: 0.22-0.23 %/stream either way).
const (
	partDuration = time.Second
	maxPartBytes = 64 << 10
)

// videoTimeScale is the RTP clock rate of H.264 and H.265.
const videoTimeScale = 90000

// The time model's bounds (see the package documentation).
const (
	// maxDrift is how far the wall-clock time the files give a frame may
	// be from the time it arrived (least delayed frames) before the next
	// keyframe starts a new segment placed by the clock. Arrival jitter
	// comes on top, so files stay within 1 s of the recorder's clock.
	maxDrift = 500 * time.Millisecond
	// driftWindow: the drift is the smallest lateness over the last one
	// to two windows, so that network delay does not count as drift.
	driftWindow = 2 * time.Second
	// maxReorder is how far a frame's timestamp may go back (B-frames)
	// before it is a step back.
	maxReorder = 500 * time.Millisecond
	// maxLead is how much further a frame's timestamp may advance than the
	// clock did since the previous frame before it is a jump forward.
	maxLead = time.Second
)

// A jump is a discontinuity of a camera's timestamps: by is how far they
// moved from where the next frame was due (negative: back).
type jump struct {
	track string // "video" or "audio"
	by    time.Duration
}

// segMeta identifies one segment while its parts travel to the writer.
type segMeta struct {
	wall   time.Time // wall-clock time of the first video frame
	init   []byte
	codec  string
	tracks []storage.Track
	// loss is the gap that ends where this segment starts: frames the
	// muxer lost before it (nil when it follows on without a hole).
	loss *api.Gap
	// endAt, when set (unix nanoseconds), is the wall-clock end of the
	// segment if earlier than its media's: the next segment re-anchored on
	// a stream running ahead of the clock.
	endAt atomic.Int64
}

// job is one part for the writer goroutine.
type job struct {
	seg    *segMeta
	tracks []storage.PartTrack
	frames int           // video frames in the part
	bytes  int64         // media bytes in the part
	end    time.Duration // end of the part from the segment start
	close  bool          // close the segment after this part
}

// muxer turns access units into fMP4 segments and parts. It runs on the
// RTSP client's goroutines and never blocks on the disk: parts go to the
// writer through a bounded queue, and a full queue drops the part (counted)
// and restarts recording at the next keyframe in a new segment.
type muxer struct {
	mu      sync.Mutex
	segDur  int64 // in video ticks
	out     chan<- job
	stats   *camStats
	h265    bool
	audio   *audioTrack
	cur     *segMeta
	start   int64 // video DTS of the segment start
	needKey bool
	cutNext bool
	lost    bool // frames were dropped since the last keyframe
	closed  bool

	// forceCut is set by the writer after a failed write: the next
	// keyframe starts a new file.
	forceCut atomic.Bool
	// opened is set once a segment was opened: the stream can be recorded.
	opened atomic.Bool
	// noParams is set while frames are skipped for want of parameter sets.
	noParams atomic.Bool

	// onDecodeErr, when set, is told of frames the muxer cannot use
	// (undecodable timing, parameter sets it cannot describe).
	onDecodeErr func(error)
	// live, when set, gets every video frame for live viewers.
	live *liveTap
	// onJump, when set, is told of every timestamp discontinuity;
	// onReanchor of every segment placed by the clock because the stream's
	// clock drifted from it by drift.
	onJump     func(jump)
	onReanchor func(drift time.Duration)

	// The time model. now is the recorder's clock. The camera's timestamps
	// are shifted by ptsOffset, which changes at each discontinuity so that
	// the stream goes on where it was due (no frame lost); lastPTS and
	// lastArrival are the raw timestamp and arrival of the previous frame.
	now         func() time.Time
	ptsOffset   int64
	lastPTS     int64
	lastArrival time.Time
	hasLast     bool
	drift       driftEstimate
	reanchor    bool // the next keyframe starts a segment placed by the drift estimate
	resync      bool // the next keyframe starts a segment at the clock's time: the camera paused across a discontinuity
	// settling: the open segment was placed by its keyframe's arrival and
	// has not reached the writer; early is the least lateness since (<= 0).
	settling bool
	early    time.Duration
	// loss is the gap opened by frames lost since the last frame kept,
	// closed by the next segment.
	loss    *api.Gap
	lossWhy string
	kept    int64 // video DTS where the last frame kept ends

	// current codec parameters (in-band updates included) and the ones of
	// the open segment
	vps, sps, pps []byte
	segParams     [][]byte
	// A fresh extractor after a loss: Initialize does not clear the
	// previous DTS (and does nothing for H.265), which would reject every
	// frame until the timestamps climb back above it.
	dtsH264 *h264.DTSExtractor
	dtsH265 *h265.DTSExtractor

	samples   []storage.Sample
	base      int64 // DTS of samples[0]
	partBytes int   // media bytes in the part being gathered, all tracks
	pend      storage.Sample
	pendDTS   int64
	hasPend   bool
	lastDur   uint32
}

type audioTrack struct {
	codec     codecs.Codec
	timeScale uint32
	samples   []storage.Sample
	base      int64
	// offset shifts the camera's audio timestamps across discontinuities;
	// next is where the next frame is due (shifted), once hasNext.
	offset  int64
	next    int64
	arrival time.Time
	hasNext bool
}

func newMuxer(segDur time.Duration, h265 bool, vps, sps, pps []byte, audio *audioTrack, out chan<- job, stats *camStats, now func() time.Time) *muxer {
	if now == nil {
		now = time.Now
	}
	return &muxer{
		now:     now,
		segDur:  int64(segDur.Seconds() * videoTimeScale),
		out:     out,
		stats:   stats,
		h265:    h265,
		audio:   audio,
		vps:     vps,
		sps:     sps,
		pps:     pps,
		needKey: true,
		lastDur: videoTimeScale / 25,
	}
}

// setSegDur changes the segment duration from the next keyframe on.
func (m *muxer) setSegDur(d time.Duration) {
	m.mu.Lock()
	m.segDur = int64(d.Seconds() * videoTimeScale)
	m.mu.Unlock()
}

func ticksToDuration(t int64, scale uint32) time.Duration {
	return time.Duration(float64(t) * float64(time.Second) / float64(scale))
}

// writeVideo adds one access unit with its presentation time (90 kHz),
// as the RTSP client decoded it from the camera's RTP timestamps.
func (m *muxer) writeVideo(pts int64, au [][]byte) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}

	var key bool
	au, key = m.filter(au)
	if len(au) == 0 {
		return
	}
	pts = m.rebase(pts, now)
	if m.needKey && !key {
		if m.lost {
			m.stats.drop(1, m.lossCause(), m.lossReason())
		} else {
			m.stats.skipped.Add(1)
		}
		return
	}
	if m.sps == nil || m.pps == nil || (m.h265 && m.vps == nil) {
		m.stats.skipped.Add(1) // no parameter sets yet: nothing decodable
		m.noParams.Store(true)
		return
	}
	if m.needKey {
		m.dtsH264, m.dtsH265 = &h264.DTSExtractor{}, &h265.DTSExtractor{}
		m.dtsH264.Initialize()
		m.dtsH265.Initialize()
	}
	var dts int64
	var err error
	if m.h265 {
		dts, err = m.dtsH265.Extract(au, pts)
	} else {
		dts, err = m.dtsH264.Extract(au, pts)
	}
	if err != nil {
		m.decodeErr(err)
		m.lose(1, api.CauseTimestampJump, "undecodable frame timing", now)
		return
	}
	m.needKey, m.lost = false, false

	if m.cur != nil {
		late := now.Sub(m.wallAt(dts))
		m.early = min(m.early, late)
		m.drift.observe(late, now)
		if d := m.drift.estimate(); d > maxDrift || d < -maxDrift {
			m.reanchor = true
		}
	}
	cut := false
	if key && m.cur != nil {
		cut = m.forceCut.Swap(false) || dts-m.start >= m.segDur || m.cutNext || m.reanchor || m.resync || !m.sameParams()
	}
	switch {
	case m.cur == nil:
		m.openSegment(dts, now, true)
	case cut:
		m.finishPending(dts)
		if m.cutNext {
			m.flush(m.kept, false) // the segment ends with its last frame, not at the loss
		} else {
			m.flush(dts, false)
		}
		if !m.needKey { // else the part could not be queued: handled below
			wall, byClock := m.wallAt(dts), m.cutNext || m.resync
			switch {
			case m.cutNext:
				wall = now // media was lost: the clock, not the stream, says when we are
			case m.resync:
				// The camera paused across a discontinuity (an encoder
				// restart): the time it sent nothing is a gap.
				m.loss = &api.Gap{Start: wall, Cause: api.CauseTimestampJump}
				wall = now
			case m.reanchor:
				// The stream's clock drifted from ours: place the new
				// segment by the least delayed frames. A stream ahead of
				// the clock ends the previous segment there instead of
				// overlapping it.
				contiguous := wall
				wall = wall.Add(m.drift.estimate())
				if m.onReanchor != nil {
					m.onReanchor(m.drift.estimate())
				}
				if wall.Before(contiguous) {
					m.cur.endAt.Store(wall.UnixNano())
				}
			}
			m.openSegment(dts, wall, byClock)
		}
	default:
		m.finishPending(dts)
		if m.hasPendingPart() && (dts-m.base >= int64(partDuration.Seconds()*videoTimeScale) || m.partBytes >= maxPartBytes) {
			m.flush(dts, false)
		}
	}
	if m.needKey {
		// The part just finished could not be queued: restart here if
		// this is a keyframe, else wait for one.
		if !key {
			m.stats.drop(1, m.lossCause(), m.lossReason())
			return
		}
		m.openSegment(dts, now, true)
		m.needKey, m.lost = false, false
	}
	if m.cur == nil {
		return
	}
	m.cutNext = false
	m.pend = avccSample(au, int32(pts-dts), !key)
	m.pendDTS = dts
	m.hasPend = true
	if len(m.samples) == 0 {
		m.base = dts
	}
}

// rebase returns the frame's timestamp in the muxer's continuous media
// time. A step back, or a jump forward further than the clock moved since
// the previous frame (an NTP step, a reset to a new origin, an encoder
// restart, a second client joining a shared stream), is a discontinuity:
// the stream goes on one frame after the previous one, so no frame is
// lost; if the camera also paused, the next keyframe starts a segment at
// the clock's time and the pause is a gap (resync).
func (m *muxer) rebase(pts int64, now time.Time) int64 {
	defer func() { m.lastPTS, m.lastArrival, m.hasLast = pts, now, true }()
	if !m.hasLast {
		return pts + m.ptsOffset
	}
	if !discontinuous(ticksToDuration(pts-m.lastPTS, videoTimeScale), now.Sub(m.lastArrival)) {
		return pts + m.ptsOffset
	}
	due := m.lastPTS + int64(m.lastDur)
	m.ptsOffset += due - pts
	if now.Sub(m.lastArrival) > maxDrift {
		m.resync = true
	}
	if m.onJump != nil {
		m.onJump(jump{track: "video", by: ticksToDuration(pts-due, videoTimeScale)})
	}
	return pts + m.ptsOffset
}

// discontinuous tells whether timestamps that moved by moved while the
// clock moved by elapsed are a step back or a jump forward.
func discontinuous(moved, elapsed time.Duration) bool {
	return moved < -maxReorder || moved-elapsed > maxLead
}

// wallAt is the wall-clock time of video DTS dts in the open segment.
func (m *muxer) wallAt(dts int64) time.Time {
	return m.cur.wall.Add(ticksToDuration(dts-m.start, videoTimeScale))
}

// lose drops n frames for reason and restarts recording at the next
// keyframe, in a new segment placed by the clock; the gap from the last
// frame kept is recorded with cause when recording resumes.
func (m *muxer) lose(n int, cause api.GapCause, reason string, now time.Time) {
	if m.loss == nil {
		from := now
		if m.cur != nil {
			from = m.wallAt(m.kept)
		}
		m.loss = &api.Gap{Start: from, Cause: cause}
		m.lossWhy = reason
	}
	m.stats.drop(n, cause, reason)
	m.dropPending()
	m.needKey, m.cutNext, m.lost = true, true, true
}

// lossCause is the gap cause of the frames lost now.
func (m *muxer) lossCause() api.GapCause {
	if m.loss != nil {
		return m.loss.Cause
	}
	return api.CauseMalformed
}

// lossReason is what the frames dropped while waiting for a keyframe after
// a loss are counted as.
func (m *muxer) lossReason() string {
	if m.lossWhy != "" {
		return m.lossWhy + ", waiting for the next keyframe"
	}
	return "frames were lost, waiting for the next keyframe"
}

// driftEstimate is the lateness of the least delayed frame over the last
// one to two windows: network and scheduling delay only ever add to a
// frame's lateness, so the minimum is the drift of the stream's clock
// against ours.
type driftEstimate struct {
	cur, prev    time.Duration
	since        time.Time
	hasCur, full bool
}

func (d *driftEstimate) observe(late time.Duration, now time.Time) {
	if !d.hasCur || now.Sub(d.since) >= driftWindow {
		d.prev, d.full = d.cur, d.hasCur
		d.cur, d.since, d.hasCur = late, now, true
		return
	}
	d.cur = min(d.cur, late)
}

// estimate is 0 until one full window was seen.
func (d *driftEstimate) estimate() time.Duration {
	if !d.full {
		return 0
	}
	return min(d.cur, d.prev)
}

// filter drops access unit delimiters, picks up in-band parameter sets and
// reports whether the unit is a random access point. Keyframes without
// in-band parameter sets get the known ones (from the SDP or an earlier
// keyframe) put in front: the DTS extractor needs them, and so does a player
// that starts at that keyframe.
func (m *muxer) filter(au [][]byte) ([][]byte, bool) {
	out := au[:0]
	var hasVPS, hasSPS, hasPPS bool
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if m.h265 {
			switch h265.NALUType((n[0] >> 1) & 0x3f) {
			case h265.NALUType_AUD_NUT:
				continue
			case h265.NALUType_VPS_NUT:
				m.vps, hasVPS = setParam(m.vps, n), true
			case h265.NALUType_SPS_NUT:
				m.sps, hasSPS = setParam(m.sps, n), true
			case h265.NALUType_PPS_NUT:
				m.pps, hasPPS = setParam(m.pps, n), true
			}
		} else {
			switch h264.NALUType(n[0] & 0x1f) {
			case h264.NALUTypeAccessUnitDelimiter:
				continue
			case h264.NALUTypeSPS:
				m.sps, hasSPS = setParam(m.sps, n), true
			case h264.NALUTypePPS:
				m.pps, hasPPS = setParam(m.pps, n), true
			}
		}
		out = append(out, n)
	}
	var key bool
	if m.h265 {
		key = h265.IsRandomAccess(out)
	} else {
		key = h264.IsRandomAccess(out)
	}
	if key && (!hasSPS || !hasPPS || (m.h265 && !hasVPS)) && m.sps != nil && m.pps != nil {
		var params [][]byte
		if m.h265 && !hasVPS && m.vps != nil {
			params = append(params, m.vps)
		}
		if !hasSPS {
			params = append(params, m.sps)
		}
		if !hasPPS {
			params = append(params, m.pps)
		}
		out = append(params, out...)
	}
	return out, key
}

func setParam(cur, n []byte) []byte {
	if bytes.Equal(cur, n) {
		return cur
	}
	return bytes.Clone(n)
}

func (m *muxer) sameParams() bool {
	return bytes.Equal(m.segParams[0], m.vps) && bytes.Equal(m.segParams[1], m.sps) && bytes.Equal(m.segParams[2], m.pps)
}

// avccSample stores an access unit as length-prefixed NAL units without
// copying them: the chunks point into the depacketizer's buffers, which
// gortsplib allocates per packet.
func avccSample(au [][]byte, ptsOffset int32, nonSync bool) storage.Sample {
	prefixes := make([]byte, 4*len(au))
	data := make([][]byte, 0, 2*len(au))
	size := 0
	for i, n := range au {
		p := prefixes[4*i : 4*i+4]
		p[0], p[1], p[2], p[3] = byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n))
		data = append(data, p, n)
		size += 4 + len(n)
	}
	return storage.Sample{PTSOffset: ptsOffset, NonSync: nonSync, Data: data, Size: uint32(size)}
}

func (m *muxer) decodeErr(err error) {
	if m.onDecodeErr != nil {
		m.onDecodeErr(err)
	}
}

func (m *muxer) hasPendingPart() bool { return len(m.samples) > 0 }

// finishPending completes the held-back sample now that the next DTS gives
// its duration.
func (m *muxer) finishPending(next int64) {
	if !m.hasPend {
		return
	}
	d := next - m.pendDTS
	if d <= 0 || d > 10*videoTimeScale {
		d = int64(m.lastDur) // a timestamp jump: keep the frame, not the jump
	}
	m.lastDur = uint32(d)
	m.pend.Duration = uint32(d)
	m.kept = m.pendDTS + d
	if len(m.samples) == 0 {
		m.base = m.pendDTS
	}
	m.samples = append(m.samples, m.pend)
	if m.live != nil && m.cur != nil {
		m.live.frame(m.cur.tracks[0].Codec, m.cur.wall.Add(ticksToDuration(m.pendDTS-m.start, videoTimeScale)), m.pend)
	}
	m.partBytes += int(m.pend.Size)
	m.hasPend = false
	m.pend = storage.Sample{}
}

func (m *muxer) dropPending() {
	if m.hasPend {
		m.stats.dropped.Add(1)
		m.hasPend = false
		m.pend = storage.Sample{}
	}
}

// openSegment starts a segment at video DTS dts and wall-clock time wall;
// byClock: wall is the arrival of its keyframe, to be settled by the
// frames that follow before the writer sees the segment.
func (m *muxer) openSegment(dts int64, wall time.Time, byClock bool) {
	tracks := []storage.Track{{ID: 1, TimeScale: videoTimeScale}}
	if m.h265 {
		tracks[0].Codec = &codecs.H265{VPS: m.vps, SPS: m.sps, PPS: m.pps}
	} else {
		tracks[0].Codec = &codecs.H264{SPS: m.sps, PPS: m.pps}
	}
	if m.audio != nil {
		tracks = append(tracks, storage.Track{ID: 2, TimeScale: m.audio.timeScale, Codec: m.audio.codec})
		m.audio.samples = nil
	}
	codec := storage.CodecName(tracks[0].Codec)
	if len(tracks) > 1 {
		codec += "+" + storage.CodecName(tracks[1].Codec)
	}
	init, err := storage.EncodeInit(tracks)
	if err != nil {
		// Parameter sets the muxer cannot describe: a malformed stream.
		m.decodeErr(err)
		m.cur = nil
		m.needKey = true
		return
	}
	m.cur = &segMeta{wall: wall, init: init, codec: codec, tracks: tracks}
	if m.loss != nil {
		if wall.After(m.loss.Start) {
			m.loss.End = wall
			m.cur.loss = m.loss
		}
		m.loss, m.lossWhy = nil, ""
	}
	if m.reanchor || m.resync || m.cutNext {
		m.drift = driftEstimate{}
	}
	m.reanchor, m.resync = false, false
	m.settling, m.early = byClock, 0
	m.opened.Store(true)
	m.segParams = [][]byte{m.vps, m.sps, m.pps}
	m.start = dts
	m.base = dts
	m.kept = dts
	m.samples = nil
	m.partBytes = 0
}

// writeAudio adds audio frames starting at pts (in the track's time scale),
// each lasting dur ticks.
func (m *muxer) writeAudio(pts int64, frames [][]byte, dur uint32) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.audio
	if m.closed || a == nil {
		return
	}
	// Audio timestamps are made continuous on their own, as video's are.
	pts += a.offset
	if a.hasNext && discontinuous(ticksToDuration(pts-a.next, a.timeScale), now.Sub(a.arrival)) {
		if m.onJump != nil {
			m.onJump(jump{track: "audio", by: ticksToDuration(pts-a.next, a.timeScale)})
		}
		a.offset += a.next - pts
		pts = a.next
	}
	a.next, a.arrival, a.hasNext = pts+int64(len(frames))*int64(dur), now, true
	if m.cur == nil || m.needKey {
		return
	}
	segStart := m.start * int64(a.timeScale) / videoTimeScale
	for _, f := range frames {
		if pts >= segStart && len(f) > 0 {
			if len(a.samples) == 0 {
				a.base = pts
			}
			a.samples = append(a.samples, storage.Sample{Duration: dur, Data: [][]byte{f}, Size: uint32(len(f))})
			m.partBytes += len(f)
		}
		pts += int64(dur)
	}
}

// flush hands the samples gathered so far to the writer as one part ending
// at end (video DTS).
func (m *muxer) flush(end int64, closeSeg bool) {
	if m.cur == nil {
		return
	}
	m.settle()
	j := job{seg: m.cur, close: closeSeg, end: ticksToDuration(end-m.start, videoTimeScale), frames: len(m.samples), bytes: int64(m.partBytes)}
	partStart := m.base
	if len(m.samples) > 0 {
		j.tracks = append(j.tracks, storage.PartTrack{ID: 1, BaseTime: uint64(m.base - m.start), Samples: m.samples})
	}
	if a := m.audio; a != nil && len(a.samples) > 0 {
		segStart := m.start * int64(a.timeScale) / videoTimeScale
		j.tracks = append(j.tracks, storage.PartTrack{ID: 2, BaseTime: uint64(a.base - segStart), Samples: a.samples})
		a.samples = nil
	}
	m.samples = make([]storage.Sample, 0, len(m.samples)+1) // about the size of the next part
	m.partBytes = 0
	if len(j.tracks) == 0 && !closeSeg {
		return
	}
	if closeSeg {
		m.stats.queued.Add(j.bytes)
		m.out <- j // teardown: the writer is alive and drains the queue
		return
	}
	if m.stats.queued.Load()+j.bytes > maxQueuedBytes {
		m.dropPart(j, partStart)
		return
	}
	m.stats.queued.Add(j.bytes)
	select {
	case m.out <- j:
	default:
		m.stats.queued.Add(-j.bytes)
		m.dropPart(j, partStart)
	}
}

// settle moves the start of a segment placed by its keyframe's arrival to
// that of the least delayed frame since (a keyframe, the largest frame,
// often arrives later than the ones after it), before its first part goes
// to the writer, which names the file after it. A gap before the segment
// ends there too, never before it starts.
func (m *muxer) settle() {
	if !m.settling {
		return
	}
	m.settling = false
	if m.early >= 0 {
		return
	}
	wall := m.cur.wall.Add(m.early)
	if g := m.cur.loss; g != nil {
		if !wall.After(g.Start) {
			wall, m.cur.loss = g.Start, nil
		} else {
			g.End = wall
		}
	}
	m.cur.wall = wall
	m.drift = driftEstimate{} // its lateness was measured from the old start
}

// dropPart gives up a part the writer has no room for: the disk is slower
// than the camera. Rather than hold up the RTSP reader, recording starts
// over at the next keyframe, in a new segment.
func (m *muxer) dropPart(j job, start int64) {
	m.kept = start
	m.lose(j.frames, api.CauseStorage, "the write queue is full (disk too slow)", m.now())
}

// close flushes what is buffered and closes the open segment; later frames
// are ignored.
func (m *muxer) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.closed = true
	if m.cur != nil {
		end := m.pendDTS
		if m.hasPend {
			end += int64(m.lastDur)
			m.finishPending(end)
		}
		m.flush(end, true)
	}
	m.cur = nil
	m.needKey = true
	m.hasPend = false
	m.samples = nil
	m.partBytes = 0
}
