// Package eventlog keeps an agent's events on disk: JSON lines in files
// named after the time of their first event, with a retention by age and a
// bound on the total size, so that the history survives restarts and never
// fills the disk.
//
// A file covers the time from its first event to the first event of the
// next file; it is removed when that end is older than the retention, and
// the oldest files go first when the total passes the size bound. A file
// is closed after an hour (or 1/24 of the retention) or 1/16 of the size
// bound, so that both are kept closely. Each
// start of the agent opens a new file, so an append never follows a line a
// crash cut short. A line that does not decode (a truncated or damaged
// file) is skipped and reported once per file through Options.Corrupt; a
// bad file never stops a query.
package eventlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"vigil/runtime/api"
)

// Defaults of Options.
const (
	DefaultRetention = 10 * 24 * time.Hour
	DefaultMaxBytes  = 128 << 20
)

// fileLayout names files by the UTC time of their first event; names sort
// in time order.
const (
	fileLayout = "20060102T150405.000000000Z"
	fileExt    = ".ndjson"
)

// Options configure a Log.
type Options struct {
	// Retention is how long events are kept (DefaultRetention when 0).
	Retention time.Duration
	// MaxBytes bounds the files' total size (DefaultMaxBytes when 0).
	MaxBytes int64
	// Corrupt is told once per file about lines that could not be read.
	Corrupt func(file string, bad int)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Failed hears of the first write error of a run of them.
	Failed func(error)
	// Dropped hears of each event not kept because the queue was full.
	Dropped func()
}

// Log is an on-disk event history. It is safe for concurrent use.
type Log struct {
	dir  string
	opts Options

	mu       sync.Mutex
	files    []logFile // sorted by start; the last one is open for appends
	cur      *os.File
	curBytes int64
	total    int64
	reported map[string]bool // files whose bad lines were reported

	// The queue in front of the files (Append, writer).
	qmu     sync.RWMutex // held to send; Close takes it to close q
	closed  bool
	q       chan item
	stopped chan struct{} // closed when writer returns
}

type logFile struct {
	name  string
	start time.Time
	size  int64
}

// Open opens (creating) the history in dir.
func Open(dir string, opts Options) (*Log, error) {
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("event history: %w", err)
	}
	l := &Log{dir: dir, opts: opts, reported: map[string]bool{}, q: make(chan item, queueSize), stopped: make(chan struct{})}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("event history: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		start, ok := parseName(name)
		info, ierr := e.Info()
		if !ok || ierr != nil || !info.Mode().IsRegular() {
			continue // not ours: left alone
		}
		l.files = append(l.files, logFile{name: name, start: start, size: info.Size()})
		l.total += info.Size()
	}
	slices.SortFunc(l.files, func(a, b logFile) int { return a.start.Compare(b.start) })
	l.mu.Lock()
	l.prune()
	l.mu.Unlock()
	go l.writer()
	return l, nil
}

func parseName(name string) (time.Time, bool) {
	base, ok := strings.CutSuffix(name, fileExt)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(fileLayout, base)
	return t, err == nil
}

// SetRetention changes the retention (the site's event_retention); 0
// restores the default.
func (l *Log) SetRetention(d time.Duration) {
	if d <= 0 {
		d = DefaultRetention
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Retention != d {
		l.opts.Retention = d
		l.prune()
	}
}

// maxFile is the size at which the open file is closed and a new one
// started, so that the size bound removes history in small steps.
func (l *Log) maxFile() int64 { return max(l.opts.MaxBytes/16, 4<<10) }

// rotateEvery is the age at which the open file is closed and a new one
// started, so that retention, which removes whole files, is kept to within
// this much on a quiet agent.
func (l *Log) rotateEvery() time.Duration { return min(time.Hour, l.opts.Retention/24) }

// queueSize bounds the events waiting to be written.
const queueSize = 4096

// item is an event to write, or a flush marker.
type item struct {
	ev      api.Event
	flushed chan struct{}
}

// Append queues ev for writing and returns at once: a slow disk never
// holds up the agent. When the queue is full the event is not kept
// (Options.Dropped is told).
func (l *Log) Append(ev api.Event) {
	l.qmu.RLock()
	defer l.qmu.RUnlock()
	if l.closed {
		return
	}
	select {
	case l.q <- item{ev: ev}:
	default:
		if l.opts.Dropped != nil {
			l.opts.Dropped()
		}
	}
}

// Flush waits until the events appended before it are written.
func (l *Log) Flush() {
	done := make(chan struct{})
	l.qmu.RLock()
	if l.closed {
		l.qmu.RUnlock()
		return
	}
	l.q <- item{flushed: done}
	l.qmu.RUnlock()
	<-done
}

// writer writes the queue. Options.Failed hears of the first failure of a
// run of them, so that a broken disk is reported once, not per event.
func (l *Log) writer() {
	defer close(l.stopped)
	failing := false
	for it := range l.q {
		if it.flushed != nil {
			close(it.flushed)
			continue
		}
		b, err := json.Marshal(it.ev)
		if err != nil {
			continue
		}
		l.mu.Lock()
		err = l.write(it.ev.Time, append(b, '\n'))
		l.mu.Unlock()
		if err != nil && !failing && l.opts.Failed != nil {
			l.opts.Failed(fmt.Errorf("event history: %w", err))
		}
		failing = err != nil
	}
}

func (l *Log) write(t time.Time, b []byte) error {
	if l.cur == nil || l.curBytes+int64(len(b)) > l.maxFile() || t.Sub(l.files[len(l.files)-1].start) >= l.rotateEvery() {
		if err := l.rotate(t); err != nil {
			return err
		}
	}
	n, err := l.cur.Write(b)
	l.curBytes += int64(n)
	l.total += int64(n)
	l.files[len(l.files)-1].size += int64(n)
	if err != nil {
		return err
	}
	if l.total > l.opts.MaxBytes {
		l.prune()
	}
	return nil
}

func (l *Log) rotate(t time.Time) error {
	if l.cur != nil {
		l.cur.Close()
		l.cur = nil
	}
	if t.IsZero() {
		t = l.opts.Now()
	}
	// A file's start must sort after the previous file's.
	if n := len(l.files); n > 0 && !t.After(l.files[n-1].start) {
		t = l.files[n-1].start.Add(time.Nanosecond)
	}
	name := t.UTC().Format(fileLayout) + fileExt
	f, err := os.OpenFile(filepath.Join(l.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	l.cur, l.curBytes = f, 0
	l.files = append(l.files, logFile{name: name, start: t})
	l.prune()
	return nil
}

// prune removes the files past the retention, then the oldest while the
// total passes the bound; never the open file. Called with l.mu held.
func (l *Log) prune() {
	cut := l.opts.Now().Add(-l.opts.Retention)
	keep := l.files[:0]
	for i, f := range l.files {
		last := i == len(l.files)-1
		open := last && l.cur != nil
		expired := !last && l.files[i+1].start.Before(cut) || last && !open && f.start.Before(cut)
		tooBig := l.total > l.opts.MaxBytes && !open
		if (expired || tooBig) && l.remove(f) {
			continue
		}
		keep = append(keep, f)
	}
	l.files = keep
}

func (l *Log) remove(f logFile) bool {
	if err := os.Remove(filepath.Join(l.dir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false
	}
	l.total -= f.size
	delete(l.reported, f.name)
	return true
}

// Query returns the events that match f, oldest first; with f.Limit, the
// newest Limit of them. It also removes the files past the retention, so
// that a quiet agent does not keep them.
func (l *Log) Query(f api.EventFilter) []api.Event {
	l.Flush()
	l.mu.Lock()
	var names []string
	for i, file := range l.files {
		if !f.Until.IsZero() && file.start.After(f.Until) {
			break
		}
		if i+1 < len(l.files) && !f.Since.IsZero() && l.files[i+1].start.Before(f.Since) {
			continue
		}
		names = append(names, file.name)
	}
	l.prune()
	l.mu.Unlock()
	// Newest file first, so that a query with a limit reads only the
	// files it needs.
	var out []api.Event
	for i := len(names) - 1; i >= 0; i-- {
		out = append(out, l.read(names[i], f)...)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	api.SortEvents(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out
}

// read returns the matching events of one file.
func (l *Log) read(name string, f api.EventFilter) []api.Event {
	b, err := os.ReadFile(filepath.Join(l.dir, name))
	if err != nil {
		return nil
	}
	// The last line of the open file may be mid-write: only whole lines
	// count there. Elsewhere a cut last line is a crash's, and reported.
	bad := 0
	if i := bytes.LastIndexByte(b, '\n'); i < len(b)-1 {
		l.mu.Lock()
		open := l.cur != nil && l.files[len(l.files)-1].name == name
		l.mu.Unlock()
		if !open {
			bad++
		}
		b = b[:i+1]
	}
	var out []api.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var ev api.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Time.IsZero() {
			bad++
			continue
		}
		if f.Match(ev) {
			out = append(out, ev)
		}
	}
	if sc.Err() != nil {
		bad++
	}
	if bad > 0 && l.opts.Corrupt != nil {
		l.mu.Lock()
		first := !l.reported[name]
		l.reported[name] = true
		l.mu.Unlock()
		if first {
			l.opts.Corrupt(name, bad)
		}
	}
	return out
}

// Close writes what is queued and closes the open file; later appends
// are ignored.
func (l *Log) Close() error {
	l.qmu.Lock()
	if !l.closed {
		l.closed = true
		close(l.q)
	}
	l.qmu.Unlock()
	<-l.stopped
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == nil {
		return nil
	}
	err := l.cur.Close()
	l.cur = nil
	return err
}
