package console_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"vigil/dev/camsim"
	"vigil/dev/devsite"
	"vigil/runtime/api"
	"vigil/runtime/evidence"
)

// browser starts Debian's chromium, headless, for the test; it skips the
// test when chromium is missing. It trusts the site's CA: chromium accepts
// a chain that holds a certificate of a public key on its allow-list, and
// the agents serve the CA with their certificates.
func browser(t testing.TB, site *devsite.Site) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.WindowSize(1100, 620),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(site.CA.Cert)),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// spkiHash is a certificate's public key as chromium's allow-list names it.
func spkiHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// screenshot saves the page as NAME.png in VIGIL_SCREENSHOTS (default: a
// vigil-console directory in the temporary directory) and logs where.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("VIGIL_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "vigil-console")
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// until polls a JavaScript condition in the page until it is true.
func until(t testing.TB, ctx context.Context, what, expr string, d time.Duration) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText + '\n' + [...document.querySelectorAll('.timeline .track > div')].map(e => e.className + ' ' + e.title).join('\n')`))
		t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, text)
	}
}

// tokenLogin logs the page in with an API token through the login form,
// which every page without a session shows.
func tokenLogin(t testing.TB, ctx context.Context, token string) {
	t.Helper()
	until(t, ctx, "the login form", `!document.getElementById('login').hidden`, 20*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#login input[name=token]`), token),
		chromedp.Click(chromedp.CSS(`#login button`)),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the console logged in", `!document.body.classList.contains('logged-out') && !document.getElementById('user').hidden`, 20*time.Second)
}

// tileJS is a tile's element in the page.
func tileJS(camera string) string {
	return fmt.Sprintf(`document.querySelector('.tile[data-camera=%q]')`, camera)
}

// plays holds when a tile's video is playing (see advances).
func plays(t *testing.T, ctx context.Context, camera string, d time.Duration) {
	t.Helper()
	tile := tileJS(camera)
	until(t, ctx, camera+" playing", fmt.Sprintf(`(() => { const t = %s; return !!t && t.dataset.state === 'playing'; })()`, tile), d)
	advances(t, ctx, camera, tile+`.querySelector('video')`, d)
}

// advances holds when a video's time advances by a second and a sampled
// frame is not blank (camsim's picture has light and dark areas).
func advances(t *testing.T, ctx context.Context, what, video string, d time.Duration) {
	t.Helper()
	until(t, ctx, what+" started", video+`?.currentTime > 0`, d)
	t0, err := chromedp.Run(ctx, chromedp.Evaluate[float64](video+`.currentTime`))
	if err != nil {
		t.Fatal(err)
	}
	until(t, ctx, what+"'s video time advancing", fmt.Sprintf(`%s.currentTime > %f + 1`, video, t0), d)
	until(t, ctx, what+"'s frame not blank", fmt.Sprintf(`(() => {
		const v = %s;
		if (v.readyState < 2 || !v.videoWidth) return false;
		const c = document.createElement('canvas');
		c.width = 64; c.height = 36;
		const g = c.getContext('2d');
		g.drawImage(v, 0, 0, c.width, c.height);
		const px = g.getImageData(0, 0, c.width, c.height).data;
		let lo = 255, hi = 0;
		for (let i = 0; i < px.length; i += 4) {
			const y = (px[i] + px[i+1] + px[i+2]) / 3;
			lo = Math.min(lo, y); hi = Math.max(hi, y);
		}
		return hi - lo > 40;
	})()`, video), d)
}

// TestConsole runs a three-server site with a camera on each server and
// opens srv-1's console: the site page lists every server; a live tile of
// a camera recorded by another server plays through srv-1; when that
// server stops, the banner says so and the tile plays from the backup.
func TestConsole(t *testing.T) {
	servers := []string{"srv-1", "srv-2", "srv-3"}
	site, err := devsite.New(devsite.Options{Servers: servers, Cameras: 3, Keepalive: time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	if err := site.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, site)
	actx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// An H.265 camera, which the browser may not decode.
	hevc, err := camsim.Start(camsim.Options{Listen: "127.0.0.1:0", Paths: 1, Codec: "h265"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hevc.Close() })
	cam4 := site.CameraSpec(1, "srv-3")
	cam4.Name, cam4.URL = "cam4", hevc.URL(1)
	spec := site.Spec(site.CameraSpec(1, "srv-1", "srv-2"), site.CameraSpec(2, "srv-2", "srv-3"), site.CameraSpec(3, "srv-3", "srv-1"), cam4)
	spec.Parent = "region" // a site of a domain: the site page shows its parent
	if _, err := site.Commit(actx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := site.Wait(actx, "srv-1", func(st *api.State) bool {
		return devsite.RecordedBy(st, map[string][]string{"cam1": {"srv-1"}, "cam2": {"srv-2"}, "cam3": {"srv-3"}, "cam4": {"srv-3"}})
	}); err != nil {
		t.Fatal(err)
	}
	url := site.Server("srv-1").Addr() + "/"

	t.Run("site page lists every server", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
		tokenLogin(t, ctx, site.Token)
		for _, s := range servers {
			until(t, ctx, s+" in the server table", fmt.Sprintf(`!!document.querySelector('table.servers tr[data-server=%q] .badge.alive')`, s), 20*time.Second)
		}
		until(t, ctx, "every camera listed recording", `document.querySelectorAll('table.cameras .badge.recording').length === 4`, 20*time.Second)
		if hidden, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('banner').hidden`)); !hidden {
			t.Error("the banner shows while every server is alive and every camera recorded")
		}
		// cam4 has no backup: the assignment with srv-3 dead strands it.
		until(t, ctx, "the N+1 verdict", `!!document.querySelector('.nplusone').textContent`, 20*time.Second)
		if v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.nplusone').textContent`)); v != "N+1 fails: srv-3's failure strands 1 camera (cam4)" {
			t.Errorf("N+1 verdict: %q", v)
		}
		// Each recording server's footage reaches back to its first closed
		// segment (gossiped with its storage usage).
		for _, s := range servers {
			until(t, ctx, s+"'s footage", fmt.Sprintf(`(() => {
				const td = document.querySelector('table.servers tr[data-server=%q] td.footage');
				return td.textContent === 'under 1 h' && td.title.startsWith('oldest recording ');
			})()`, s), 20*time.Second)
		}
		tree, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.tree').innerText`))
		if !strings.HasPrefix(tree, "Domain tree: region ▸ "+site.Name) || !strings.Contains(tree, "not known from here") {
			t.Errorf("domain tree from the spec: %q", tree)
		}
		// A server whose configuration directory describes the domain
		// (hot reload tells it, as SetDomain does here) knows the tree.
		site.Server("srv-1").Agent().SetDomain(&api.DomainTree{Name: "acme", Sites: []api.DomainTreeSite{
			{Name: "hq"}, {Name: "region", Parent: "hq"}, {Name: site.Name, Parent: "region"}, {Name: "north", Parent: site.Name}, {Name: "south", Parent: "region"}}})
		want := "Domain acme: hq ▸ region ▸ " + site.Name + " · below " + site.Name + ": north · 5 sites in all, as srv-1's configuration directory describes them"
		until(t, ctx, "the domain tree from srv-1's configuration directory", fmt.Sprintf(`document.querySelector('.tree').innerText === %q`, want), 10*time.Second)
		screenshot(t, ctx, "site")
	})

	t.Run("events of every server, filtered by the server", func(t *testing.T) {
		// A kind pattern (a glob) only the server's query understands.
		if err := chromedp.Do(ctx, chromedp.Navigate(url+"#/events"),
			chromedp.SendKeys(chromedp.CSS(`input[data-filter="server"]`), "srv-3"),
			chromedp.SendKeys(chromedp.CSS(`input[data-filter="kind"]`), "camera.rec*")); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "srv-3's camera.recording events on srv-1's page", `(() => {
			const q = new URLSearchParams(document.querySelector('.event-list').dataset.query);
			if (q.get('server') !== 'srv-3' || q.get('kind') !== 'camera.rec*') return false;
			const rows = [...document.querySelectorAll('table.events tr')];
			return rows.length > 0 && rows.every(r => r.cells[2].innerText === 'srv-3' && r.cells[1].innerText.startsWith('camera.rec'));
		})()`, 20*time.Second)
		screenshot(t, ctx, "events")
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(`input[data-filter="kind"]`), "[")); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "the server refusing a bad kind pattern", `(document.querySelector('.events-page .summary.error')?.textContent || '').includes('not a valid pattern')`, 20*time.Second)
	})

	t.Run("live tile plays through another server", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(url+"#/cameras"), chromedp.Click(chromedp.CSS(`button[data-size="4"]`))); err != nil {
			t.Fatal(err)
		}
		plays(t, ctx, "cam2", 30*time.Second)
		if from, _ := chromedp.Run(ctx, chromedp.Evaluate[string](tileJS("cam2")+`.dataset.server`)); from != "srv-2" {
			t.Errorf("cam2's tile shows %q's recording, want srv-2's", from)
		}
		screenshot(t, ctx, "live")
	})

	t.Run("an H.265 tile plays or says the browser cannot decode it", func(t *testing.T) {
		until(t, ctx, "cam4's tile playing or unsupported", tileJS("cam4")+`?.dataset.state === 'playing' || `+tileJS("cam4")+`?.dataset.state === 'unsupported'`, 30*time.Second)
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](tileJS("cam4")+`.dataset.state`))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("H.265 in this browser: %s", state)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](tileJS("cam4")+`.scrollIntoView()`)); err != nil {
			t.Fatal(err)
		}
		defer screenshot(t, ctx, "h265")
		if state == "playing" {
			plays(t, ctx, "cam4", 30*time.Second)
			return
		}
		note, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[`+tileJS("cam4")+`.querySelector('.note').innerText, `+tileJS("cam4")+`.querySelector('.note a').href]`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(note[0], "cannot decode H.265") || !strings.Contains(note[1], "/v1/playback/cam4/index.m3u8?start=") {
			t.Errorf("cam4's tile says %q and links %q; want that the browser cannot decode H.265 and the HLS playlist", note[0], note[1])
		}
	})

	t.Run("a stopped server raises the banner and the tile follows its camera", func(t *testing.T) {
		if err := site.Kill("srv-2"); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "the banner naming srv-2", `(() => { const b = document.getElementById('banner'); return !b.hidden && b.innerText.includes('srv-2 is'); })()`, 15*time.Second)
		until(t, ctx, "cam2's tile on srv-3", tileJS("cam2")+`.dataset.server === 'srv-3'`, 30*time.Second)
		plays(t, ctx, "cam2", 30*time.Second)
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('banner').innerText`))
		if !strings.Contains(text, "srv-2 is dead") && !strings.Contains(text, "srv-2 is suspect") {
			t.Errorf("banner: %q", text)
		}
		screenshot(t, ctx, "failover")
	})

	t.Run("the timeline shows the failover gap", func(t *testing.T) {
		if err := site.Start("srv-2"); err != nil { // its footage from before the failure answers again
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(url+"#/camera/cam2")); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "cam2's spans on srv-2 and srv-3 with a gap between", `(() => {
			const tl = document.querySelector('.timeline');
			if (!tl || tl.querySelector('.tl-status').textContent) return false;
			const a = tl.querySelector('.span[data-server="srv-2"]'), b = tl.querySelector('.span[data-server="srv-3"]');
			if (!a || !b) return false;
			const x = e => e.getBoundingClientRect().left;
			return [...tl.querySelectorAll('.gap')].some(g => x(a) <= x(g) && x(g) <= x(b));
		})()`, 30*time.Second)
		causes, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.timeline .gap')].map(g => g.dataset.cause)`))
		t.Logf("gaps on the timeline: %q", causes)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('.timeline').scrollIntoView({block: 'end'})`)); err != nil {
			t.Fatal(err)
		}
		screenshot(t, ctx, "timeline")
	})

	t.Run("a click before the gap plays the recording", func(t *testing.T) {
		// The middle of srv-2's span before the failover gap.
		pos, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
			const tl = document.querySelector('.timeline');
			const gap = [...tl.querySelectorAll('.gap')].find(g => g.dataset.cause !== 'not recorded');
			const span = [...tl.querySelectorAll('.span[data-server="srv-2"]')].find(s => s.getBoundingClientRect().right <= gap.getBoundingClientRect().left + 1);
			const r = span.getBoundingClientRect();
			return [r.left + r.width / 2, r.top + r.height / 2, Date.parse(span.title.split(' – ')[0])];
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.MouseClickXY(pos[0], pos[1])); err != nil {
			t.Fatal(err)
		}
		advances(t, ctx, "cam2's recording", `document.querySelector('.playback[data-camera="cam2"] video')`, 30*time.Second)
		wall, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.playback').dataset.wall`))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("playing the recording of %s", wall)
		screenshot(t, ctx, "playback")
	})

	t.Run("an export from the page verifies", func(t *testing.T) {
		// Drag from srv-2's span before the failover gap to now: the
		// export crosses the gap and the servers.
		pos, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
			const tl = document.querySelector('.timeline');
			const span = tl.querySelector('.span[data-server="srv-2"]');
			const r = span.getBoundingClientRect(), track = tl.querySelector('.track').getBoundingClientRect();
			return [r.left, track.right - 1, r.top + r.height / 2];
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		x0, x1, y := pos[0], pos[1], pos[2]
		if err := chromedp.Do(ctx,
			chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y, chromedp.ButtonLeft),
			chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x1, y, chromedp.ButtonLeft),
			chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y, chromedp.ButtonLeft),
			chromedp.Click(chromedp.CSS(`.export button`)),
		); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "the export's download", `!!document.querySelector('.export').dataset.export || document.querySelector('.export .result.error')`, 60*time.Second)
		b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			const a = document.querySelector('.export a[download]');
			if (!a) return 'error: ' + document.querySelector('.export .result').textContent;
			const buf = new Uint8Array(await (await fetch(a.href)).arrayBuffer());
			let s = '';
			for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
			return btoa(s);
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if msg, ok := strings.CutPrefix(b64, "error: "); ok {
			t.Fatal(msg)
		}
		screenshot(t, ctx, "export")
		zb, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		var mp4 string
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f.Name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(f.Name, ".mp4") {
				mp4 = filepath.Join(dir, f.Name)
			}
		}
		kctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		k, err := site.Client("srv-1").ExportPublicKey(kctx)
		if err != nil {
			t.Fatal(err)
		}
		key, err := hex.DecodeString(k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		m, err := evidence.VerifyFileTrusted(mp4, ed25519.PublicKey(key))
		if err != nil {
			t.Fatalf("vigil verify %s: %v", filepath.Base(mp4), err)
		}
		t.Logf("the export %s verifies: %s to %s, %d sources", filepath.Base(mp4), m.ActualStart, m.ActualEnd, len(m.Sources))
	})

	t.Run("a camera page loaded by its address colours each server", func(t *testing.T) {
		// Loaded afresh, the page may read the recordings before the state
		// that gives each server its colour. Hold the state's stream back
		// until the spans are drawn, then let it through: srv-2 and srv-3
		// must differ as soon as the state is shown.
		paused := make(chan fetch.RequestID, 1)
		if err := chromedp.Listen(ctx, func(ev any) {
			if e, ok := ev.(*fetch.EventRequestPaused); ok {
				select {
				case paused <- e.RequestID:
				default:
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/v1/console/stream*"}}}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		var held fetch.RequestID
		select {
		case held = <-paused:
		case <-time.After(30 * time.Second):
			t.Fatal("the page did not ask for the state's stream")
		}
		until(t, ctx, "cam2's spans on srv-2 and srv-3", `!!document.querySelector('.timeline .span[data-server="srv-2"]') && !!document.querySelector('.timeline .span[data-server="srv-3"]')`, 30*time.Second)
		if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: held}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, fetch.Disable, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "the state", `document.getElementById('meta').textContent.includes('revision')`, 30*time.Second)
		colours, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`['srv-2', 'srv-3'].map(s => document.querySelector('.timeline .span[data-server="' + s + '"]').style.background)`))
		if err != nil {
			t.Fatal(err)
		}
		if colours[0] == colours[1] {
			t.Errorf("srv-2 and srv-3 share the colour %s on the timeline", colours[0])
		}
	})

	t.Run("a server stopped on purpose is named as having left", func(t *testing.T) {
		if err := site.Stop("srv-2"); err != nil {
			t.Fatal(err)
		}
		until(t, ctx, "the banner saying srv-2 left", `(() => { const b = document.getElementById('banner'); return !b.hidden && /srv-2 left the site( \d+ s ago)?$/m.test(b.innerText); })()`, 15*time.Second)
	})
}
