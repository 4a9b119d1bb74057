package console_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/runtime/access"
	"vigil/runtime/api"
)

// TestConsoleLogin: on a site with users the console shows its login form;
// a wrong password says so, the right one shows the console with the user's
// name, over HTTPS with the site's CA, and the page's push channel and live view
// WebSocket carry the cookie. A session ended elsewhere cuts the page's
// stream and brings the form back with a message; logging out brings it
// back too.
func TestConsoleLogin(t *testing.T) {
	hash, err := access.HashPassword("alice's secret")
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	site := loginSite(t, actx, func(s *spec.Site) { s.Users = []*spec.User{{Name: "alice", Role: "operator", PasswordHash: hash}} })
	ctx := browser(t, site)
	url := site.Server("srv-1").Addr() + "/"

	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the login form", `!document.getElementById('login').hidden && document.body.classList.contains('logged-out')`, 20*time.Second)
	if secure, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.isSecureContext`)); !secure {
		t.Errorf("Chromium does not count %s as a secure context", url)
	}
	screenshot(t, ctx, "login")

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#login input[name=user]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#login input[name=password]`), "wrong"),
		chromedp.Click(chromedp.CSS(`#login button`)),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the wrong password's message", `document.querySelector('#login .error').textContent === 'Wrong user name or password.'`, 20*time.Second)
	screenshot(t, ctx, "login-wrong")

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#login input[name=password]`), "alice's secret"),
		chromedp.Click(chromedp.CSS(`#login button`)),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the console with alice logged in", `!document.body.classList.contains('logged-out') && document.querySelector('#user .name')?.textContent === 'alice (operator)' && document.getElementById('meta').textContent.includes('revision')`, 20*time.Second)
	until(t, ctx, "the push channel open with the cookie", `document.getElementById('conn').classList.contains('ok')`, 20*time.Second)
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	var c *network.Cookie
	for _, x := range got.Cookies {
		if x.Name == access.CookieName {
			c = x
		}
	}
	if c == nil || !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
		t.Errorf("the browser's session cookie: %+v; want Secure, HttpOnly, SameSite=Strict", c)
	}
	if js, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); js != "" {
		t.Errorf("scripts see the cookie: %q", js)
	}
	screenshot(t, ctx, "logged-in")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/cameras'`)); err != nil {
		t.Fatal(err)
	}
	plays(t, ctx, "cam1", 30*time.Second)

	// The session ends elsewhere (its cookie logs out): the page's open
	// stream ends with it and the form says so.
	req, _ := http.NewRequestWithContext(actx, "POST", url+"v1/logout", nil)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	resp, err := site.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	until(t, ctx, "the form saying the session ended", `!document.getElementById('login').hidden && document.querySelector('#login .error').textContent === 'Your session ended: log in again.'`, 20*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#login input[name=password]`), "alice's secret"),
		chromedp.Click(chromedp.CSS(`#login button`)),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the console again", `!document.body.classList.contains('logged-out') && document.getElementById('conn').classList.contains('ok')`, 20*time.Second)

	// An operator exports with its session: the export panel asks no
	// token, and the page's request of the console's export is answered
	// with the zip on the cookie alone. First some footage must be
	// exportable (closed segments).
	for {
		_, err := site.Client("srv-1").Export(actx, "cam1", time.Now().Add(-10*time.Minute), time.Now(), "test", io.Discard)
		if err == nil {
			break
		}
		if actx.Err() != nil {
			t.Fatalf("cam1's footage never became exportable: %v", err)
		}
		time.Sleep(500 * time.Millisecond) // polling the condition: a segment closed
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/camera/cam1'`)); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "cam1's export panel", `!!document.querySelector('.export button')`, 30*time.Second)
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.export input').length`)); n != 0 {
		t.Error("the export asks a logged-in user for a token")
	}
	answer, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const q = new URLSearchParams({start: new Date(Date.now() - 600000).toISOString(), end: new Date(Date.now() - 1000).toISOString()});
		const resp = await fetch('/v1/console/export/cam1.zip?' + q);
		return resp.status + ' ' + resp.headers.get('Content-Type');
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || answer != "200 application/zip" {
		t.Errorf("the console's export with alice's session: %q, %v; want 200 application/zip", answer, err)
	}
	screenshot(t, ctx, "export-session")

	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#user button`))); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the login form after logging out", `!document.getElementById('login').hidden && document.querySelector('#login .error').textContent === ''`, 20*time.Second)
}

// TestConsoleTokenLogin: a site without users is not open: its console
// shows the form, which asks only for a token; a wrong token says so, a
// viewer's token shows the console as that token, and a viewer's console
// does not ask for the events it may not read (it says they need the
// operator role).
func TestConsoleTokenLogin(t *testing.T) {
	viewer, hash, err := access.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	actx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	site := loginSite(t, actx, func(s *spec.Site) { s.Tokens = []*spec.Token{{Name: "wall", Role: "viewer", Hash: hash}} })
	ctx := browser(t, site)
	url := site.Server("srv-1").Addr() + "/"
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the form asking only for a token", `!document.getElementById('login').hidden && document.querySelector('#login .password').hidden && document.activeElement?.name === 'token'`, 20*time.Second)
	screenshot(t, ctx, "login-token")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#login input[name=token]`), "vigil_not-a-token"),
		chromedp.Click(chromedp.CSS(`#login button`)),
	); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the wrong token's message", `document.querySelector('#login .error').textContent === 'Wrong token.'`, 20*time.Second)

	tokenLogin(t, ctx, viewer)
	until(t, ctx, "the console as the viewer token", `document.querySelector('#user .name')?.textContent === 'wall (viewer)' && document.getElementById('conn').classList.contains('ok')`, 20*time.Second)
	until(t, ctx, "the site page saying events need the operator role", `document.querySelector('.site')?.innerText.includes('Events need the operator role.')`, 20*time.Second)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/events'`)); err != nil {
		t.Fatal(err)
	}
	until(t, ctx, "the events page saying they need the operator role", `document.querySelector('.events-page')?.innerText === 'Events need the operator role.'`, 20*time.Second)
	screenshot(t, ctx, "viewer-events")
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/cameras'`)); err != nil {
		t.Fatal(err)
	}
	plays(t, ctx, "cam1", 30*time.Second)
	// The page never asked for the events: no refusal of them was counted.
	req, _ := http.NewRequestWithContext(actx, http.MethodGet, url+"metrics", nil)
	req.Header.Set("Authorization", "Bearer "+site.Token)
	resp, err := site.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), `vigil_api_refused_total{endpoint="events"`) {
		t.Error("the viewer's console asked for the events (refused)")
	}
}

// loginSite starts a one-server site and commits its spec of one camera,
// with the users or tokens set adds.
func loginSite(t *testing.T, ctx context.Context, set func(*spec.Site)) *devsite.Site {
	t.Helper()
	site, err := devsite.New(devsite.Options{Servers: []string{"srv-1"}, Cameras: 1, Keepalive: time.Second, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(site.Close)
	if err := site.Start(); err != nil {
		t.Fatal(err)
	}
	siteSpec := site.Spec(site.CameraSpec(1, "srv-1"))
	set(&siteSpec)
	rev, err := site.Commit(ctx, siteSpec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := site.Wait(ctx, "srv-1", func(st *api.State) bool { return st.Revision >= rev }); err != nil {
		t.Fatal(err)
	}
	return site
}
