package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/footage"
	"vigil/runtime/storage"
)

// Footage across the site. Any agent answers for the whole site: it reads
// its own store's index and asks every other server that may be up for its
// part (GET /v1/recordings/local) in parallel, each bounded by peerTimeout,
// then merges with package footage. A server that does not answer in time,
// answers garbage or is dead makes the answer incomplete (missing_servers)
// when it may hold footage of the camera; the answer never waits longer.

// peerTimeout bounds one peer's answer to a footage question.
const peerTimeout = 3 * time.Second

// maxListing is the longest period one listing request may cover.
const maxListing = 31 * 24 * time.Hour

// period is a validated [start, end) of a request.
type period struct{ start, end time.Time }

// parsePeriod reads start and end (RFC 3339) from a query; end defaults to
// now and start to def before end.
func parsePeriod(q url.Values, def time.Duration) (period, error) {
	p := period{end: time.Now()}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"end", &p.end}, {"start", &p.start}} {
		if s := q.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return p, fmt.Errorf("%s=%q is not a time like 2026-12-01T21:00:00Z (RFC 3339)", f.name, s)
			}
			*f.t = t
		}
	}
	if p.start.IsZero() {
		p.start = p.end.Add(-def)
	}
	if !p.end.After(p.start) {
		return p, fmt.Errorf("the period is empty or inverted: start %s is not before end %s", p.start.Format(time.RFC3339), p.end.Format(time.RFC3339))
	}
	if p.end.Sub(p.start) > maxListing {
		return p, fmt.Errorf("the period is %s long; ask for at most 31 days at a time", p.end.Sub(p.start).Round(time.Hour))
	}
	return p, nil
}

// localFootage is this server's footage of a camera overlapping [start,
// end): its segments (segments) or their runs clipped to the period, and
// its stored gaps.
func (a *Agent) localFootage(camera string, start, end time.Time, segments bool) api.LocalRecordings {
	out := api.LocalRecordings{Server: a.cfg.Server, Camera: camera, Pieces: []api.Piece{}}
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	if rec == nil {
		return out
	}
	// Runs are built while walking the index: a month of a camera's
	// segments is never copied to become a handful of runs.
	add := func(seg *storage.Segment, open bool) {
		p := api.Piece{Server: a.cfg.Server, Start: seg.Start, End: seg.End, Bytes: seg.Bytes, Open: open}
		if segments {
			p.Path, p.SHA256 = seg.Rel(), seg.SHA256
			out.Pieces = append(out.Pieces, p)
		} else if p, ok := footage.ClipOne(p, start, end); ok {
			out.Pieces = footage.AppendRun(out.Pieces, p)
		}
	}
	rec.store.Walk(camera, start, end, func(seg *storage.Segment) { add(seg, false) })
	if seg, ok := rec.store.Writing(camera); ok && seg.End.After(start) && seg.Start.Before(end) {
		add(&seg, true)
	}
	slices.SortFunc(out.Pieces, func(x, y api.Piece) int { return x.Start.Compare(y.Start) })
	for _, g := range rec.store.Gaps(camera) {
		if g.Start.Before(end) && (g.End.IsZero() || g.End.After(start)) {
			out.Gaps = append(out.Gaps, g)
		}
	}
	return out
}

// localCameras lists the cameras this server has footage or gaps of.
func (a *Agent) localCameras() []string {
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	if rec == nil {
		return nil
	}
	return rec.store.Cameras()
}

// handleLocalRecordings answers GET /v1/recordings/local?camera=&start=&end=
// [&segments=1]: this server's own footage, for its peers. Without camera,
// every camera's runs (the day overview).
func (a *Agent) handleLocalRecordings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, end := time.Time{}, time.Unix(1<<40, 0)
	if q.Has("start") || q.Has("end") {
		p, err := parsePeriod(q, maxListing)
		if err != nil {
			writeError(w, http.StatusBadRequest, api.Error{Error: err.Error()})
			return
		}
		start, end = p.start, p.end
	}
	writeJSON(w, http.StatusOK, a.localAnswer(q["camera"], start, end, q.Get("segments") == "1"))
}

// localAnswer is this server's footage of the cameras (every camera of its
// store when none is named) over [start, end): all of it, from the run
// cache, when the period is unbounded.
func (a *Agent) localAnswer(cameras []string, start, end time.Time, segments bool) []api.LocalRecordings {
	if len(cameras) == 0 {
		cameras = a.localCameras()
	}
	out := make([]api.LocalRecordings, 0, len(cameras))
	for _, c := range cameras {
		if start.IsZero() && !segments {
			out = append(out, a.allRuns(c))
		} else {
			out = append(out, a.localFootage(c, start, end, segments))
		}
	}
	return out
}

// runCache keeps, per camera, the runs of this server's closed segments,
// so that the day overview of thousands of cameras walks only the segments
// closed since the last one: retention deletes a camera's oldest segments
// first, so cutting the front of the runs to the oldest segment left keeps
// them true. Bytes are not kept true that way; the day overview uses none.
type runCache struct {
	mu    sync.Mutex
	store *storage.Store
	cams  map[string]*camRuns
}

type camRuns struct {
	runs []api.Piece
	upto time.Time // end of the last segment walked
}

// allRuns is this server's footage of a camera, all of it, as runs.
func (a *Agent) allRuns(camera string) api.LocalRecordings {
	out := api.LocalRecordings{Server: a.cfg.Server, Camera: camera, Pieces: []api.Piece{}}
	a.mu.Lock()
	rec := a.rec
	a.mu.Unlock()
	if rec == nil {
		return out
	}
	c := &a.runs
	c.mu.Lock()
	if c.store != rec.store {
		c.store, c.cams = rec.store, map[string]*camRuns{}
	}
	cr := c.cams[camera]
	if cr == nil {
		cr = &camRuns{}
		c.cams[camera] = cr
	}
	rec.store.Walk(camera, cr.upto, time.Unix(1<<40, 0), func(seg *storage.Segment) {
		if seg.Start.Before(cr.upto) {
			return
		}
		cr.runs = footage.AppendRun(cr.runs, api.Piece{Server: a.cfg.Server, Start: seg.Start, End: seg.End, Bytes: seg.Bytes})
		cr.upto = seg.End
	})
	oldest, ok := rec.store.Oldest(camera)
	for ok && len(cr.runs) > 0 && !cr.runs[0].End.After(oldest) {
		cr.runs = cr.runs[1:]
	}
	if !ok {
		cr.runs = nil
	} else if len(cr.runs) > 0 && cr.runs[0].Start.Before(oldest) {
		cr.runs[0].Start = oldest
	}
	out.Pieces = append(out.Pieces, cr.runs...)
	c.mu.Unlock()
	if seg, ok := rec.store.Writing(camera); ok {
		out.Pieces = footage.AppendRun(out.Pieces, api.Piece{Server: a.cfg.Server, Start: seg.Start, End: seg.End, Bytes: seg.Bytes, Open: true})
	}
	return out
}

// siteFootage is what the servers of the site answered about some cameras.
type siteFootage struct {
	spec    *spec.Site
	answers []api.LocalRecordings
	// silent are the servers that did not answer (down, too slow,
	// garbage).
	silent []string
}

// gatherFootage asks this server and every other server of the spec that
// can record for its footage (query as for /v1/recordings/local).
func (a *Agent) gatherFootage(ctx context.Context, query url.Values) (*siteFootage, error) {
	a.mu.Lock()
	v := a.view
	a.mu.Unlock()
	spec := v.spec()
	if spec == nil {
		return nil, errors.New(WaitingMessage)
	}
	start, end := time.Time{}, time.Unix(1<<40, 0)
	if query.Has("start") {
		p, err := parsePeriod(query, maxListing)
		if err != nil {
			return nil, err
		}
		start, end = p.start, p.end
	}
	sf := &siteFootage{spec: spec}
	sf.answers = a.localAnswer(query["camera"], start, end, query.Get("segments") == "1")
	var unanswered []string
	peers := a.livePeers(&unanswered)
	var mu sync.Mutex
	silent := a.askPeers(ctx, "footage", peers, peerTimeout, func(ctx context.Context, name, addr string) error {
		got, err := a.fetchFootage(ctx, addr, name, query)
		if err != nil {
			return err
		}
		mu.Lock()
		sf.answers = append(sf.answers, got...)
		mu.Unlock()
		return nil
	})
	sf.silent = append(unanswered, silent...)
	return sf, nil
}

// fetchFootage asks one peer for its footage.
func (a *Agent) fetchFootage(ctx context.Context, addr, server string, query url.Values) ([]api.LocalRecordings, error) {
	out, err := a.peerClient(addr).LocalRecordings(ctx, query)
	if err != nil {
		return nil, err
	}
	for _, l := range out {
		for _, p := range l.Pieces {
			if l.Server != server || p.Server != server { // a server speaks for itself only
				return nil, fmt.Errorf("%s answered for server %q, not %s", addr, p.Server, server)
			}
		}
	}
	return out, nil
}

// mayHold reports whether a server may hold footage of camera since a
// time: it records the camera or backs it up in the spec, is a standby,
// or the site's statistics say it recorded the camera on or after that day.
func (a *Agent) mayHold(site *spec.Site, server, camera string, since time.Time) bool {
	if s := site.Server(server); s != nil && s.Kind == spec.KindStandby {
		return true
	}
	if c := site.Camera(camera); c != nil && (c.Server == server || slices.Contains(site.BackupServers(c), server)) {
		return true
	}
	for _, st := range a.cl.Stats(since.UTC().Format(time.DateOnly)) {
		if st.Server == server && st.Camera == camera && st.Bytes > 0 {
			return true
		}
	}
	return false
}

// missing lists, sorted, the silent servers that may hold footage of camera.
func (a *Agent) missing(sf *siteFootage, camera string, since time.Time) []string {
	var out []string
	for _, s := range sf.silent {
		if srv := sf.spec.Server(s); srv == nil || srv.Kind == spec.KindWitness {
			continue // records nothing
		}
		if camera == "" || a.mayHold(sf.spec, s, camera, since) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// siteLocation is the site's time zone (UTC when unset or unknown).
func siteLocation(spec *spec.Site) (*time.Location, string) {
	if spec != nil && spec.TimeZone != "" {
		if loc, err := time.LoadLocation(spec.TimeZone); err == nil {
			return loc, spec.TimeZone
		}
	}
	return time.UTC, "UTC"
}

// handleRecordings answers GET /v1/recordings?camera=&start=&end=: the
// camera's timeline across the site.
func (a *Agent) handleRecordings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	camera := q.Get("camera")
	if camera == "" {
		writeError(w, http.StatusBadRequest, api.Error{Error: "name the camera: /v1/recordings?camera=NAME&start=RFC3339&end=RFC3339"})
		return
	}
	p, err := parsePeriod(q, 24*time.Hour)
	if err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	rec, err := a.recordings(r.Context(), camera, p)
	if err != nil {
		writeError(w, footageErrCode(err), api.Error{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// errNoCamera is an unknown camera: not in the spec, no footage anywhere.
var errNoCamera = errors.New("no such camera")

func footageErrCode(err error) int {
	if errors.Is(err, errNoCamera) {
		return http.StatusNotFound
	}
	return http.StatusServiceUnavailable
}

// recordings gathers and merges a camera's timeline over a period.
func (a *Agent) recordings(ctx context.Context, camera string, p period) (*api.Recordings, error) {
	sf, pieces, err := a.footageOf(ctx, camera, p, false)
	if err != nil {
		return nil, err
	}
	// The causes: the servers' own (camera unreachable, storage, ...) and
	// the site's gap history.
	gaps := a.siteGaps(camera)
	for _, l := range sf.answers {
		gaps = append(gaps, l.Gaps...)
	}
	missing := a.missing(sf, camera, p.start)
	tl := footage.Merge(footage.Input{Start: p.start, End: p.end, Now: time.Now(), Pieces: pieces, Gaps: gaps, Missing: missing})
	_, tz := siteLocation(sf.spec)
	return &api.Recordings{
		Camera: camera, TimeZone: tz, Start: p.start, End: p.end,
		Complete: len(missing) == 0, MissingServers: missing,
		Spans: tl.Spans, Gaps: tl.Gaps, Holds: recordingHolds(sf.spec, camera, p.start, p.end, time.Now()),
	}, nil
}

// footageOf gathers a camera's pieces over a period from the whole site:
// the runs, or the segment files with segments.
func (a *Agent) footageOf(ctx context.Context, camera string, p period, segments bool) (*siteFootage, []api.Piece, error) {
	q := url.Values{"camera": {camera}, "start": {p.start.Format(time.RFC3339Nano)}, "end": {p.end.Format(time.RFC3339Nano)}}
	if segments {
		q.Set("segments", "1")
	}
	sf, err := a.gatherFootage(ctx, q)
	if err != nil {
		return nil, nil, err
	}
	var pieces []api.Piece
	known := sf.spec.Camera(camera) != nil
	for _, l := range sf.answers {
		pieces = append(pieces, l.Pieces...)
		known = known || len(l.Pieces) > 0 || len(l.Gaps) > 0
	}
	if !known {
		return nil, nil, fmt.Errorf("%w: the site has no camera %q and no recordings of one", errNoCamera, camera)
	}
	return sf, pieces, nil
}

// handleRecordingDays answers GET /v1/recordings/days[?camera=]: the days
// with footage of a camera, or of every camera of the site.
func (a *Agent) handleRecordingDays(w http.ResponseWriter, r *http.Request) {
	camera := r.URL.Query().Get("camera")
	q := url.Values{}
	if camera != "" {
		q.Set("camera", camera)
	}
	sf, err := a.gatherFootage(r.Context(), q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
		return
	}
	byCamera := map[string][]api.Piece{}
	for _, c := range sf.spec.Cameras {
		if camera == "" || c.Name == camera {
			byCamera[c.Name] = nil
		}
	}
	for _, l := range sf.answers {
		if len(l.Pieces) > 0 || len(l.Gaps) > 0 {
			byCamera[l.Camera] = append(byCamera[l.Camera], l.Pieces...)
		}
	}
	if _, ok := byCamera[camera]; camera != "" && !ok {
		writeError(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("the site has no camera %q and no recordings of one", camera)})
		return
	}
	loc, tz := siteLocation(sf.spec)
	missing := a.missing(sf, camera, time.Time{})
	out := api.RecordingDays{TimeZone: tz, Complete: len(missing) == 0, MissingServers: missing, Cameras: []api.CameraDays{}}
	for name, pieces := range byCamera {
		out.Cameras = append(out.Cameras, api.CameraDays{Camera: name, Days: footage.Days(pieces, loc)})
	}
	slices.SortFunc(out.Cameras, func(x, y api.CameraDays) int { return cmp.Compare(x.Camera, y.Camera) })
	writeJSON(w, http.StatusOK, out)
}
