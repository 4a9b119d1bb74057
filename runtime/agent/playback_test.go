package agent_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/api"
	"vigil/runtime/evidence"
)

// gop is camsim's "small" profile's key frame interval.
const gop = time.Second

// ffprobeDuration decodes a whole file with ffprobe (any error fails the
// test) and returns its duration.
func ffprobeDuration(t *testing.T, path string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v: %s", path, err, out)
	}
	if dec, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(bytes.TrimSpace(dec)) > 0 {
		t.Errorf("decoding %s: %v: %s", path, err, dec)
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe duration of %s: %q", path, out)
	}
	return time.Duration(secs * float64(time.Second))
}

// get answers a GET of u on a server of s with token (none when ""): its
// status and body.
func get(t *testing.T, s *devsite.Site, token, u string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// bearer is ffmpeg's -headers for an API token (the HLS demuxer sends them
// with the playlist's and the segments' requests too).
func bearer(token string) string { return "Authorization: Bearer " + token + "\r\n" }

// needFFmpeg skips a test where ffmpeg or ffprobe is missing.
func needFFmpeg(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// listedLength is the time from a listing's first recording to its last,
// gaps included: what a stream of the period plays.
func listedLength(r *api.Recordings) time.Duration {
	return r.Spans[len(r.Spans)-1].End.Sub(r.Spans[0].Start)
}

func TestPlaybackAndExportAcrossFailover(t *testing.T) {
	needFFmpeg(t)
	s, killed, _ := failoverSite(t)
	back := time.Now()
	start := killed.Add(-3 * time.Second)
	r := waitListing(t, s, "rec-2", start, func(r *api.Recordings) bool {
		n := len(r.Spans)
		return n > 0 && r.Complete && r.Spans[n-1].End.After(back.Add(3*time.Second))
	})
	end := r.End.Add(-time.Second)
	r, err := s.Client("rec-2").Recordings(ctxFor(t, 10*time.Second), "cam1", start, end)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	q := url.Values{"start": {start.Format(time.RFC3339Nano)}, "end": {end.Format(time.RFC3339Nano)}}

	// HLS through rec-2, whose playlist holds rec-1's files too.
	playlist := s.Server("rec-2").Addr() + "/v1/playback/cam1/index.m3u8?" + q.Encode()
	code, m3u8 := get(t, s, s.Token, playlist)
	if code != http.StatusOK || !strings.Contains(string(m3u8), "#EXT-X-ENDLIST") ||
		!strings.Contains(string(m3u8), "#EXT-X-DISCONTINUITY") || !strings.Contains(string(m3u8), "/media/rec-1/") ||
		!strings.Contains(string(m3u8), "/media/rec-2/") || !strings.Contains(string(m3u8), "#EXT-X-PROGRAM-DATE-TIME:") {
		t.Fatalf("playlist (%d):\n%s", code, m3u8)
	}
	hls := filepath.Join(dir, "hls.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-headers", bearer(s.Token), "-i", playlist, "-c", "copy", hls).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg -i index.m3u8 -c copy: %v: %s", err, out)
	}
	want := listedLength(r)
	if d := ffprobeDuration(t, hls); (d - want).Abs() > gop+100*time.Millisecond {
		t.Errorf("HLS copy lasts %v; the listing from its first recording to its last %v", d, want)
	}

	// The .mp4 stream of the same period, and a byte range of it.
	stream := s.Server("rec-2").Addr() + "/v1/playback/cam1.mp4?" + url.Values{"start": {start.Format(time.RFC3339Nano)}, "duration": {end.Sub(start).String()}}.Encode()
	code, whole := get(t, s, s.Token, stream)
	if code != http.StatusOK || len(whole) < 1000 {
		t.Fatalf("stream: %d, %d bytes", code, len(whole))
	}
	mp4 := filepath.Join(dir, "stream.mp4")
	if err := writeFile(mp4, whole); err != nil {
		t.Fatal(err)
	}
	if d := ffprobeDuration(t, mp4); (d - want).Abs() > gop+100*time.Millisecond {
		t.Errorf("the .mp4 stream lasts %v; the listing %v", d, want)
	}
	req, _ := http.NewRequest(http.MethodGet, stream, nil)
	from, to := len(whole)/2, len(whole)/2+99999
	req.Header.Set("Range", "bytes="+strconv.Itoa(from)+"-"+strconv.Itoa(to))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, whole[from:to+1]) {
		t.Errorf("range %d-%d: %d, %d bytes, equal %v", from, to, resp.StatusCode, len(part), bytes.Equal(part, whole[from:min(to+1, len(whole))]))
	}

	// The signed export of the same period: a progressive MP4 that
	// decodes, as long as the listing, its manifest naming both servers'
	// segments and the takeover gap; a byte changed fails verification.
	exported := filepath.Join(dir, "export.mp4")
	f, err := os.Create(exported)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Client("rec-2").Export(ctxFor(t, time.Minute), "cam1", start, end, "tester", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var m evidence.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if err := evidence.WriteFile(exported, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.VerifyFile(exported); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if d := ffprobeDuration(t, exported); (d - want).Abs() > gop+100*time.Millisecond {
		t.Errorf("the export lasts %v; the listing %v", d, want)
	}
	if head, _ := os.ReadFile(exported); bytes.Index(head, []byte("moov")) > bytes.Index(head, []byte("mdat")) {
		t.Error("the export's moov is not before its mdat")
	}
	servers := map[string]bool{}
	for _, src := range m.Sources {
		servers[src.Server] = true
		if src.SHA256 == "" && src.End.Before(back) {
			t.Errorf("source %s on %s has no SHA-256", src.Path, src.Server)
		}
	}
	if !servers["rec-1"] || !servers["rec-2"] || len(m.Gaps) != 1 || m.Gaps[0].Cause != string(api.CauseServerFailure) ||
		m.ActualStart.After(start) || start.Sub(m.ActualStart) > gop || !strings.HasPrefix(m.ExportedBy, "tester ") {
		t.Errorf("manifest: sources on %v, gaps %+v, actual start %s for %s, by %q", servers, m.Gaps, m.ActualStart, start, m.ExportedBy)
	}
	b, _ := os.ReadFile(exported)
	b[len(b)/2] ^= 1
	os.WriteFile(exported, b, 0o644)
	if _, err := evidence.VerifyFile(exported); err == nil {
		t.Error("a changed byte passes verification")
	}

	// Up to now: an EVENT playlist that plays the segment being written.
	_, live := get(t, s, s.Token, s.Server("rec-1").Addr()+"/v1/playback/cam1/index.m3u8?"+url.Values{"start": {time.Now().Add(-5 * time.Second).Format(time.RFC3339Nano)}}.Encode())
	if !strings.Contains(string(live), "#EXT-X-PLAYLIST-TYPE:EVENT") || strings.Contains(string(live), "#EXT-X-ENDLIST") {
		t.Errorf("playlist up to now:\n%s", live)
	}
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }

// A segment deleted (by retention, or by hand) after the listing is a gap
// in playback, not an error.
func TestPlaybackOfADeletedSegment(t *testing.T) {
	needFFmpeg(t)
	s := newSite(t, []string{"rec-1"}, 1)
	if _, err := s.Commit(ctxFor(t, 20*time.Second), s.Spec(s.CameraSpec(1, "rec-1"))); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitListing(t, s, "rec-1", start.Add(-time.Minute), func(r *api.Recordings) bool {
		return len(r.Spans) == 1 && r.Spans[0].End.Sub(r.Spans[0].Start) > 7*time.Second
	})
	files := recorded(t, s, "cam1", "rec-1")
	if len(files) < 4 {
		t.Fatalf("%d segment files", len(files))
	}
	victim, _ := filepath.Glob(filepath.Join(s.DataDir("rec-1"), "recordings", "cam1", "*", files[1].start.UTC().Format("15-04-05.000000")+".mp4"))
	if len(victim) != 1 {
		t.Fatalf("segment file of %s: %v", files[1].start, victim)
	}
	if err := os.Remove(victim[0]); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"start": {files[0].start.Format(time.RFC3339Nano)}, "end": {files[3].end.Format(time.RFC3339Nano)}}
	playlist := s.Server("rec-1").Addr() + "/v1/playback/cam1/index.m3u8?" + q.Encode()
	code, m3u8 := get(t, s, s.Token, playlist)
	if code != http.StatusOK || strings.Count(string(m3u8), "#EXT-X-DISCONTINUITY") != 1 {
		t.Fatalf("playlist without the deleted segment (%d):\n%s", code, m3u8)
	}
	out := filepath.Join(t.TempDir(), "hls.mp4")
	if b, err := exec.Command("ffmpeg", "-v", "error", "-headers", bearer(s.Token), "-i", playlist, "-c", "copy", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	// The file lasts from the first segment to the end of the fourth: the
	// hole is a jump of the clock.
	if d, want := ffprobeDuration(t, out), files[3].end.Sub(files[0].start); (d - want).Abs() > gop {
		t.Errorf("lasts %v, want %v", d, want)
	}
}
