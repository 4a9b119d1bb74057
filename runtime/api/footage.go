package api

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Recordings is the answer of GET /v1/recordings: one camera's timeline
// over a period, across every server of the site.
type Recordings struct {
	Camera string `json:"camera"`
	// TimeZone is the site's IANA time zone, for showing the times.
	TimeZone string    `json:"time_zone"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// Complete is false when a server that may hold footage of the camera
	// did not answer (MissingServers): its footage is then missing here.
	Complete       bool     `json:"complete"`
	MissingServers []string `json:"missing_servers,omitempty"`
	// Spans and Gaps tile the period up to End or now, whichever is first,
	// in time order.
	Spans []Span          `json:"spans"`
	Gaps  []TimelineGap   `json:"gaps"`
	Holds []RecordingHold `json:"holds"`
}

// Span is a contiguous run of a camera's recording on one or more servers;
// overlapping copies (constant redundancy, a partition, a make-before-break
// handover) are one span listing every server.
type Span struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Servers []string  `json:"servers"`
	// Bytes is the media inside the span on all its servers, prorated for
	// segments the period cuts.
	Bytes int64 `json:"bytes"`
}

// TimelineGap is a stretch of a period in which no server has media of the
// camera, with its cause.
type TimelineGap struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Cause GapCause  `json:"cause"`
}

// RecordingHold is an evidence hold that keeps part of the period.
type RecordingHold struct {
	Name   string    `json:"name"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Until  time.Time `json:"until,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// RecordingDays is the answer of GET /v1/recordings/days: the days with
// footage of one camera (or of every camera), in the site's time zone.
type RecordingDays struct {
	TimeZone       string       `json:"time_zone"`
	Complete       bool         `json:"complete"`
	MissingServers []string     `json:"missing_servers,omitempty"`
	Cameras        []CameraDays `json:"cameras"`
}

// CameraDays is one camera's days with footage, oldest first.
type CameraDays struct {
	Camera string         `json:"camera"`
	Days   []RecordingDay `json:"days"`
}

// RecordingDay is one day (in the site's time zone) with footage.
type RecordingDay struct {
	Date string `json:"date"` // 2006-01-02
	// RecordedSeconds is the time with media on at least one server;
	// Coverage is that share of the day (0..1).
	RecordedSeconds float64  `json:"recorded_seconds"`
	Coverage        float64  `json:"coverage"`
	Servers         []string `json:"servers"`
}

// LocalRecordings is one server's own footage of one camera: the answer of
// GET /v1/recordings/local, which agents ask each other.
type LocalRecordings struct {
	Server string `json:"server"`
	Camera string `json:"camera"`
	// Pieces are the segments (with ?segments=1) or the contiguous runs of
	// segments, oldest first.
	Pieces []Piece `json:"pieces"`
	// Gaps are the gaps this server's recorder stored for the camera.
	Gaps []Gap `json:"gaps,omitempty"`
}

// Piece is a stretch of one server's media of a camera: a segment file, or
// a run of contiguous segments.
type Piece struct {
	Server string    `json:"server"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Bytes  int64     `json:"bytes"`
	// Path names a segment file relative to its volume ("cam/2006-01-02/
	// 15-04-05.000000.mp4"), for playback; empty for a run.
	Path string `json:"path,omitempty"`
	// Open is set on the segment still being written: End is its last
	// written part.
	Open   bool   `json:"open,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Recordings asks for a camera's timeline across the site over [start, end).
func (c *Client) Recordings(ctx context.Context, camera string, start, end time.Time) (*Recordings, error) {
	q := url.Values{"camera": {camera}, "start": {start.Format(time.RFC3339Nano)}, "end": {end.Format(time.RFC3339Nano)}}
	var out Recordings
	if err := c.do(ctx, http.MethodGet, "/v1/recordings?"+q.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RecordingDays asks for the days with footage of a camera, or of every
// camera when camera is empty.
func (c *Client) RecordingDays(ctx context.Context, camera string) (*RecordingDays, error) {
	path := "/v1/recordings/days"
	if camera != "" {
		path += "?" + url.Values{"camera": {camera}}.Encode()
	}
	var out RecordingDays
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SegmentLayout is the box layout of one segment file, for playback and
// export: the answer of POST /v1/playback/local/layouts.
type SegmentLayout struct {
	Server string `json:"server"`
	Path   string `json:"path"`
	// Error is set when the file cannot be read (deleted by retention
	// since it was listed): it is then a gap.
	Error     string           `json:"error,omitempty"`
	InitSize  int64            `json:"init_size"`
	Tracks    []LayoutTrack    `json:"tracks"`
	Fragments []LayoutFragment `json:"fragments"`
}

// LayoutTrack is one track of a segment file.
type LayoutTrack struct {
	ID        int    `json:"id"`
	TimeScale uint32 `json:"time_scale"`
	Codec     string `json:"codec"`
}

// LayoutFragment is one part (moof and mdat) of a segment file. Start and
// Duration are of its first track (video), from the file's start; Key is
// set when its first video sample is a random access point.
type LayoutFragment struct {
	Offset   int64         `json:"offset"`
	Size     int64         `json:"size"`
	Start    time.Duration `json:"start"`
	Duration time.Duration `json:"duration"`
	Key      bool          `json:"key"`
	// Runs are the samples of each track, with ?samples=1 (export).
	Runs []LayoutRun `json:"runs,omitempty"`
}

// LayoutRun is what a fragment holds of one track.
type LayoutRun struct {
	ID int `json:"id"`
	// Times are decoding times from the file start, in the track's time
	// scale; End follows the last sample.
	Times   []uint64 `json:"times"`
	End     uint64   `json:"end"`
	Sizes   []uint32 `json:"sizes"`
	NonSync []bool   `json:"non_sync"`
	Offsets []int32  `json:"offsets"`
	// DataOffset is where the first sample's data is, from the fragment's
	// start.
	DataOffset int64 `json:"data_offset"`
}

// ManifestTrailer is the HTTP trailer of GET /v1/export/CAMERA.mp4 that
// carries the export's signed manifest (base64 of its JSON): it can only
// be made once the MP4's last byte is hashed.
const ManifestTrailer = "X-Vigil-Manifest"

// Export streams the progressive MP4 of a camera's period to w and returns
// its signed manifest (JSON). by names who exports (the agent records it
// with the token and the address). An export cut short returns an error:
// what w got is then not the whole file.
func (c *Client) Export(ctx context.Context, camera string, start, end time.Time, by string, w io.Writer) ([]byte, error) {
	q := url.Values{"start": {start.Format(time.RFC3339Nano)}, "end": {end.Format(time.RFC3339Nano)}, "by": {by}}
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/export/"+url.PathEscape(camera)+".mp4?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	h := c.exportHTTP()
	resp, err := h.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	defer resp.Body.Close()
	if h != c.http {
		defer h.CloseIdleConnections()
	}
	if resp.StatusCode != http.StatusOK {
		return nil, decodeError(resp)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return nil, fmt.Errorf("export cut short: %w", err)
	}
	m := resp.Trailer.Get(ManifestTrailer)
	if m == "" {
		return nil, errors.New("the export failed on the agent before its end (no signed manifest); see its events")
	}
	b, err := base64.StdEncoding.DecodeString(m)
	if err != nil {
		return nil, fmt.Errorf("the export's manifest is not base64: %w", err)
	}
	return b, nil
}

// maxManifest bounds the export's manifest trailer that Export reads: a
// day of 10-second segments with their gaps, base64, fits.
const maxManifest = 16 << 20

// exportHTTP returns c's HTTP client with a read buffer that holds the
// manifest trailer: Go's client refuses a trailer longer than its read
// buffer (4 KiB by default: "suspiciously long trailer"), and a manifest
// names every source segment, so an export of more than a few minutes
// would fail. A transport that is not an *http.Transport is used as is.
func (c *Client) exportHTTP() *http.Client {
	rt := c.http.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok {
		return c.http
	}
	t = t.Clone()
	t.ReadBufferSize = maxManifest
	h := *c.http
	h.Transport = t
	return &h
}

// LocalRecordings asks an agent for its own footage (query as for
// GET /v1/recordings/local): what agents ask each other.
func (c *Client) LocalRecordings(ctx context.Context, query url.Values) ([]LocalRecordings, error) {
	var out []LocalRecordings
	if err := c.do(ctx, http.MethodGet, "/v1/recordings/local?"+query.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// LayoutsRequest is the body of POST /v1/playback/local/layouts.
type LayoutsRequest struct {
	Paths []string `json:"paths"`
}

// SegmentLayouts asks an agent for the layouts of its segment files (with
// every sample when samples is set).
func (c *Client) SegmentLayouts(ctx context.Context, paths []string, samples bool) ([]SegmentLayout, error) {
	path := "/v1/playback/local/layouts"
	if samples {
		path += "?samples=1"
	}
	var out []SegmentLayout
	if err := c.do(ctx, http.MethodPost, path, LayoutsRequest{Paths: paths}, &out); err != nil {
		return nil, err
	}
	return out, nil
}
