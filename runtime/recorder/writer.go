package recorder

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// camStats are a camera's counters, shared by its muxer, writer and session.
type camStats struct {
	frames  atomic.Int64 // video frames written to disk
	bytes   atomic.Int64
	dropped atomic.Int64 // video frames lost after recording had started
	skipped atomic.Int64 // frames before the first keyframe of a connection
	queued  atomic.Int64 // media bytes waiting for the writer
	// lastWrite is when media last reached the file (unix nanoseconds of
	// the recorder's clock), 0 before the first part.
	lastWrite atomic.Int64
	// writtenUntil is the wall-clock end of the media written last (unix
	// nanoseconds): where a gap of what follows starts.
	writtenUntil atomic.Int64

	// received counts the video frames that arrived; receivedAtWrite is
	// its value when media last reached the file.
	received        atomic.Int64
	receivedAtWrite atomic.Int64

	framesC prometheus.Counter
	bytesC  prometheus.Counter
	onDrop  func(n int64, reason string)

	dropMu    sync.Mutex
	dropCause api.GapCause // of the last drop
	dropWhy   string
}

func (s *camStats) written(frames, bytes int64) {
	s.frames.Add(frames)
	s.bytes.Add(bytes)
	if s.framesC != nil {
		s.framesC.Add(float64(frames))
		s.bytesC.Add(float64(bytes))
	}
}

func (s *camStats) drop(n int, cause api.GapCause, reason string) {
	if n <= 0 {
		return
	}
	s.dropMu.Lock()
	s.dropCause, s.dropWhy = cause, reason
	s.dropMu.Unlock()
	s.dropped.Add(int64(n))
	if s.onDrop != nil {
		s.onDrop(int64(n), reason)
	}
}

// lastDrop is the cause and reason of the last frames dropped.
func (s *camStats) lastDrop() (api.GapCause, string) {
	s.dropMu.Lock()
	defer s.dropMu.Unlock()
	return s.dropCause, s.dropWhy
}

// writer owns a camera's open segment file: it writes the parts the muxer
// queues, fsyncs at least every fsyncEvery and closes segments into the
// index. One writer per camera, so a slow or failing write only ever holds
// up its own camera.
type writer struct {
	store      *storage.Store
	camera     string
	server     string
	fsyncEvery time.Duration
	now        func() time.Time // the recorder's clock
	stats      *camStats
	in         chan job
	forceCut   func() // ask the muxer to start a new segment at the next keyframe
	onOpen     func(wall time.Time, codec string, loss *api.Gap)
	onWriteErr func(err error)

	// A warm session's writer starts holding: it keeps the parts in held
	// (at most holdFor of media, in whole segments) until release closes,
	// then writes them and goes on as usual.
	holding bool
	holdFor time.Duration
	held    []job
	release <-chan struct{}

	meta     *segMeta
	file     *storage.File
	failed   bool // the current segment could not be written: drop its parts
	lastEnd  time.Duration
	lastSync time.Time
}

func (w *writer) run(done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case j, ok := <-w.in:
			if !ok {
				w.closeFile() // what a warm session held is dropped
				return
			}
			w.stats.queued.Add(-j.bytes)
			if w.holding {
				w.hold(j)
			} else {
				w.handle(j)
			}
		case <-w.release:
			w.release = nil // a nil channel never fires again
			w.holding = false
			for _, j := range w.held {
				w.handle(j)
			}
			w.held = nil
		}
	}
}

// hold keeps j and drops the oldest held segment while the rest still
// spans holdFor. The muxer of a warm session starts a segment at every
// keyframe, so what is left always starts with one.
func (w *writer) hold(j job) {
	w.held = append(w.held, j)
	newest := j.seg.wall.Add(j.end)
	for {
		i := 0 // the first part of the second oldest segment
		for i < len(w.held) && w.held[i].seg == w.held[0].seg {
			i++
		}
		if i == len(w.held) || newest.Sub(w.held[i].seg.wall) < w.holdFor {
			return
		}
		clear(w.held[:i]) // let the media go
		w.held = w.held[i:]
	}
}

func (w *writer) handle(j job) {
	if j.seg != w.meta {
		w.closeFile()
		w.meta = j.seg
		w.failed = false
		w.lastEnd = 0
		f, err := w.store.Create(w.camera, j.seg.wall)
		if err == nil {
			err = f.WriteInit(j.seg.init)
			if err != nil {
				f.Close(time.Time{}, "", "") // no part: the file is removed
			}
		}
		if err != nil {
			w.failed = true
			w.fail(err)
		} else {
			w.file = f
			w.lastSync = time.Now()
			if w.onOpen != nil {
				w.onOpen(j.seg.wall, j.seg.codec, j.seg.loss)
			}
		}
	}
	if len(j.tracks) > 0 {
		if w.failed || w.file == nil {
			w.stats.drop(j.frames, api.CauseStorage, "storage unavailable")
		} else {
			prev := w.file.Size()
			if err := w.file.WritePart(j.tracks); err != nil {
				w.stats.drop(j.frames, api.CauseStorage, "write failed")
				w.failed = true
				w.fail(err)
			} else {
				w.lastEnd = j.end
				w.stats.written(int64(j.frames), w.file.Size()-prev)
				w.stats.receivedAtWrite.Store(w.stats.received.Load())
				w.stats.lastWrite.Store(w.now().UnixNano())
				w.stats.writtenUntil.Store(j.seg.wall.Add(j.end).UnixNano())
				if now := time.Now(); now.Sub(w.lastSync) >= w.fsyncEvery {
					if err := w.file.Sync(); err != nil {
						w.fail(err)
					}
					w.lastSync = now
				}
			}
		}
	}
	if j.close {
		w.closeFile()
		w.meta = nil
	}
}

func (w *writer) fail(err error) {
	w.forceCut()
	if w.onWriteErr != nil {
		w.onWriteErr(err)
	}
}

func (w *writer) closeFile() {
	if w.file == nil {
		return
	}
	f := w.file
	w.file = nil
	end := w.meta.wall.Add(w.lastEnd)
	if at := w.meta.endAt.Load(); at != 0 && at < end.UnixNano() && at > w.meta.wall.UnixNano() {
		end = time.Unix(0, at)
	}
	if _, err := f.Close(end, w.meta.codec, w.server); err != nil {
		w.fail(fmt.Errorf("close segment: %w", err))
	}
}

// isFull reports whether err comes from a full disk.
func isFull(err error) bool { return errors.Is(err, storage.ErrFull) }
