package camsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// ControlHandler returns an HTTP handler that injects faults into s from
// other processes (multi-host tests run camsim in another network namespace):
//
//	POST /drop?path=cam1           close the path's sessions
//	POST /stall?path=cam1&for=10s  stop the path's frames for a while
//	POST /refuse?for=5s            refuse new connections for a while
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
