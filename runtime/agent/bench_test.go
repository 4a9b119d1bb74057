package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// benchCameras is the size of the benchmarked site.
const benchCameras = 2500

// BenchmarkState measures GET /v1/state (the handler, encoding included)
// of one agent of a three-server site of 2,500 cameras, once the site has
// settled, and reports what the site costs at rest.
//
//   - quiet: cameras that accept the connection and never answer (the
//     recorders wait for stall_timeout), as in dev/devsite's benchmark.
//     idle-cores is the CPU the three agents use at rest, over 10 s.
//   - failing: cameras at a closed port, so that every session fails and
//     retries; master-changes counts the master changes the answering agent
//     saw while measuring, max-ms the slowest answer.
func BenchmarkState(b *testing.B) {
	b.Run("quiet", func(b *testing.B) {
		hang, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer hang.Close()
		go func() {
			for {
				c, err := hang.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					io.Copy(io.Discard, c)
				}()
			}
		}()
		s := benchSite(b, hang.Addr().String(), 10*time.Minute)
		cpu0, t0 := cpuTime(), time.Now()
		time.Sleep(10 * time.Second)
		idle := (cpuTime() - cpu0).Seconds() / time.Since(t0).Seconds()
		measureState(b, s)
		b.ReportMetric(idle, "idle-cores")
	})
	b.Run("failing", func(b *testing.B) {
		// A port that was free a moment ago: connections are refused.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		closed := ln.Addr().String()
		ln.Close()
		s := benchSite(b, closed, 3*time.Second)
		measureState(b, s)
	})
}

// benchSite starts three agents and commits 2,500 cameras at addr, spread
// over the servers, and waits until the first agent lists them all with a
// recorder.
func benchSite(b *testing.B, addr string, stall time.Duration) *devsite.Site {
	b.Helper()
	s, err := devsite.New(devsite.Options{Servers: []string{"rec-1", "rec-2", "rec-3"}, Keepalive: time.Second, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	var cams []*spec.Camera
	for i := 1; i <= benchCameras; i++ {
		cams = append(cams, &spec.Camera{
			Name:            "cam" + strconv.Itoa(i),
			URL:             fmt.Sprintf("rtsp://%s/cam%d", addr, i),
			Server:          s.Names()[i%3],
			Redundancy:      spec.RedundancyNormal,
			Transport:       "tcp",
			SegmentDuration: 10 * time.Second,
			StallTimeout:    stall,
			Password:        "secret",
			Username:        "admin",
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := s.Commit(ctx, s.Spec(cams...)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool {
		if len(st.Cameras) != benchCameras {
			return false
		}
		for _, c := range st.Cameras {
			if len(c.Recorders) == 0 {
				return false
			}
		}
		return true
	}); err != nil {
		b.Fatal(err)
	}
	return s
}

// measureState times GET /v1/state on rec-1, reading the whole body.
func measureState(b *testing.B, s *devsite.Site) {
	url := s.Server("rec-1").Addr() + "/v1/state"
	hc := s.HTTPClient()
	var slowest time.Duration
	masters, last := 0, ""
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+s.Token)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		slowest = max(slowest, time.Since(t0))
		// The master is near the start of the answer: no need to decode.
		master := ""
		if _, rest, ok := bytes.Cut(body, []byte(`"master":"`)); ok {
			master, _, _ = strings.Cut(string(rest[:min(len(rest), 100)]), `"`)
		}
		if master != last {
			if last != "" {
				masters++
			}
			last = master
		}
	}
	b.ReportMetric(float64(slowest.Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(masters), "master-changes")
}

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
