package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// An hour's export names sixty source segments: its manifest trailer is far
// longer than Go's default 4 KiB read buffer, which refuses it.
func TestExportReadsALongManifestTrailer(t *testing.T) {
	manifest := bytes.Repeat([]byte(`{"server":"rec-1","path":"2026-12-04/10-00-00.000000.mp4"}`), 4000) // ~240 KB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", ManifestTrailer)
		w.Write([]byte("the mp4"))
		w.(http.Flusher).Flush()
		w.Header().Set(ManifestTrailer, base64.StdEncoding.EncodeToString(manifest))
	}))
	defer srv.Close()
	var mp4 bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := NewClient(srv.URL, "").Export(ctx, "cam1", time.Unix(0, 0), time.Unix(3600, 0), "test", &mp4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, manifest) || mp4.String() != "the mp4" {
		t.Errorf("got a manifest of %d bytes and %q, want %d bytes and the mp4", len(got), mp4.String(), len(manifest))
	}
}
