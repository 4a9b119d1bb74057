package agent_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/runtime/api"
	"vigil/runtime/footage"
)

// failoverSite records cam1 on rec-1 (backed up by rec-2), kills rec-1 once
// it has a few segments, waits for rec-2 to take over, and brings rec-1
// back until it records cam1 again. It returns when rec-1 was killed and
// when rec-2 was seen recording.
func failoverSite(t *testing.T) (s *devsite.Site, killed, taken time.Time) {
	t.Helper()
	s = newSite(t, []string{"rec-1", "rec-2"}, 1)
	if _, err := s.Commit(ctxFor(t, 20*time.Second), s.Spec(s.CameraSpec(1, "rec-1", "rec-2"))); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-2", map[string][]string{"cam1": {"rec-1"}}, 20*time.Second)
	waitListing(t, s, "rec-1", time.Now().Add(-time.Minute), func(r *api.Recordings) bool {
		return len(r.Spans) > 0 && r.Spans[len(r.Spans)-1].End.Sub(r.Spans[len(r.Spans)-1].Start) > 4*time.Second
	})
	killed = time.Now()
	if err := s.Kill("rec-1"); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-2", map[string][]string{"cam1": {"rec-2"}}, 30*time.Second)
	taken = time.Now()

	// While rec-1 is down, the listing says its footage is missing.
	r := waitListing(t, s, "rec-2", killed.Add(-time.Minute), func(*api.Recordings) bool { return true })
	if r.Complete || !slices.Equal(r.MissingServers, []string{"rec-1"}) {
		t.Errorf("listing with rec-1 down: complete %v, missing %v; want incomplete, rec-1 missing", r.Complete, r.MissingServers)
	}

	if err := s.Start("rec-1"); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-2", map[string][]string{"cam1": {"rec-1"}}, 30*time.Second)
	return s, killed, taken
}

// waitListing polls GET /v1/recordings on a server for cam1 from since to
// now until cond holds.
func waitListing(t *testing.T, s *devsite.Site, on string, since time.Time, cond func(*api.Recordings) bool) *api.Recordings {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	var last *api.Recordings
	var lastErr error
	for ctx.Err() == nil {
		r, err := s.Client(on).Recordings(ctx, "cam1", since, time.Now())
		if err == nil && cond(r) {
			return r
		}
		last, lastErr = r, err
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("listing on %s never satisfied the test: last %+v, error %v", on, last, lastErr)
	return nil
}

func TestRecordingsAcrossFailover(t *testing.T) {
	s, killed, taken := failoverSite(t)

	// Once rec-1 has written a segment after its return, the listing
	// (asked of either server) holds both servers' spans and one gap, at
	// the takeover, no longer than the takeover took.
	back := time.Now()
	for _, on := range []string{"rec-1", "rec-2"} {
		r := waitListing(t, s, on, killed.Add(-time.Minute), func(r *api.Recordings) bool {
			n := len(r.Spans)
			return r.Complete && n > 0 && slices.Contains(r.Spans[n-1].Servers, "rec-1") && r.Spans[n-1].End.After(back.Add(2*time.Second))
		})
		first := r.Spans[0].Start
		var inside []api.TimelineGap
		for _, g := range r.Gaps {
			if g.Start.After(first) {
				inside = append(inside, g)
			}
		}
		servers := map[string]bool{}
		for _, sp := range r.Spans {
			for _, srv := range sp.Servers {
				servers[srv] = true
			}
		}
		if !servers["rec-1"] || !servers["rec-2"] {
			t.Errorf("%s: spans on %v, want rec-1 and rec-2", on, servers)
		}
		if len(inside) != 1 {
			t.Fatalf("%s: gaps after the first recording %+v, want one (the takeover)", on, inside)
		}
		g := inside[0]
		if g.Cause != api.CauseServerFailure || g.End.Sub(g.Start) > taken.Sub(killed) || g.End.Before(killed) {
			t.Errorf("%s: gap %s..%s (%v, %s); want a server failure no longer than the takeover (%v, killed at %s)", on,
				g.Start.Format("15:04:05.000"), g.End.Format("15:04:05.000"), g.End.Sub(g.Start), g.Cause,
				taken.Sub(killed), killed.Format("15:04:05.000"))
		}
		t.Logf("%s: takeover gap %v (%s); takeover took %v", on, g.End.Sub(g.Start).Round(time.Millisecond), g.Cause, taken.Sub(killed).Round(time.Millisecond))

		// The listing is true to the files on disk.
		files := recorded(t, s, "cam1", "rec-1", "rec-2")
		until := r.Spans[len(r.Spans)-1].End.Add(-2 * time.Second)
		fileHoles := holes(files, first, until)
		var fh []span
		for _, h := range fileHoles {
			if h.end.Sub(h.start) > footage.Join {
				fh = append(fh, h)
			}
		}
		if len(fh) != 1 || fh[0].start.Sub(g.Start).Abs() > footage.Join || fh[0].end.Sub(g.End).Abs() > footage.Join {
			t.Errorf("%s: holes in the files %+v, listing's gap %+v", on, fh, g)
		}
	}

	days, err := s.Client("rec-2").RecordingDays(ctxFor(t, 10*time.Second), "cam1")
	if err != nil {
		t.Fatal(err)
	}
	if !days.Complete || len(days.Cameras) != 1 || len(days.Cameras[0].Days) == 0 ||
		!slices.Equal(days.Cameras[0].Days[len(days.Cameras[0].Days)-1].Servers, []string{"rec-1", "rec-2"}) {
		t.Errorf("days: %+v", days)
	}
}

func TestRecordingsBadInput(t *testing.T) {
	s := newSite(t, []string{"rec-1"}, 1)
	rev, err := s.Commit(ctxFor(t, 20*time.Second), s.Spec(s.CameraSpec(1, "rec-1")))
	if err != nil {
		t.Fatal(err)
	}
	// The commit answers before the agent has taken the spec in.
	if _, err := s.Wait(ctxFor(t, 20*time.Second), "rec-1", func(st *api.State) bool { return st.Revision >= rev }); err != nil {
		t.Fatal(err)
	}
	base := s.Server("rec-1").Addr()
	now := time.Now().UTC()
	for _, c := range []struct {
		query string
		code  int
		says  string
	}{
		{"camera=nope", http.StatusNotFound, "no camera"},
		{"", http.StatusBadRequest, "name the camera"},
		{"camera=cam1&start=yesterday", http.StatusBadRequest, "RFC 3339"},
		{"camera=cam1&start=" + now.Format(time.RFC3339) + "&end=" + now.Add(-time.Hour).Format(time.RFC3339), http.StatusBadRequest, "inverted"},
		{"camera=cam1&start=" + now.Add(-32*24*time.Hour).Format(time.RFC3339), http.StatusBadRequest, "31 days"},
		{"camera=cam1", http.StatusOK, ""},
	} {
		resp := do(t, ctxFor(t, 20*time.Second), s, http.MethodGet, base+"/v1/recordings?"+strings.ReplaceAll(c.query, "+", "%2B"), s.Token)
		var body struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != c.code || !strings.Contains(body.Error, c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.query, resp.StatusCode, body.Error, c.code, c.says)
		}
	}
	if _, err := s.Client("rec-1").RecordingDays(ctxFor(t, 5*time.Second), "nope"); err == nil {
		t.Error("days of an unknown camera: no error")
	}
}
