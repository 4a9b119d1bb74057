// Package storage keeps the recordings of one server on its volumes: the
// segment files, a crash-safe index per camera, retention, daily statistics
// and the gap list.
//
// Layout of a volume:
//
//	<volume>/<camera>/index.jsonl                       segment index, deletions, gaps
//	<volume>/<camera>/<YYYY-MM-DD>/<15-04-05.000000>.mp4 one fragmented MP4 per segment
//
// Dates and start times in paths are UTC. The index is an append-only JSON
// lines file, fsynced whenever a segment is closed; it is compacted and
// checked against the files on Open. A segment that was open when the
// process died (it is in no index) is found by scanning the files, cut back
// to its last complete part and added to the index, so a `kill -9` or a
// power cut loses at most the data written since the last fsync. If the
// index is lost altogether it is rebuilt from the files; only the daily
// statistics of segments already deleted by retention are lost then.
package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/evidence"
)

// Volume is one recording volume (a directory, usually a mount point) and
// its retention limits. Zero limits are off.
type Volume struct {
	Name string
	Path string
	// MaxSize bounds the bytes of recordings kept on the volume.
	MaxSize int64
	// MaxAge bounds the age of recordings (by their end time).
	MaxAge time.Duration
	// MinFree and MinFreePercent are the free-space floor: retention deletes
	// the oldest recordings until the filesystem has this much free space.
	MinFree        int64
	MinFreePercent float64
}

// Segment is one closed recording file.
type Segment struct {
	Camera string
	// Path is the absolute file name.
	Path   string
	Volume string // the volume's path
	Start  time.Time
	End    time.Time
	Bytes  int64
	Codec  string // e.g. "h264+aac"
	Server string // the server that recorded it
	// SHA256 is the hex SHA-256 of the whole file, computed while it was
	// written (or when a crash recovery cut it back), so that an export can
	// be traced to what was recorded at the time. Empty for segments indexed
	// before vigil kept it.
	SHA256 string
}

// ErrFull is wrapped by write errors caused by a full filesystem.
var ErrFull = errors.New("storage full")

// FreeSpaceFunc returns the free and total bytes of the filesystem holding
// path.
type FreeSpaceFunc func(path string) (free, total uint64, err error)

// Option changes how Open sets up a Store.
type Option func(*Store)

// WithFreeSpace replaces the statfs-based free-space reader (tests).
func WithFreeSpace(fn FreeSpaceFunc) Option { return func(s *Store) { s.freeSpace = fn } }

// WithClock replaces time.Now for retention decisions (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRetentionInterval sets how often retention runs in the background
// (default 30 s). 0 leaves only the runs a full disk triggers and explicit
// calls to Enforce.
func WithRetentionInterval(d time.Duration) Option { return func(s *Store) { s.interval = d } }

// Store is the recordings of this server. It is safe for concurrent use.
type Store struct {
	log       *slog.Logger
	freeSpace FreeSpaceFunc
	now       func() time.Time
	interval  time.Duration

	enforceMu sync.Mutex // held by a retention run, outside mu
	mu        sync.Mutex
	vols      []*volume
	retention map[string]time.Duration
	holds     []*spec.Hold
	events    func(api.Event)
	early     []api.Event // emitted before SetEvents (see emit)
	closed    bool

	kick chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup

	deleted atomic.Int64
}

type volume struct {
	Volume
	cams map[string]*camIndex
	used atomic.Int64 // bytes of closed segments and open files
	open map[*File]struct{}
	full bool
	// roomWanted is set by a write refused for lack of space until
	// retention has made room: another camera's write may clear full
	// before retention runs.
	roomWanted bool
	// announced is set while a storage.full event stands without its
	// storage.ok; lastFull is the last write refused for lack of space.
	announced bool
	lastFull  time.Time
	// troubled is full || announced, kept under s.mu but read without it
	// by writeOK, so that writes to a healthy volume take no lock.
	troubled atomic.Bool

	floorMissed, floorWasMissed bool
	// held is the size of the segments active holds keep, as of the last
	// retention run; heldFull is set while the volume is full and holds
	// keep everything retention could delete (announced once).
	held                        atomic.Int64
	heldFull, heldFullAnnounced bool
	// heldKey names the active holds the cameras' held bytes were
	// summed for (heldIndex.key).
	heldKey string
	// short is set when size, the floor or a full disk deleted a recording
	// younger than MaxAge, until retention deletes by age again; wasShort
	// is what the last event said.
	short, wasShort bool
}

type camIndex struct {
	camera string
	dir    string
	segs   []Segment        // sorted by Start
	days   map[string]int64 // bytes of deleted segments, by UTC date
	gaps   []api.Gap
	idx    *os.File // index.jsonl, opened for append
	lines  int      // lines appended since the last rewrite
	// held is the size of the segments that the active holds keep, for the
	// volume's heldKey.
	held int64
}

// maxGaps bounds the gap list kept per camera and volume.
const maxGaps = 1000

const indexName = "index.jsonl"

// Open opens the volumes, recovering segments left open by a crash and
// rebuilding lost indexes, and starts background retention. Volumes are
// created when missing.
func Open(volumes []Volume, logger *slog.Logger, opts ...Option) (*Store, error) {
	if len(volumes) == 0 {
		return nil, errors.New("storage: no volume configured")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		log:       logger,
		freeSpace: statfs,
		now:       time.Now,
		interval:  30 * time.Second,
		retention: map[string]time.Duration{},
		kick:      make(chan struct{}, 1),
		stop:      make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	for _, v := range volumes {
		if v.Path == "" {
			return nil, fmt.Errorf("storage: volume %q has no path", v.Name)
		}
		if err := os.MkdirAll(v.Path, 0o755); err != nil {
			return nil, fmt.Errorf("storage: volume %q: %w", v.Path, err)
		}
		vol := &volume{Volume: v, cams: map[string]*camIndex{}, open: map[*File]struct{}{}}
		if err := s.load(vol); err != nil {
			s.closeIndexes()
			return nil, fmt.Errorf("storage: volume %q: %w", v.Path, err)
		}
		s.vols = append(s.vols, vol)
	}
	s.wg.Add(1)
	go s.retentionLoop()
	return s, nil
}

// Close stops background retention and closes the index files. Open
// segment files stay the caller's to close first.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeIndexes()
}

func (s *Store) closeIndexes() error {
	var first error
	for _, v := range s.vols {
		for _, c := range v.cams {
			if c.idx != nil {
				if err := c.idx.Close(); err != nil && first == nil {
					first = err
				}
				c.idx = nil
			}
		}
	}
	return first
}

// SetEvents sets the sink of storage events (full, recovered, retention
// floor unreachable).
func (s *Store) SetEvents(fn func(api.Event)) {
	s.mu.Lock()
	s.events = fn
	early := s.early
	s.early = nil
	s.mu.Unlock()
	for _, ev := range early {
		fn(ev)
	}
}

// maxEarlyEvents bounds the events kept from Open until SetEvents.
const maxEarlyEvents = 100

// SetRetention sets a camera's own maximum age; 0 removes it.
func (s *Store) SetRetention(camera string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.retention, camera)
	} else {
		s.retention[camera] = d
	}
}

func (s *Store) emit(severity spec.Severity, kind, camera, msg string) {
	s.log.Log(context.Background(), severity.Level(), msg, "kind", kind, "camera", camera)
	ev := api.Event{Time: time.Now(), Severity: severity, Kind: kind, Camera: camera, Message: msg}
	s.mu.Lock()
	fn := s.events
	if fn == nil && len(s.early) < maxEarlyEvents {
		// Raised while opening (a quarantined file): delivered by SetEvents.
		s.early = append(s.early, ev)
	}
	s.mu.Unlock()
	if fn != nil {
		fn(ev)
	}
}

// validCamera rejects camera names that cannot be a single directory name.
func validCamera(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return fmt.Errorf("camera name %q cannot be used as a directory name", name)
	}
	return nil
}

// segmentName is the file name of a segment starting at t (UTC).
func segmentName(t time.Time) (date, file string) {
	t = t.UTC()
	return t.Format("2006-01-02"), t.Format("15-04-05.000000") + ".mp4"
}

// parseSegmentName is the inverse of segmentName.
func parseSegmentName(date, file string) (time.Time, error) {
	return time.ParseInLocation("2006-01-02 15-04-05.000000", date+" "+strings.TrimSuffix(file, ".mp4"), time.UTC)
}

// indexRecord is one line of index.jsonl; exactly one field is set.
type indexRecord struct {
	Seg  *segRecord       `json:"seg,omitempty"`
	Del  string           `json:"del,omitempty"`
	Days map[string]int64 `json:"days,omitempty"`
	Gap  *api.Gap         `json:"gap,omitempty"`
}

type segRecord struct {
	Path   string    `json:"path"` // relative to the camera directory
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Bytes  int64     `json:"bytes"`
	Codec  string    `json:"codec,omitempty"`
	Server string    `json:"server,omitempty"`
	SHA256 string    `json:"sha256,omitempty"`
}

// load reads every camera directory of a volume.
func (s *Store) load(v *volume) error {
	entries, err := os.ReadDir(v.Path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() || validCamera(e.Name()) != nil {
			continue
		}
		c, err := s.loadCamera(v, e.Name())
		if err != nil {
			return fmt.Errorf("camera %q: %w", e.Name(), err)
		}
		if c != nil {
			v.cams[c.camera] = c
		}
	}
	return nil
}

// loadCamera reads a camera's index, reconciles it with the files on disk
// and rewrites it compacted.
func (s *Store) loadCamera(v *volume, camera string) (*camIndex, error) {
	dir := filepath.Join(v.Path, camera)
	c := &camIndex{camera: camera, dir: dir, days: map[string]int64{}}
	known := map[string]segRecord{}
	if err := readIndex(filepath.Join(dir, indexName), c, known, s.log); err != nil {
		return nil, err
	}
	files, err := segmentFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 && len(known) == 0 && len(c.gaps) == 0 && len(c.days) == 0 {
		return nil, nil // not a camera directory of ours
	}
	onDisk := map[string]bool{}
	for _, rel := range files {
		onDisk[rel] = true
		if _, ok := known[rel]; ok {
			continue
		}
		seg, ok := s.recoverFile(dir, rel)
		if ok {
			known[rel] = seg
		}
	}
	for rel, r := range known {
		if !onDisk[rel] {
			// Removed by hand or by a retention run whose "del" line was
			// lost: nothing to play, keep only its statistics.
			c.days[r.Start.UTC().Format(time.DateOnly)] += r.Bytes
			continue
		}
		c.segs = append(c.segs, Segment{
			Camera: camera, Path: filepath.Join(dir, r.Path), Volume: v.Path,
			Start: r.Start, End: r.End, Bytes: r.Bytes, Codec: r.Codec, Server: r.Server, SHA256: r.SHA256,
		})
		v.used.Add(r.Bytes)
	}
	slices.SortFunc(c.segs, func(a, b Segment) int { return a.Start.Compare(b.Start) })
	if err := c.rewrite(); err != nil {
		return nil, err
	}
	return c, nil
}

func readIndex(path string, c *camIndex, known map[string]segRecord, log *slog.Logger) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return parseIndex(f, path, c, known, log)
}

// parseIndex reads index lines from r (path names it in warnings).
func parseIndex(r io.Reader, path string, c *camIndex, known map[string]segRecord, log *slog.Logger) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxIndexLine)
	sc.Split(indexLines())
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) > 0 && sc.Bytes()[0] == overlong {
			// A damaged or crafted line: the files are the truth anyway.
			log.Warn("skipping index line longer than the limit", "file", path, "line", line, "limit", maxIndexLine)
			continue
		}
		var r indexRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			// A line torn by a crash; the files are the truth anyway.
			log.Warn("skipping unreadable index line", "file", path, "line", line, "error", err)
			continue
		}
		switch {
		case r.Seg != nil:
			known[r.Seg.Path] = *r.Seg
		case r.Del != "":
			if old, ok := known[r.Del]; ok {
				c.days[old.Start.UTC().Format(time.DateOnly)] += old.Bytes
				delete(known, r.Del)
			}
		case r.Days != nil:
			for d, b := range r.Days {
				c.days[d] += b
			}
		case r.Gap != nil:
			c.gaps = append(c.gaps, *r.Gap)
		}
	}
	if len(c.gaps) > maxGaps {
		c.gaps = c.gaps[len(c.gaps)-maxGaps:]
	}
	return sc.Err()
}

// maxIndexLine bounds one index line; ours are a few hundred bytes.
const maxIndexLine = 1 << 20

// overlong is the token indexLines gives for a line over maxIndexLine (no
// JSON line starts with it).
const overlong = 0xff

// indexLines is bufio.ScanLines, except that a line longer than
// maxIndexLine is skipped (one overlong token) instead of failing the
// scan and with it the whole volume.
func indexLines() bufio.SplitFunc {
	skipping := false
	return func(data []byte, atEOF bool) (int, []byte, error) {
		i := bytes.IndexByte(data, '\n')
		switch {
		case skipping && i >= 0:
			skipping = false
			return i + 1, []byte{overlong}, nil
		case skipping && atEOF:
			skipping = false
			return len(data), []byte{overlong}, nil
		case skipping:
			return len(data), nil, nil
		case i < 0 && len(data) >= maxIndexLine:
			skipping = true
			return len(data), nil, nil
		}
		return bufio.ScanLines(data, atEOF)
	}
}

// quarantine renames a damaged segment file out of the recordings
// (FILE.damaged: kept for inspection, never played or counted) and reports
// it; the camera and the volume go on.
func (s *Store) quarantine(path string, cause error) {
	dst := path + ".damaged"
	if err := os.Rename(path, dst); err != nil {
		s.log.Error("cannot quarantine damaged segment", "file", path, "error", err)
		return
	}
	s.emit(spec.SeverityError, spec.EventStorageQuarantined, filepath.Base(filepath.Dir(filepath.Dir(path))),
		fmt.Sprintf("segment file %s is damaged (%v): moved aside to %s", path, cause, filepath.Base(dst)))
}

// segmentFiles lists <date>/<time>.mp4 under a camera directory, relative.
func segmentFiles(dir string) ([]string, error) {
	dates, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dates {
		if !d.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(dir, d.Name()))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.Type().IsRegular() && strings.HasSuffix(f.Name(), ".mp4") {
				if _, err := parseSegmentName(d.Name(), f.Name()); err == nil {
					out = append(out, filepath.Join(d.Name(), f.Name()))
				}
			}
		}
	}
	return out, nil
}

// recoverFile adds a segment file missing from the index: one that was being
// written when the process died, or any file after the index was lost. A
// part cut in the middle is truncated away; a file without a complete part
// is removed.
func (s *Store) recoverFile(dir, rel string) (segRecord, bool) {
	path := filepath.Join(dir, rel)
	start, _ := parseSegmentName(filepath.Dir(rel), filepath.Base(rel))
	info, err := Probe(path)
	if errors.Is(err, errDamaged) {
		s.quarantine(path, err)
		return segRecord{}, false
	}
	if err != nil || info.Parts == 0 {
		s.log.Warn("removing segment without a complete part", "file", path, "error", err)
		if err := os.Remove(path); err != nil {
			s.log.Error("cannot remove broken segment", "file", path, "error", err)
		}
		return segRecord{}, false
	}
	st, err := os.Stat(path)
	if err == nil && st.Size() > info.ValidSize {
		if err := os.Truncate(path, info.ValidSize); err != nil {
			s.log.Error("cannot cut segment back to its last complete part", "file", path, "error", err)
		}
	}
	// Only recovery reads a segment back to hash it: a segment written by
	// this process is hashed as it is written.
	sum, err := evidence.HashFile(path)
	if err != nil {
		s.log.Error("cannot hash recovered segment", "file", path, "error", err)
	}
	s.log.Info("recovered segment", "file", path, "duration", info.Duration, "bytes", info.ValidSize)
	return segRecord{
		Path: rel, Start: start, End: start.Add(info.Duration), Bytes: info.ValidSize, Codec: info.Codec(), SHA256: sum,
	}, true
}

// rewrite replaces index.jsonl with the compacted current state and opens
// it for appending.
func (c *camIndex) rewrite() error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(c.dir, indexName+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	if len(c.days) > 0 {
		_ = enc.Encode(indexRecord{Days: c.days})
	}
	for _, seg := range c.segs {
		_ = enc.Encode(indexRecord{Seg: c.record(seg)})
	}
	for i := range c.gaps {
		_ = enc.Encode(indexRecord{Gap: &c.gaps[i]})
	}
	err = w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(c.dir, indexName))
	}
	if err == nil {
		err = syncDir(c.dir)
	}
	if err != nil {
		return fmt.Errorf("write index: %w", err)
	}
	if c.idx != nil {
		c.idx.Close()
	}
	c.lines = 0
	c.idx, err = os.OpenFile(filepath.Join(c.dir, indexName), os.O_WRONLY|os.O_APPEND, 0o644)
	return err
}

func (c *camIndex) record(seg Segment) *segRecord {
	rel, err := filepath.Rel(c.dir, seg.Path)
	if err != nil {
		rel = seg.Path
	}
	return &segRecord{Path: rel, Start: seg.Start, End: seg.End, Bytes: seg.Bytes, Codec: seg.Codec, Server: seg.Server, SHA256: seg.SHA256}
}

// compactEvery bounds the lines appended to an index before it is rewritten
// (deleted segments and old gaps then disappear from it).
const compactEvery = 4096

// appendRecord writes one line to the camera's index; sync makes it durable.
func (c *camIndex) appendRecord(r indexRecord, sync bool) error {
	if c.idx == nil {
		return errors.New("index closed")
	}
	if c.lines++; c.lines >= compactEvery {
		// The in-memory state already includes r.
		return c.rewrite()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := c.idx.Write(append(b, '\n')); err != nil {
		return err
	}
	if sync {
		return c.idx.Sync()
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func statfs(path string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}

// camera returns (creating it) the index of a camera on a volume. Called
// with s.mu held.
func (s *Store) camera(v *volume, camera string) (*camIndex, error) {
	if c := v.cams[camera]; c != nil {
		return c, nil
	}
	c := &camIndex{camera: camera, dir: filepath.Join(v.Path, camera), days: map[string]int64{}}
	if err := c.rewrite(); err != nil {
		return nil, err
	}
	v.cams[camera] = c
	return c, nil
}

// pickVolume chooses where a camera's next segment goes: where it recorded
// last unless that volume is full, else the volume with the most free space.
// Called with s.mu held.
func (s *Store) pickVolume(camera string) *volume {
	var last *volume
	var lastStart time.Time
	for _, v := range s.vols {
		if c := v.cams[camera]; c != nil && len(c.segs) > 0 && c.segs[len(c.segs)-1].Start.After(lastStart) {
			last, lastStart = v, c.segs[len(c.segs)-1].Start
		}
	}
	if last != nil && !last.full {
		return last
	}
	var best *volume
	var bestFree uint64
	for _, v := range s.vols {
		if v.full && len(s.vols) > 1 {
			continue
		}
		free, _, err := s.freeSpace(v.Path)
		if err != nil {
			continue
		}
		if best == nil || free > bestFree {
			best, bestFree = v, free
		}
	}
	if best == nil {
		best = s.vols[0]
	}
	return best
}
