package console_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"vigil/dev/camsim"
	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/console"
	"vigil/runtime/storage"
)

// recordingSite starts one server recording n simulated 1080p cameras
// (about 3 Mbit/s each) and returns it once every camera records.
func recordingSite(b *testing.B, n int) *devsite.Site {
	b.Helper()
	site, err := devsite.New(devsite.Options{Servers: []string{"srv-1"}, Cameras: n, Dir: b.TempDir(), Camsim: camsim.Options{Profile: "1080p"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(site.Close)
	if err := site.Start(); err != nil {
		b.Fatal(err)
	}
	var cams []*spec.Camera
	want := map[string][]string{}
	for i := 1; i <= n; i++ {
		cams = append(cams, site.CameraSpec(i, "srv-1"))
		want["cam"+strconv.Itoa(i)] = []string{"srv-1"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := site.Commit(ctx, site.Spec(cams...)); err != nil {
		b.Fatal(err)
	}
	if _, err := site.Wait(ctx, "srv-1", func(st *api.State) bool { return devsite.RecordedBy(st, want) }); err != nil {
		b.Fatal(err)
	}
	return site
}

// cpuOver is the process's CPU use over d, in % of one core.
func cpuOver(d time.Duration) float64 {
	usage := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	u0, t0 := usage(), time.Now()
	time.Sleep(d)
	return float64(usage()-u0) / float64(time.Since(t0)) * 100
}

// viewer reads a live stream as a page would and notes, for every frame,
// how long after the recorder's time of the frame it arrived.
type viewer struct {
	conn    *websocket.Conn
	mu      sync.Mutex
	frames  int
	latency []time.Duration
}

func watch(b *testing.B, site *devsite.Site, addr, camera string) *viewer {
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: site.CA.Pool()}}
	conn, _, err := d.Dial("wss://"+addr+"/v1/live/"+camera, http.Header{"Authorization": {"Bearer " + site.Token}})
	if err != nil {
		b.Fatal(err)
	}
	v := &viewer{conn: conn}
	go func() {
		var epoch time.Time
		for {
			kind, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now()
			if kind == websocket.TextMessage {
				var h console.Hello
				json.Unmarshal(msg, &h)
				epoch = time.UnixMilli(h.EpochMS)
				continue
			}
			if len(msg) < 8 || string(msg[4:8]) != "moof" {
				continue // the init section
			}
			runs, err := storage.ParseMoof(msg[8:])
			if err != nil || len(runs) == 0 || len(runs[0].Times) == 0 {
				continue
			}
			wall := epoch.Add(time.Duration(runs[0].Times[0]) * time.Second / 90000)
			v.mu.Lock()
			v.frames++
			v.latency = append(v.latency, now.Sub(wall))
			v.mu.Unlock()
		}
	}()
	return v
}

func (v *viewer) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.frames
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

// BenchmarkLiveGrid measures what a 16-tile grid of 1080p cameras costs the
// agent: its CPU while 16 live views are served, less its CPU while it only
// records (the simulator runs in the same process and costs the same in
// both), and how long after the recorder's time of a frame the viewer has
// it (the browser's part: BenchmarkLiveBrowserLatency).
//
//	go test -run '^$' -bench LiveGrid -benchtime 1x ./runtime/console
func BenchmarkLiveGrid(b *testing.B) {
	const tiles = 16
	site := recordingSite(b, tiles)
	addr := site.Server("srv-1").Addr()[len("https://"):]
	const window = 10 * time.Second
	for b.Loop() {
		recording := cpuOver(window)
		var vs []*viewer
		for i := 1; i <= tiles; i++ {
			vs = append(vs, watch(b, site, addr, "cam"+strconv.Itoa(i)))
		}
		deadline := time.Now().Add(30 * time.Second)
		for _, v := range vs {
			for v.count() == 0 {
				if time.Now().After(deadline) {
					b.Fatal("a live view delivered no frame in 30 s")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		watching := cpuOver(window)
		var lat []time.Duration
		frames := 0
		for _, v := range vs {
			v.conn.Close()
			v.mu.Lock()
			lat = append(lat, v.latency...)
			frames += v.frames
			v.mu.Unlock()
		}
		b.ReportMetric(recording, "%core-recording")
		b.ReportMetric(watching-recording, "%core-16-views")
		b.ReportMetric(float64(percentile(lat, 0.5))/1e6, "ms-p50-to-viewer")
		b.ReportMetric(float64(percentile(lat, 0.95))/1e6, "ms-p95-to-viewer")
		b.ReportMetric(float64(frames), "frames")
	}
}

// BenchmarkLiveBrowserLatency measures, in headless chromium, how far
// behind the recorder's clock one 1080p live tile shows its picture
// (Date.now() against the wall-clock time of the frame at the video's
// currentTime), sampled every 250 ms for 10 s.
//
//	go test -run '^$' -bench LiveBrowserLatency -benchtime 1x ./runtime/console
func BenchmarkLiveBrowserLatency(b *testing.B) {
	site := recordingSite(b, 1)
	ctx := browser(b, site)
	for b.Loop() {
		if err := chromedp.Do(ctx, chromedp.Navigate(site.Server("srv-1").Addr()+"/#/camera/cam1")); err != nil {
			b.Fatal(err)
		}
		tokenLogin(b, ctx, site.Token)
		until(b, ctx, "cam1 playing", `document.querySelector('.tile[data-camera="cam1"]')?.dataset.latency > 0`, 30*time.Second)
		var lat []time.Duration
		for range 40 {
			time.Sleep(250 * time.Millisecond)
			s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.tile[data-camera="cam1"]').dataset.latency`))
			if err != nil {
				b.Fatal(err)
			}
			if ms, err := strconv.Atoi(s); err == nil {
				lat = append(lat, time.Duration(ms)*time.Millisecond)
			}
		}
		if len(lat) == 0 {
			b.Fatal("no latency sample")
		}
		b.ReportMetric(float64(percentile(lat, 0.5))/1e6, "ms-p50-behind")
		b.ReportMetric(float64(percentile(lat, 0.95))/1e6, "ms-p95-behind")
		b.Logf("%d samples", len(lat))
	}
}
