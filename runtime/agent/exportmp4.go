package agent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/evidence"
	"vigil/runtime/playback"

	"vigil/hcl/spec"
)

// readRange reads size bytes at off of a segment file as recorded, from
// this server's disk or from the server holding it.
func (a *Agent) readRange(ctx context.Context, server, path string, off, size int64) ([]byte, error) {
	rc, err := a.openChunk(ctx, playback.Chunk{Server: server, Path: path, Offset: off, Size: size}, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := make([]byte, size)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("reading %s on %s: %w", path, server, err)
	}
	return buf, nil
}

// handleExport answers GET /v1/export/{file}, where file is CAMERA.mp4,
// ?start=&end=[&by=NAME] (token): the progressive MP4 of the period across
// the site, starting at the key frame at or before start, and in the
// trailer api.ManifestTrailer its manifest signed with the site's export key.
// An export that fails half way ends without the trailer.
func (a *Agent) handleExport(w http.ResponseWriter, r *http.Request) {
	camera, ok := strings.CutSuffix(r.PathValue("file"), ".mp4")
	if !ok {
		writeError(w, http.StatusNotFound, api.Error{Error: "export /v1/export/CAMERA.mp4?start=&end="})
		return
	}
	p, err := parsePlayPeriod(r.URL.Query(), "end")
	if err != nil {
		writeError(w, http.StatusBadRequest, api.Error{Error: err.Error()})
		return
	}
	key, err := a.exportKey()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, api.Error{Error: err.Error()})
		return
	}
	ctx := r.Context()
	all, _, err := a.playItems(ctx, camera, p, true)
	if err != nil {
		writeError(w, footageErrCode(err), api.Error{Error: err.Error()})
		return
	}
	items, _ := playback.Uniform(all)
	if len(items) == 0 {
		writeError(w, http.StatusNotFound, api.Error{Error: fmt.Sprintf("camera %s has no footage from %s to %s", camera, p.start.Format(time.RFC3339), p.end.Format(time.RFC3339))})
		return
	}
	first := items[0].File
	init, err := a.readRange(ctx, first.Piece.Server, first.Piece.Path, 0, first.Layout.InitSize)
	if err != nil {
		writeError(w, http.StatusBadGateway, api.Error{Error: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Trailer", api.ManifestTrailer)
	// The export is audited once its bytes flow, with its outcome.
	outcome := "not signed"
	defer func() {
		detail := outcome
		if by := clientName(r); by != "" {
			detail += "; named by the client: " + by
		}
		a.auditRequest(r, api.AuditEntry{Kind: api.AuditExport, Camera: camera, Start: p.start.UTC(), End: p.end.UTC(), Detail: detail})
	}()
	h := sha256.New()
	err = playback.Export(io.MultiWriter(w, h), items, init, func(server, path string, off, size int64) ([]byte, error) {
		return a.readRange(ctx, server, path, off, size)
	})
	if err != nil {
		a.log.Warn("export failed", "camera", camera, "err", err)
		a.emit(api.Event{Severity: spec.SeverityWarning, Kind: spec.EventFootageExportFailed, Camera: camera, Message: fmt.Sprintf("export of %s from %s to %s failed: %v", camera, p.start.Format(time.RFC3339), p.end.Format(time.RFC3339), err)})
		outcome = "failed: " + err.Error()
		return
	}
	actual := period{start: items[0].Start(), end: items[len(items)-1].End()}
	m := &evidence.Manifest{
		FormatVersion: evidence.FormatVersion, Site: a.cfg.Site, Camera: camera,
		RequestedStart: p.start.UTC(), RequestedEnd: p.end.UTC(), ActualStart: actual.start.UTC(), ActualEnd: actual.end.UTC(),
		ExportedBy: exporter(r, a.cfg.Server), ExportedAt: time.Now().UTC(), MP4SHA256: hex.EncodeToString(h.Sum(nil)),
	}
	for _, it := range items {
		pc := it.File.Piece
		if n := len(m.Sources); n > 0 && m.Sources[n-1].Path == pc.Path && m.Sources[n-1].Server == pc.Server {
			continue
		}
		m.Sources = append(m.Sources, evidence.Source{Server: pc.Server, Path: pc.Path, Start: pc.Start.UTC(), End: pc.End.UTC(), Bytes: pc.Bytes, SHA256: pc.SHA256})
	}
	if rec, err := a.recordings(ctx, camera, actual); err == nil {
		for _, g := range append(rec.Gaps, playback.Holes(items)...) {
			m.Gaps = append(m.Gaps, evidence.Gap{Start: g.Start.UTC(), End: g.End.UTC(), Cause: string(g.Cause)})
		}
		slices.SortFunc(m.Gaps, func(a, b evidence.Gap) int { return a.Start.Compare(b.Start) })
	} else {
		// The gaps of the period are part of the evidence: without them,
		// no signature.
		a.log.Warn("export without its gaps: not signed", "camera", camera, "err", err)
		return
	}
	if err := evidence.Sign(m, key); err != nil {
		a.log.Error("cannot sign an export", "err", err)
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	w.Header().Set(api.ManifestTrailer, base64.StdEncoding.EncodeToString(b))
	outcome = fmt.Sprintf("signed, MP4 sha256:%s", m.MP4SHA256)
	a.emit(api.Event{Severity: spec.SeverityInfo, Kind: spec.EventFootageExported, Camera: camera, Message: fmt.Sprintf("%s exported %s from %s to %s (%d sources, %d gaps)",
		m.ExportedBy, camera, m.ActualStart.Format(time.RFC3339), m.ActualEnd.Format(time.RFC3339), len(m.Sources), len(m.Gaps))})
}

// exporter names who asked for an export: the name the client gave (its
// user, unverified), the token, where from and through which server.
func exporter(r *http.Request, server string) string {
	host := remoteIP(r)
	by := clientName(r)
	if by == "" {
		by = "unnamed"
	}
	return fmt.Sprintf("%s (API token, from %s through %s)", by, host, server)
}

// clientName is the name an export's client gives as ?by= (unverified),
// at most 100 bytes.
func clientName(r *http.Request) string {
	by := strings.TrimSpace(r.URL.Query().Get("by"))
	if len(by) > 100 {
		by = by[:100]
	}
	return by
}
