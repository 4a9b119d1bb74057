package recorder

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"vigil/runtime/storage"
)

// LiveFrame is one video frame of a camera as its recorder muxed it, for a
// live viewer: the same session that records, never a second connection to
// the camera.
type LiveFrame struct {
	// Codec is the video codec with the parameter sets of the frame's
	// segment.
	Codec codecs.Codec
	// Wall is the frame's decoding time on the recorder's wall-clock time
	// line (the segment's start plus the stream's own time).
	Wall time.Time
	// Sample is the frame, duration included. Its data is shared with the
	// recording: read it, never change it.
	Sample storage.Sample
}

// liveTap hands a camera's frames to its live viewers. The muxer calls frame
// on the RTSP reader's goroutine, so it never blocks: a viewer whose queue
// is full loses frames up to the next keyframe (it cannot decode before
// one), and the recording loses none. While nobody watches, a frame costs
// one atomic load.
type liveTap struct {
	n      atomic.Int32
	mu     sync.Mutex
	subs   map[*LiveView]struct{}
	closed bool
}

// LiveView is one viewer's subscription to a camera's frames.
type LiveView struct {
	// C delivers the frames, starting at a keyframe; it is closed when the
	// camera's session on this server ends (the camera moved, its settings
	// changed, the recorder stopped).
	C       <-chan LiveFrame
	ch      chan LiveFrame
	tap     *liveTap
	waitKey bool
	lost    atomic.Int64
}

// Lost is the number of frames this viewer lost because it did not keep up.
func (v *LiveView) Lost() int64 { return v.lost.Load() }

// Close ends the subscription.
func (v *LiveView) Close() {
	t := v.tap
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.subs[v]; ok {
		delete(t.subs, v)
		t.n.Add(-1)
		close(v.ch)
	}
}

func (t *liveTap) frame(codec codecs.Codec, wall time.Time, s storage.Sample) {
	if t.n.Load() == 0 {
		return
	}
	f := LiveFrame{Codec: codec, Wall: wall, Sample: s}
	t.mu.Lock()
	defer t.mu.Unlock()
	for v := range t.subs {
		if v.waitKey {
			if s.NonSync {
				v.lost.Add(1)
				continue
			}
			v.waitKey = false
		}
		select {
		case v.ch <- f:
		default:
			v.waitKey = true
			v.lost.Add(1)
		}
	}
}

func (t *liveTap) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for v := range t.subs {
		close(v.ch)
	}
	clear(t.subs)
	t.n.Store(0)
}

// ErrNotRecorded is returned by Manager.Live for a camera that this server
// does not record.
var ErrNotRecorded = errors.New("not recorded on this server")

// Live subscribes to the frames of a camera this server records, with a
// queue of at most queue frames (the first one a keyframe, which may take up
// to a GOP to arrive).
func (m *Manager) Live(camera string, queue int) (*LiveView, error) {
	m.mu.Lock()
	s := m.sessions[camera]
	m.mu.Unlock()
	if s == nil || s.warm.Load() {
		return nil, fmt.Errorf("%s: %w", camera, ErrNotRecorded)
	}
	t := &s.live
	ch := make(chan LiveFrame, max(queue, 1))
	v := &LiveView{C: ch, ch: ch, tap: t, waitKey: true}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, fmt.Errorf("%s: %w", camera, ErrNotRecorded)
	}
	if t.subs == nil {
		t.subs = map[*LiveView]struct{}{}
	}
	t.subs[v] = struct{}{}
	t.n.Add(1)
	return v, nil
}
