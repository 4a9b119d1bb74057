package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"vigil/hcl/spec"
)

// File is a segment being written. Its methods are not safe for concurrent
// use: one writer goroutine owns it.
type File struct {
	s      *Store
	vol    *volume
	camera string
	path   string
	start  time.Time
	f      *os.File
	size   int64 // bytes of complete sections (init, parts) in the file
	parts  int
	seq    uint32

	// sum hashes the complete sections written so far, in file order.
	sum hash.Hash

	moof   []byte   // reused moof buffer
	chunks [][]byte // reused iovec list
	iov    [][]byte // writeAll's copy of a write's buffers, which it advances

	// What Writing reads from other goroutines: the bytes of complete
	// parts and the media end of the first track (nanoseconds), whose ID
	// and time scale WriteInit reads.
	trackID   int
	timeScale uint32
	published atomic.Int64
	written   atomic.Int64
}

// Create opens a new segment file for camera starting at start, on the
// volume where the camera records (see Volume). The segment is "open": it
// is in no index and retention never deletes it until Close.
func (s *Store) Create(camera string, start time.Time) (*File, error) {
	if err := validCamera(camera); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("storage closed")
	}
	v := s.pickVolume(camera)
	_, err := s.camera(v, camera)
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("camera %q index: %w", camera, err)
	}
	date, name := segmentName(start)
	dir := filepath.Join(v.Path, camera, date)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, s.writeErr(v, err)
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, s.writeErr(v, err)
	}
	// The directory entry of the new file must survive a power cut too.
	if err := syncDir(dir); err != nil {
		f.Close()
		os.Remove(path)
		return nil, s.writeErr(v, err)
	}
	sf := &File{s: s, vol: v, camera: camera, path: path, start: start, f: f, sum: sha256.New()}
	s.mu.Lock()
	v.open[sf] = struct{}{}
	s.mu.Unlock()
	return sf, nil
}

// Path is the file name.
func (f *File) Path() string { return f.path }

// Size is the length of the complete sections written so far.
func (f *File) Size() int64 { return f.size }

// Parts is the number of parts written so far.
func (f *File) Parts() int { return f.parts }

// WriteInit writes the initialization section; call it once, first.
func (f *File) WriteInit(init []byte) error {
	f.trackID, f.timeScale = firstTrack(init)
	return f.writev([][]byte{init})
}

// WritePart writes one part (moof + mdat). Either the whole part reaches the
// file or the file is cut back to its previous length, so a failed write
// (a full disk) never leaves a broken part in the middle of a segment.
func (f *File) WritePart(tracks []PartTrack) error {
	f.seq++
	// Slot 0 is kept for the moof, which is only known once the payload
	// chunks are listed.
	f.moof, f.chunks = appendPart(f.moof[:0], f.seq, tracks, append(f.chunks[:0], nil))
	f.chunks[0] = f.moof
	err := f.writev(f.chunks)
	clear(f.chunks) // do not keep the payloads alive until the next part
	if err == nil {
		f.parts++
		f.noteWritten(tracks)
	}
	return err
}

func (f *File) writev(bufs [][]byte) error {
	var total int64
	for _, b := range bufs {
		total += int64(len(b))
	}
	// writeAll advances the slices it is given; bufs stays whole for the
	// hash, which takes only what reached the file.
	f.iov = append(f.iov[:0], bufs...)
	err := writeAll(int(f.f.Fd()), f.iov)
	clear(f.iov)
	if err != nil {
		if terr := f.f.Truncate(f.size); terr != nil {
			f.s.log.Error("cannot cut back a failed write", "file", f.path, "error", terr)
		}
		if _, serr := f.f.Seek(f.size, 0); serr != nil {
			f.s.log.Error("cannot seek after a failed write", "file", f.path, "error", serr)
		}
		return f.s.writeErr(f.vol, fmt.Errorf("write %s: %w", f.path, err))
	}
	for _, b := range bufs {
		f.sum.Write(b)
	}
	f.size += total
	f.vol.used.Add(total)
	f.s.writeOK(f.vol)
	return nil
}

// writeAll writes bufs with writev, going on after short writes. The
// iovec slices are advanced in place.
func writeAll(fd int, bufs [][]byte) error {
	const iovMax = 1024
	for len(bufs) > 0 {
		if len(bufs[0]) == 0 {
			bufs = bufs[1:]
			continue
		}
		n, err := unix.Writev(fd, bufs[:min(len(bufs), iovMax)])
		if err != nil {
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			return err
		}
		for n > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
			} else {
				bufs[0] = bufs[0][n:]
				n = 0
			}
		}
	}
	return nil
}

// Sync makes everything written so far durable.
func (f *File) Sync() error {
	if err := f.f.Sync(); err != nil {
		return f.s.writeErr(f.vol, fmt.Errorf("sync %s: %w", f.path, err))
	}
	return nil
}

// Close syncs and closes the file and adds it to the camera's index with
// its end time, codec and recording server. A file without any part is
// removed and the zero Segment returned.
func (f *File) Close(end time.Time, codec, server string) (Segment, error) {
	s := f.s
	err := f.f.Sync()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	s.mu.Lock()
	delete(f.vol.open, f)
	if f.parts == 0 {
		f.vol.used.Add(-f.size)
		s.mu.Unlock()
		if rerr := os.Remove(f.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			s.log.Warn("cannot remove empty segment", "file", f.path, "error", rerr)
		}
		return Segment{}, err
	}
	seg := Segment{
		Camera: f.camera, Path: f.path, Volume: f.vol.Path,
		Start: f.start, End: end, Bytes: f.size, Codec: codec, Server: server,
		SHA256: hex.EncodeToString(f.sum.Sum(nil)),
	}
	c, cerr := s.camera(f.vol, f.camera)
	if cerr != nil {
		s.mu.Unlock()
		return seg, cerr
	}
	i, _ := slices.BinarySearchFunc(c.segs, seg.Start, func(a Segment, t time.Time) int { return a.Start.Compare(t) })
	c.segs = slices.Insert(c.segs, i, seg)
	s.addHeld(c, seg)
	ierr := c.appendRecord(indexRecord{Seg: c.record(seg)}, false)
	idx := c.idx
	s.mu.Unlock()
	// The index line is made durable outside the store lock: every camera
	// closes a segment every minute, and other cameras must not wait on
	// this one's fsync. A compaction that replaced the index file meanwhile
	// wrote and synced the line itself.
	if ierr == nil && idx != nil {
		if serr := idx.Sync(); serr != nil && !errors.Is(serr, os.ErrClosed) {
			ierr = serr
		}
	}
	if ierr != nil && err == nil {
		err = fmt.Errorf("index %s: %w", f.camera, ierr)
	}
	return seg, err
}

// okAfter is how long a full volume must take every write before
// storage.ok is announced. A disk that retention keeps just full fails a
// write every second or two; without this hysteresis it would raise a
// storage.full and a storage.ok each time.
const okAfter = 30 * time.Second

// writeErr marks a volume full on ENOSPC (an event unless one stands
// already, an immediate retention run) and wraps the error with ErrFull.
func (s *Store) writeErr(v *volume, err error) error {
	if !errors.Is(err, syscall.ENOSPC) {
		return err
	}
	s.mu.Lock()
	v.full = true
	v.roomWanted = true
	v.lastFull = s.now()
	announce := !v.announced
	v.announced = true
	v.troubled.Store(true)
	s.mu.Unlock()
	if announce {
		s.emit(spec.SeverityError, spec.EventStorageFull, "", fmt.Sprintf("storage %s is full; deleting the oldest recordings to make room", v.Path))
	}
	s.Kick()
	return fmt.Errorf("%w: %w", ErrFull, err)
}

// writeOK clears the full mark of a volume after a successful write, and
// announces storage.ok once no write has failed for okAfter. It runs after
// every part: on a healthy volume it returns without taking s.mu, which
// retention and index writes hold across file system calls.
func (s *Store) writeOK(v *volume) {
	if !v.troubled.Load() {
		return
	}
	s.mu.Lock()
	v.full = false
	announce := v.announced && s.now().Sub(v.lastFull) >= okAfter
	if announce {
		v.announced = false
	}
	v.troubled.Store(v.announced)
	s.mu.Unlock()
	if announce {
		s.emit(spec.SeverityInfo, spec.EventStorageOK, "", fmt.Sprintf("storage %s has room again: no write failed for %s; recording resumed", v.Path, okAfter))
	}
}
