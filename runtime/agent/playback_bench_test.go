package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/dev/devsite"
	"vigil/runtime/api"
	"vigil/runtime/storage"
)

// BenchmarkHLS16 is playback of 16 cameras at once: one agent holding a
// minute of each of 16 cameras of 3 Mbit/s (camsim's 1080p clip, written
// beforehand) serves each to its own HLS client, which fetches the
// playlist and every part as fast as it can. core-per-client is the CPU
// (server and clients, one process) spent per second of media and per
// client: the share of a core one client playing in real time costs.
func BenchmarkHLS16(b *testing.B) {
	const cameras, minute = 16, time.Minute
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1"}, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	clip, err := camsim.LoadClip("h264", "1080p")
	if err != nil {
		b.Fatal(err)
	}
	store, err := storage.Open([]storage.Volume{{Path: filepath.Join(s.DataDir("rec-1"), "recordings")}}, nil, storage.WithRetentionInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range cameras {
		if err := camsim.WriteFootage(store, clip, fmt.Sprintf("cam%d", i+1), "rec-1", start, minute, 20*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	store.Close()
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rev, err := s.Commit(ctx, s.Spec())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return st.Revision >= rev }); err != nil {
		b.Fatal(err)
	}
	base := s.Server("rec-1").Addr()
	players := playersOf(s)
	q := url.Values{"start": {start.Format(time.RFC3339Nano)}, "end": {start.Add(minute).Format(time.RFC3339Nano)}}.Encode()
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		var wg sync.WaitGroup
		errs := make(chan error, cameras)
		for i := range cameras {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- playAll(players, base, s.Token, fmt.Sprintf("%s/v1/playback/cam%d/index.m3u8?%s", base, i+1, q))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	cpu := cpuTime() - cpu0
	b.ReportMetric(cpu.Seconds()/float64(b.N)/(cameras*minute.Seconds()), "core-per-client")
}

// playersOf is the HTTP client of the benchmark's players: one kept-alive
// connection each, as an HLS player holds (the agent bounds connections
// per source address).
func playersOf(s *devsite.Site) *http.Client {
	hc := s.HTTPClient()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	return hc
}

// playAll fetches an HLS playlist and every byte range it lists, as a
// player would (without pacing), with an API token.
func playAll(players *http.Client, base, token, playlist string) error {
	req, _ := http.NewRequest(http.MethodGet, playlist, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := players.Do(req)
	if err != nil {
		return err
	}
	m3u8, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("playlist: %s %v", resp.Status, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(m3u8))
	var rng string
	parts := 0
	for sc.Scan() {
		line := sc.Text()
		if r, ok := strings.CutPrefix(line, "#EXT-X-BYTERANGE:"); ok {
			rng = r
			continue
		}
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		n, off, _ := strings.Cut(rng, "@")
		size, _ := strconv.ParseInt(n, 10, 64)
		from, _ := strconv.ParseInt(off, 10, 64)
		req, _ := http.NewRequest(http.MethodGet, base+line, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, from+size-1))
		r, err := players.Do(req)
		if err != nil {
			return err
		}
		got, _ := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusPartialContent || got != size {
			return fmt.Errorf("%s bytes %s: %s, %d bytes", line, rng, r.Status, got)
		}
		parts++
	}
	if parts == 0 {
		return fmt.Errorf("no part in %s", playlist)
	}
	return nil
}
