package agent_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"vigil/runtime/agent/agenttest"
	"vigil/runtime/storage"
)

// span is a stretch of recorded media of one camera on one server.
type span struct {
	server     string
	start, end time.Time
}

// recorded lists the media a camera has on the named servers, from the
// segment files (start from the file name, length from the file), sorted by
// start. Files being written count up to their last complete part.
func recorded(t *testing.T, s *agenttest.Site, camera string, servers ...string) []span {
	t.Helper()
	var out []span
	for _, srv := range servers {
		files, _ := filepath.Glob(filepath.Join(s.DataDir(srv), "recordings", camera, "*", "*.mp4"))
		for _, f := range files {
			start, err := time.ParseInLocation("2006-01-02 15-04-05.000000", filepath.Base(filepath.Dir(f))+" "+filepath.Base(f)[:len(filepath.Base(f))-4], time.UTC)
			if err != nil {
				t.Fatalf("segment name %s: %v", f, err)
			}
			info, err := storage.Probe(f)
			if err != nil || info.Duration == 0 {
				continue // opened, no complete part yet
			}
			out = append(out, span{server: srv, start: start, end: start.Add(info.Duration)})
		}
	}
	slices.SortFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	return out
}

// holes returns the stretches between from and to that no span covers.
func holes(spans []span, from, to time.Time) []span {
	var out []span
	covered := from
	for _, sp := range spans {
		if sp.end.Before(from) {
			continue
		}
		if sp.start.After(to) {
			break
		}
		if sp.start.After(covered) {
			out = append(out, span{start: covered, end: sp.start})
		}
		if sp.end.After(covered) {
			covered = sp.end
		}
	}
	if covered.Before(to) {
		out = append(out, span{start: covered, end: to})
	}
	return out
}
