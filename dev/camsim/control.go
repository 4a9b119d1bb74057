package camsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ControlHandler returns an HTTP handler that injects faults into s from
// other processes (multi-host tests run camsim in another network namespace):
//
//	POST /drop?path=cam1           close the path's sessions
//	POST /stall?path=cam1&for=10s  stop the path's frames for a while
//	POST /refuse?for=5s            refuse new connections for a while
//	POST /jump?path=cam1&by=-10s   step the path's timestamps (back when negative)
//	POST /drift?path=cam1&ppm=1000 run the path's RTP clock fast (slow when negative)
//	POST /restart?path=cam1&pause=2s  restart the encoder, keeping the sessions
//	POST /shared?path=cam1&steps=true  new readers step the others back (GStreamer's shared media)
//	GET  /stats                    PathStats of every path, as JSON
//
// Errors are answered with a 4xx status and a one-line text body.
func ControlHandler(s *Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /drop", func(w http.ResponseWriter, r *http.Request) {
		name, ok := controlPath(s, w, r)
		if !ok {
			return
		}
		s.Drop(name)
		fmt.Fprintf(w, "dropped %s\n", name)
	})
	mux.HandleFunc("POST /stall", func(w http.ResponseWriter, r *http.Request) {
		name, ok := controlPath(s, w, r)
		if !ok {
			return
		}
		d, ok := controlDuration(w, r)
		if !ok {
			return
		}
		s.Stall(name, d)
		fmt.Fprintf(w, "stalled %s for %s\n", name, d)
	})
	mux.HandleFunc("POST /refuse", func(w http.ResponseWriter, r *http.Request) {
		d, ok := controlDuration(w, r)
		if !ok {
			return
		}
		s.Refuse(d)
		fmt.Fprintf(w, "refusing connections for %s\n", d)
	})
	mux.HandleFunc("POST /jump", func(w http.ResponseWriter, r *http.Request) {
		name, ok := controlPath(s, w, r)
		if !ok {
			return
		}
		by, err := time.ParseDuration(r.URL.Query().Get("by"))
		if err != nil {
			http.Error(w, fmt.Sprintf("invalid or missing by %q (use for example by=-10s)", r.URL.Query().Get("by")), http.StatusBadRequest)
			return
		}
		s.Jump(name, by)
		fmt.Fprintf(w, "timestamps of %s moved by %s\n", name, by)
	})
	mux.HandleFunc("POST /drift", func(w http.ResponseWriter, r *http.Request) {
		name, ok := controlPath(s, w, r)
		if !ok {
			return
		}
		ppm, err := strconv.ParseFloat(r.URL.Query().Get("ppm"), 64)
		if err != nil || ppm <= -1e6 || ppm >= 1e6 {
			http.Error(w, fmt.Sprintf("invalid or missing ppm %q (use for example ppm=1000 or ppm=-50)", r.URL.Query().Get("ppm")), http.StatusBadRequest)
			return
		}
		s.Drift(name, ppm)
		fmt.Fprintf(w, "clock of %s off by %g ppm\n", name, ppm)
	})
	mux.HandleFunc("POST /restart", func(w http.ResponseWriter, r *http.Request) {
		name, ok := controlPath(s, w, r)
		if !ok {
			return
		}
		var pause time.Duration
		if v := r.URL.Query().Get("pause"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				http.Error(w, fmt.Sprintf("invalid pause %q (use for example 2s)", v), http.StatusBadRequest)
				return
			}
			pause = d
		}
		s.Restart(name, pause)
		fmt.Fprintf(w, "encoder of %s restarting after %s\n", name, pause)
	})
	mux.HandleFunc("POST /shared", func(w http.ResponseWriter, r *http.Request) {
		name, ok := controlPath(s, w, r)
		if !ok {
			return
		}
		on, err := strconv.ParseBool(r.URL.Query().Get("steps"))
		if err != nil {
			http.Error(w, "invalid or missing steps (true or false)", http.StatusBadRequest)
			return
		}
		s.SharedSteps(name, on)
		fmt.Fprintf(w, "new readers of %s step the others back: %t\n", name, on)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Stats())
	})
	return mux
}

func controlPath(s *Server, w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.URL.Query().Get("path")
	if name == "" {
		http.Error(w, "missing query parameter path (for example path=cam1)", http.StatusBadRequest)
		return "", false
	}
	if s.lookup(name) == nil {
		http.Error(w, fmt.Sprintf("no such path %q (serving cam1 ... cam%d)", name, len(s.order)), http.StatusNotFound)
		return "", false
	}
	return name, true
}

func controlDuration(w http.ResponseWriter, r *http.Request) (time.Duration, bool) {
	v := r.URL.Query().Get("for")
	if v == "" {
		http.Error(w, "missing query parameter for (a duration such as 10s)", http.StatusBadRequest)
		return 0, false
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		http.Error(w, fmt.Sprintf("invalid duration %q (use for example 500ms or 10s)", v), http.StatusBadRequest)
		return 0, false
	}
	return d, true
}
