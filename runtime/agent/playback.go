package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/playback"
	"vigil/runtime/storage"
)

// Playback: the agent that answers builds the playlist or the stream from
// the segment files of every server (package playback), and serves their
// bytes itself: from its own disk, or proxied from the server holding them
// (GET /v1/playback/media on that server). A file's times are shifted
// where the file is read.

// layoutTimeout bounds asking a peer for the layouts of a period's files.
const layoutTimeout = 30 * time.Second

// maxPlayback is the longest period one playlist or stream may cover.
const maxPlayback = 24 * time.Hour

// probeCache keeps the storage.Probe of recently played files: a player
// asks for a file's parts one by one, and each is shifted with it.
type probeCache struct {
	mu sync.Mutex
	m  map[string]*storage.ProbeInfo // by path and size
}

const probeCacheSize = 512

// probe is the layout of one of this server's segment files (closed or
// being written), by its name relative to its volume.
func (a *Agent) probe(rel string) (*storage.ProbeInfo, error) {
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	if rec == nil {
		return nil, errors.New("this server has no storage open")
	}
	seg, ok := rec.store.Locate(rel)
	if !ok {
		return nil, fmt.Errorf("no segment %s on %s (deleted by retention?)", rel, a.cfg.Server)
	}
	st, err := os.Stat(seg.Path)
	if err != nil {
		return nil, fmt.Errorf("segment %s on %s: %w", rel, a.cfg.Server, err)
	}
	key := seg.Path + "\x00" + strconv.FormatInt(st.Size(), 10)
	c := &a.probes
	c.mu.Lock()
	info := c.m[key]
	c.mu.Unlock()
	if info != nil {
		return info, nil
	}
	p, err := storage.Probe(seg.Path)
	if err != nil {
		return nil, fmt.Errorf("segment %s on %s: %w", rel, a.cfg.Server, err)
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= probeCacheSize {
		c.m = map[string]*storage.ProbeInfo{}
	}
	c.m[key] = &p
	c.mu.Unlock()
	return &p, nil
}

func (a *Agent) localLayouts(paths []string, samples bool) []api.SegmentLayout {
	out := make([]api.SegmentLayout, 0, len(paths))
	for _, p := range paths {
		info, err := a.probe(p)
		l := api.SegmentLayout{}
		if err != nil {
			l.Error = err.Error()
		} else {
			l = playback.LayoutOf(info, samples)
		}
		l.Server, l.Path = a.cfg.Server, p
		out = append(out, l)
	}
	return out
}

// handleLocalLayouts answers POST /v1/playback/local/layouts[?samples=1]
// {"paths": [...]}: the layouts of this server's files, for its peers.
func (a *Agent) handleLocalLayouts(w http.ResponseWriter, r *http.Request) {
	var req api.LayoutsRequest
	body, ok := readBody(w, r, maxBody)
	if !ok {
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: `the request must list segment files: {"paths": [...]}`})
		return
	}
	writeJSON(w, http.StatusOK, a.localLayouts(req.Paths, r.URL.Query().Get("samples") == "1"))
}

// peerAddr is the API address of a live server of the site.
func (a *Agent) peerAddr(server string) (string, bool) {
	a.mu.Lock()
	m, ok := a.view.members[server]
	a.mu.Unlock()
	return m.APIAddr(), ok && m.Health != api.HealthDead
}

// layouts gets the layouts of the chosen files from the servers holding
// them, in parallel. A file whose server does not answer gets an error
// (a gap).
func (a *Agent) layouts(ctx context.Context, pieces []api.Piece, samples bool) []playback.File {
	byServer := map[string][]string{}
	for _, p := range pieces {
		byServer[p.Server] = append(byServer[p.Server], p.Path)
	}
	got := map[string]api.SegmentLayout{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for server, paths := range byServer {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ls []api.SegmentLayout
			var err error
			if server == a.cfg.Server {
				ls = a.localLayouts(paths, samples)
			} else {
				ls, err = a.fetchLayouts(ctx, server, paths, samples)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range paths {
				if err != nil {
					got[server+"\x00"+p] = api.SegmentLayout{Server: server, Path: p, Error: err.Error()}
				}
			}
			for _, l := range ls {
				if l.Server == server {
					got[server+"\x00"+l.Path] = l
				}
			}
		}()
	}
	wg.Wait()
	files := make([]playback.File, len(pieces))
	for i, p := range pieces {
		files[i] = playback.File{Piece: p, Layout: got[p.Server+"\x00"+p.Path]}
	}
	return files
}

func (a *Agent) fetchLayouts(ctx context.Context, server string, paths []string, samples bool) ([]api.SegmentLayout, error) {
	addr, ok := a.peerAddr(server)
	if !ok {
		return nil, fmt.Errorf("%s is down", server)
	}
	ctx, cancel := context.WithTimeout(ctx, layoutTimeout)
	defer cancel()
	return a.peerClient(addr).SegmentLayouts(ctx, paths, samples)
}

// playItems gathers, chooses and cuts the files that play a camera's
// period; live is set when the period reaches a segment being written.
func (a *Agent) playItems(ctx context.Context, camera string, p period, samples bool) (items []playback.Item, live bool, err error) {
	_, pieces, err := a.footageOf(ctx, camera, p, true)
	if err != nil {
		return nil, false, err
	}
	chosen := playback.Choose(pieces, p.start, p.end)
	items = playback.Cut(a.layouts(ctx, chosen, samples), p.start, p.end)
	// Live: the period goes on past what the segment being written has.
	if n := len(items); n > 0 && items[n-1].File.Piece.Open && p.end.After(items[n-1].End()) {
		live = true
	}
	return items, live, nil
}

// handlePlaylist answers GET /v1/playback/{camera}/index.m3u8?start=&end=.
func (a *Agent) handlePlaylist(w http.ResponseWriter, r *http.Request) {
	camera := r.PathValue("camera")
	p, err := parsePlayPeriod(r.URL.Query(), "end")
	if err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	items, live, err := a.playItems(r.Context(), camera, p, false)
	if err != nil {
		writeError(w, footageErrCode(err), api.Error{Error: err.Error()})
		return
	}
	if len(items) == 0 {
		writeError(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("camera %s has no footage from %s to %s", camera, p.start.Format(time.RFC3339), p.end.Format(time.RFC3339))})
		return
	}
	a.auditSession(r, api.AuditPlayback, camera, p)
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	w.Header().Set("Cache-Control", "no-cache")
	io.WriteString(w, playback.Playlist(items, live))
}

// parsePlayPeriod reads start and end (or duration, when endParam is
// "duration") of a playback request: at most maxPlayback; the end defaults
// to now and the start to an hour before the end.
func parsePlayPeriod(q url.Values, endParam string) (period, error) {
	if endParam == "duration" {
		if q.Get("start") == "" {
			return period{}, errors.New("give start=RFC3339 and duration (e.g. 90s, 10m)")
		}
		d, err := time.ParseDuration(q.Get("duration"))
		if err != nil || d <= 0 {
			return period{}, fmt.Errorf("duration=%q is not a positive duration like 90s or 10m", q.Get("duration"))
		}
		start, err := time.Parse(time.RFC3339Nano, q.Get("start"))
		if err != nil {
			return period{}, fmt.Errorf("start=%q is not a time like 2026-12-01T21:00:00Z (RFC 3339)", q.Get("start"))
		}
		q = url.Values{"start": {q.Get("start")}, "end": {start.Add(d).Format(time.RFC3339Nano)}}
	}
	p, err := parsePeriod(q, time.Hour)
	if err == nil && p.end.Sub(p.start) > maxPlayback {
		err = fmt.Errorf("the period is %s long; play at most 24 hours at a time", p.end.Sub(p.start).Round(time.Minute))
	}
	return p, err
}

// patched reads a segment file with its times shifted and its tail cut
// (playback.Patch).
type patched struct {
	f     *os.File
	info  *storage.ProbeInfo
	shift time.Duration
	cut   time.Duration
}

func (p *patched) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.f.ReadAt(b, off)
	playback.Patch(b[:n], off, p.info, p.shift, p.cut)
	return n, err
}

// openLocal opens one of this server's segment files, shifted, limited to
// its complete parts.
func (a *Agent) openLocal(rel string, shift, cut time.Duration) (*io.SectionReader, io.Closer, error) {
	info, err := a.probe(rel)
	if err != nil {
		return nil, nil, err
	}
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	seg, ok := rec.store.Locate(rel)
	if !ok {
		return nil, nil, fmt.Errorf("no segment %s on %s (deleted by retention?)", rel, a.cfg.Server)
	}
	f, err := os.Open(seg.Path)
	if err != nil {
		return nil, nil, err
	}
	return io.NewSectionReader(&patched{f: f, info: info, shift: shift, cut: cut}, 0, info.ValidSize), f, nil
}

// handleMedia answers GET /v1/playback/media/{server}/{shift}/{path...}
// (playback.MediaURL): the bytes of a segment file (HTTP ranges), its
// times shifted by SHIFT nanoseconds and cut at CUT; from this server's disk, or proxied
// from the server named.
func (a *Agent) handleMedia(w http.ResponseWriter, r *http.Request) {
	shift, cut, err := playback.ParseMediaTimes(r.PathValue("shift"))
	if err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	if server := r.PathValue("server"); server != a.cfg.Server {
		a.proxyMedia(w, r, server)
		return
	}
	sr, c, err := a.openLocal(r.PathValue("path"), shift, cut)
	if err != nil {
		writeError(w, http.StatusNotFound, api.Error{Error: err.Error()})
		return
	}
	defer c.Close()
	w.Header().Set("Content-Type", "video/mp4")
	http.ServeContent(w, r, "", time.Time{}, sr)
}

// proxyMedia relays a media request to the server holding the file.
func (a *Agent) proxyMedia(w http.ResponseWriter, r *http.Request, server string) {
	if r.Header.Get(forwardedHeader) != "" {
		writeError(w, http.StatusBadGateway, api.Error{Error: "media requests are relayed once only"})
		return
	}
	addr, ok := a.peerAddr(server)
	if !ok {
		writeError(w, http.StatusBadGateway, api.Error{Error: fmt.Sprintf("%s, which holds this footage, is down", server)})
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, a.peerURL(addr)+r.URL.RequestURI(), nil)
	if err != nil {
		writeError(w, http.StatusInternalServerError, api.Error{Error: err.Error()})
		return
	}
	if rg := r.Header.Get("Range"); rg != "" {
		req.Header.Set("Range", rg)
	}
	req.Header.Set(forwardedHeader, a.cfg.Server)
	resp, err := a.peerHTTP.Do(req)
	if err != nil {
		writeError(w, http.StatusBadGateway, api.Error{Error: fmt.Sprintf("cannot reach %s, which holds this footage: %v", server, err)})
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Content-Length", "Content-Range", "Accept-Ranges"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// openChunk reads a chunk of a stream from off on: from this server's
// disk, or from the server holding it.
func (a *Agent) openChunk(ctx context.Context, c playback.Chunk, off int64) (io.ReadCloser, error) {
	if c.Server == a.cfg.Server {
		sr, closer, err := a.openLocal(c.Path, c.Shift, c.Cut)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{io.NewSectionReader(sr, c.Offset+off, c.Size-off), closer}, nil
	}
	addr, ok := a.peerAddr(c.Server)
	if !ok {
		return nil, fmt.Errorf("%s, which holds %s, is down", c.Server, c.Path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.peerURL(addr)+playback.MediaURL(c.Server, c.Path, c.Shift, c.Cut), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", c.Offset+off, c.Offset+c.Size-1))
	req.Header.Set(forwardedHeader, a.cfg.Server)
	resp, err := a.peerHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		return nil, fmt.Errorf("%s answered %s for %s", c.Server, resp.Status, c.Path)
	}
	return resp.Body, nil
}

// concat is the chunks of a stream as one io.ReadSeeker, reading each
// chunk as a stream while reads follow each other.
type concat struct {
	ctx    context.Context
	chunks []playback.Chunk
	starts []int64 // of each chunk in the stream
	size   int64
	open   func(ctx context.Context, c playback.Chunk, off int64) (io.ReadCloser, error)

	pos    int64
	cur    io.ReadCloser
	curPos int64
}

func newConcat(ctx context.Context, chunks []playback.Chunk, open func(context.Context, playback.Chunk, int64) (io.ReadCloser, error)) *concat {
	c := &concat{ctx: ctx, chunks: chunks, open: open}
	for _, ch := range chunks {
		c.starts = append(c.starts, c.size)
		c.size += ch.Size
	}
	return c
}

func (c *concat) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.pos
	case io.SeekEnd:
		offset += c.size
	}
	if offset < 0 {
		return c.pos, errors.New("seek before the start")
	}
	c.pos = offset
	return offset, nil
}

func (c *concat) Read(p []byte) (int, error) {
	if c.pos >= c.size {
		return 0, io.EOF
	}
	k := sort.Search(len(c.starts), func(i int) bool { return c.starts[i] > c.pos }) - 1
	chunkEnd := c.starts[k] + c.chunks[k].Size
	if c.cur == nil || c.curPos != c.pos {
		c.Close()
		r, err := c.open(c.ctx, c.chunks[k], c.pos-c.starts[k])
		if err != nil {
			return 0, err
		}
		c.cur, c.curPos = r, c.pos
	}
	n, err := c.cur.Read(p[:min(int64(len(p)), chunkEnd-c.pos)])
	c.pos += int64(n)
	c.curPos = c.pos
	if c.pos == chunkEnd {
		c.Close()
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		return n, fmt.Errorf("%s on %s ended early: %w", c.chunks[k].Path, c.chunks[k].Server, io.ErrUnexpectedEOF)
	}
	return n, err
}

// Close closes the chunk being read.
func (c *concat) Close() error {
	if c.cur == nil {
		return nil
	}
	err := c.cur.Close()
	c.cur = nil
	return err
}

// handleStream answers GET /v1/playback/{file}, where file is CAMERA.mp4,
// ?start=&duration=: one fMP4 stream of the period (HTTP ranges).
func (a *Agent) handleStream(w http.ResponseWriter, r *http.Request) {
	camera, ok := strings.CutSuffix(r.PathValue("file"), ".mp4")
	if !ok {
		writeError(w, http.StatusNotFound, api.Error{Error: "play /v1/playback/CAMERA.mp4?start=&duration= or /v1/playback/CAMERA/index.m3u8?start=&end="})
		return
	}
	p, err := parsePlayPeriod(r.URL.Query(), "duration")
	if err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	items, _, err := a.playItems(r.Context(), camera, p, false)
	if err != nil {
		writeError(w, footageErrCode(err), api.Error{Error: err.Error()})
		return
	}
	chunks, _ := playback.Stream(items)
	if len(chunks) == 0 {
		writeError(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("camera %s has no footage from %s to %s", camera, p.start.Format(time.RFC3339), p.end.Format(time.RFC3339))})
		return
	}
	a.auditSession(r, api.AuditPlayback, camera, p)
	c := newConcat(r.Context(), chunks, a.openChunk)
	defer c.Close()
	w.Header().Set("Content-Type", "video/mp4")
	http.ServeContent(w, r, camera+".mp4", time.Time{}, c)
}
