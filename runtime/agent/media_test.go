package agent_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"vigil/dev/devsite"
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
func recorded(t *testing.T, s *devsite.Site, camera string, servers ...string) []span {
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

// recordedUntil waits until the camera's files on the named servers reach
// until (parts reach the disk as the recorder closes them, later on a busy
// machine) and returns them; after a minute it returns what there is, for
// the caller to report the hole.
func recordedUntil(t *testing.T, s *devsite.Site, camera string, until time.Time, servers ...string) []span {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		spans := recorded(t, s, camera, servers...)
		reached := false
		for _, sp := range spans {
			reached = reached || !sp.end.Before(until)
		}
		if reached || time.Now().After(deadline) {
			return spans
		}
		time.Sleep(100 * time.Millisecond) // polling the files
	}
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

// checkReportedGap compares the site-wide gap an agent reports for a
// camera with the hole in its files. The start is when the killed server
// last answered a ping: its media may go on until it dies, up to a ping
// interval (keepalive/8) later, plus how long the in-process kill took
// (killing: it stops membership first and closes the files after), and it
// may have had up to a part (a second) unwritten, so the start may be that
// much earlier or later; the end is where the new recorder's file starts,
// within a frame interval and the resolution of the file spans.
func checkReportedGap(t *testing.T, s *devsite.Site, on, camera string, hole span, killing time.Duration) {
	t.Helper()
	gaps, err := s.Client(on).Gaps(context.Background(), camera)
	if err != nil {
		t.Fatal(err)
	}
	if hole.end.IsZero() {
		if len(gaps) > 0 {
			t.Errorf("%s: %s reports gaps %+v, the files have none", camera, on, gaps)
		}
		return
	}
	const frame = 40 * time.Millisecond
	for _, g := range gaps {
		if g.End.Before(hole.start) || g.Start.After(hole.end) {
			continue
		}
		t.Logf("%s: reported gap %s to %s, files %s to %s", camera, g.Start.Format("15:04:05.000"), g.End.Format("15:04:05.000"),
			hole.start.Format("15:04:05.000"), hole.end.Format("15:04:05.000"))
		if d := g.Start.Sub(hole.start); d < -(time.Second/8+frame+killing) || d > time.Second+frame {
			t.Errorf("%s: reported gap starts %v off the files", camera, d)
		}
		if d := g.End.Sub(hole.end); d < -2*frame || d > 2*frame {
			t.Errorf("%s: reported gap ends %v off the files", camera, d)
		}
		return
	}
	t.Errorf("%s: a hole of %v in the files (%s) that %s does not report: %+v", camera, hole.end.Sub(hole.start),
		hole.start.Format("15:04:05.000"), on, gaps)
}
