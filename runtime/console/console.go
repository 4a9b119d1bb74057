// Package console is the web page that every agent serves at / and /ui/:
// the site's servers and cameras, live video, each camera's timeline and
// the events, for the whole site whichever server the browser reached.
//
// The page is plain ES modules and CSS embedded in the binary (static/); no
// Node toolchain builds it. hls.js, which plays recorded footage, is
// vendored from the npm registry at a pinned version with its licence
// (static/vendor), and a test checks it against its recorded checksum.
//
// The page talks to the agent through the API: GET /v1/console/stream is
// its push channel (server-sent events with the state and the events, no
// polling), GET /v1/live/CAMERA a WebSocket of live video (ServeLive), and
// the footage endpoints for the timeline and playback. Live video comes
// from the recording session itself (recorder.Manager.Live): no second
// connection to the camera; an agent that does not record a camera relays
// the view from the one that does (Relay).
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Handler serves the page: index.html at / and /ui/, the other files under
// /ui/.
func Handler() http.Handler {
	static, _ := fs.Sub(files, "static")
	fileServer := http.StripPrefix("/ui/", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || r.URL.Path == "/ui/" {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, static, "index.html")
			return
		}
		w.Header().Set("Cache-Control", "no-cache") // a new agent version ships a new page
		fileServer.ServeHTTP(w, r)
	})
}
