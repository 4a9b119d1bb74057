package recorder

import (
	"bytes"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"vigil/runtime/api"
)

// Two valid baseline SPS (1920x1080 and 960x540, pic_order_cnt_type 2).
var (
	sps1080 = []byte{0x67, 0x42, 0xc0, 0x28, 0xd9, 0x00, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04,
		0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc9, 0x20}
	sps540 = []byte{0x67, 0x42, 0xc0, 0x1f, 0xd9, 0x00, 0xf0, 0x11, 0x7e, 0xf0, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01,
		0x00, 0x00, 0x03, 0x00, 0x30, 0x8f, 0x18, 0x32, 0x48}
	pps = []byte{0x68, 0xcb, 0x8c, 0xb2}
)

const frameTicks = videoTimeScale / 25

// feed writes frames [from, to) with a keyframe every gop frames; extra
// NAL units go in front of the first keyframe.
func feed(m *muxer, from, to, gop int, extra ...[]byte) {
	for i := from; i < to; i++ {
		var au [][]byte
		if i%gop == 0 {
			if i == from {
				au = append(au, extra...)
			}
			au = append(au, []byte{byte(h264.NALUTypeIDR) | 0x60, 0x88, 0x80})
		} else {
			au = append(au, []byte{byte(h264.NALUTypeNonIDR) | 0x40, 0x9a, 0x00})
		}
		at := testEpoch.Add(time.Duration(i) * time.Second / 25)
		m.now = func() time.Time { return at } // frames arrive in real time
		m.writeVideo(int64(i*frameTicks), au)
	}
}

var testEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// drain collects the queued jobs by segment.
func drain(out chan job) (segs []*segMeta, frames map[*segMeta]int, closed int) {
	frames = map[*segMeta]int{}
	for {
		select {
		case j := <-out:
			if len(segs) == 0 || segs[len(segs)-1] != j.seg {
				segs = append(segs, j.seg)
			}
			frames[j.seg] += j.frames
			if j.close {
				closed++
			}
		default:
			return
		}
	}
}

func TestMuxerSegmentsAndParameterSets(t *testing.T) {
	out := make(chan job, 100)
	stats := &camStats{}
	// Parameter sets from the SDP only: keyframes must get them in front.
	m := newMuxer(2*time.Second, false, nil, sps1080, pps, nil, out, stats, nil)
	feed(m, 1, 4, 25)             // no keyframe yet: skipped
	feed(m, 25, 100, 25)          // 3 s of 1 s GOPs: cut at 2 s (frame 75)
	feed(m, 100, 125, 25, sps540) // new SPS in band: new segment at once
	m.close()

	segs, frames, closed := drain(out)
	if len(segs) != 3 || closed != 1 {
		t.Fatalf("%d segments, %d closes; want 3 and 1", len(segs), closed)
	}
	if frames[segs[0]] != 50 || frames[segs[1]] != 25 || frames[segs[2]] != 25 {
		t.Errorf("frames per segment: %d %d %d", frames[segs[0]], frames[segs[1]], frames[segs[2]])
	}
	if stats.skipped.Load() != 3 || stats.dropped.Load() != 0 {
		t.Errorf("skipped %d dropped %d", stats.skipped.Load(), stats.dropped.Load())
	}
	// Consecutive segments follow each other on the stream clock.
	if d := segs[1].wall.Sub(segs[0].wall); d != 2*time.Second {
		t.Errorf("second segment starts %v after the first", d)
	}
	if !bytes.Contains(segs[2].init, sps540[1:]) || bytes.Contains(segs[1].init, sps540[1:]) {
		t.Error("the new SPS is not (only) in the third segment's init")
	}
}

func TestMuxerPrependsParameterSets(t *testing.T) {
	m := newMuxer(time.Minute, false, nil, sps1080, pps, nil, make(chan job, 1), &camStats{}, nil)
	au, key := m.filter([][]byte{{0x09, 0xf0}, {byte(h264.NALUTypeIDR) | 0x60, 0x88}})
	if !key || len(au) != 3 || !bytes.Equal(au[0], sps1080) || !bytes.Equal(au[1], pps) {
		t.Errorf("filtered keyframe: %x (key %v)", au, key)
	}
}

func TestMuxerFullQueueDropsUntilKeyframe(t *testing.T) {
	out := make(chan job, 1)
	stats := &camStats{}
	m := newMuxer(time.Minute, false, nil, sps1080, pps, nil, out, stats, nil)
	// Frames 0-24 are queued at frame 25; at the keyframe of frame 50 the
	// part of frames 25-49 finds the queue full and is dropped; recording
	// restarts at once in a new segment (B).
	feed(m, 0, 60, 50)
	a := (<-out).seg // the disk catches up
	// B's frames 50-74 are queued at frame 75, frames 75-99 are dropped at
	// the keyframe of frame 100, where segment C starts.
	feed(m, 60, 110, 50)
	segs, frames, _ := drain(out)
	if len(segs) != 1 || segs[0] == a || frames[segs[0]] != 25 {
		t.Fatalf("after the first drop: %d segments, frames %v", len(segs), frames)
	}
	if n := stats.dropped.Load(); n != 50 {
		t.Errorf("dropped %d frames, want 50", n)
	}
	if m.cur == segs[0] || m.start != 100*frameTicks {
		t.Errorf("segment C starts at frame %d, want 100", m.start/frameTicks)
	}
	// B and C each start after a storage gap: from the end of the last
	// frame kept (24, then 74) to the keyframe the segment starts with.
	frameAt := func(i int) time.Time { return testEpoch.Add(time.Duration(i) * time.Second / 25) }
	for _, c := range []struct {
		seg        *segMeta
		from, till int
	}{{segs[0], 25, 50}, {m.cur, 75, 100}} {
		if g := c.seg.loss; g == nil || g.Cause != api.CauseStorage || !g.Start.Equal(frameAt(c.from)) || !g.End.Equal(frameAt(c.till)) {
			t.Errorf("loss before the segment at frame %d: %+v, want storage from frame %d", c.till, g, c.from)
		}
	}
}

func TestMuxerQueueBoundedInBytes(t *testing.T) {
	out := make(chan job, 100)
	stats := &camStats{}
	stats.queued.Store(maxQueuedBytes) // the writer is behind by the whole budget
	m := newMuxer(time.Minute, false, nil, sps1080, pps, nil, out, stats, nil)
	feed(m, 0, 30, 50)
	if len(out) != 0 || stats.dropped.Load() != 30 {
		t.Errorf("queued %d parts, dropped %d frames; want 0 and 30", len(out), stats.dropped.Load())
	}
	stats.queued.Store(0) // it caught up
	feed(m, 50, 80, 50)
	if len(out) != 1 {
		t.Errorf("queued %d parts after the writer caught up", len(out))
	}
}
