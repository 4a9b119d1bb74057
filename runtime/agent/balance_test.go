package agent_test

import (
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// A two-server site with unequal recorded bytes: when the balancing window
// opens (a fake clock), the master moves the camera that evens the servers,
// the move is make-before-break, the report explains it beforehand, and
// failover and failback keep the balanced assignment.
func TestBalancingMovesCameraInWindow(t *testing.T) {
	s := newSite(t, []string{"a", "b"}, 4)
	wall := time.Now().UTC()
	// The window opens three hours after the wall time of day, so the
	// agents' own balancing loops (wall clock) never move anything; the
	// test's loop runs 20 hours in the past, inside the window.
	fake := func() time.Time { return time.Now().Add(-20 * time.Hour) }
	m := wall.Hour()*60 + wall.Minute()
	site := s.Spec(s.CameraSpec(1, "a", "b"), s.CameraSpec(2, "a", "b"), s.CameraSpec(3, "a", "b"), s.CameraSpec(4, "b", "a"))
	site.Balancing = &spec.Balancing{Enabled: true, HistoryDays: 7, MinDaysBetweenMoves: 7, TolerancePercent: 10,
		Window: spec.HourWindow{StartMinute: (m + 180) % 1440, EndMinute: (m + 300) % 1440}}
	if _, err := s.Commit(ctxFor(t, 10*time.Second), site); err != nil {
		t.Fatal(err)
	}
	st := waitRecorded(t, s, "a", map[string][]string{"cam1": {"a"}, "cam2": {"a"}, "cam3": {"a"}, "cam4": {"b"}}, 20*time.Second)

	// Five past days of statistics: a records 13+10+10 GB/day, b 5.
	master := ""
	for _, srv := range st.Servers {
		if srv.Role == "master" {
			master = srv.Name
		}
	}
	if master == "" {
		t.Fatalf("no master in %s", describe(st))
	}
	rates := map[string]int64{"cam1": 13e9, "cam2": 10e9, "cam3": 10e9, "cam4": 5e9}
	on := map[string]string{"cam1": "a", "cam2": "a", "cam3": "a", "cam4": "b"}
	var stats []api.DailyStat
	for d := 1; d <= 5; d++ {
		date := wall.AddDate(0, 0, -d).Format(time.DateOnly)
		for cam, r := range rates {
			stats = append(stats, api.DailyStat{Server: on[cam], Camera: cam, Date: date, Bytes: r})
		}
	}
	if err := s.Server(master).Agent().RecordStats(ctxFor(t, 5*time.Second), stats); err != nil {
		t.Fatal(err)
	}

	// The report, window closed: one move, cam1 from a to b, and why.
	rep, err := s.Client(master).BalanceReport(ctxFor(t, 5*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.InWindow || rep.NextWindow.IsZero() || len(rep.Moves) != 1 {
		t.Fatalf("report before the window: in window %v, next %v, moves %+v", rep.InWindow, rep.NextWindow, rep.Moves)
	}
	mv := rep.Moves[0]
	if mv.Camera != "cam1" || mv.From != "a" || mv.To != "b" || !strings.Contains(mv.Reason, "a 33.0 GB → 20.0 GB/day") {
		t.Fatalf("move %+v; want cam1 a→b with the loads in its reason", mv)
	}
	for _, srv := range rep.Servers {
		if want := map[string]float64{"a": 20e9, "b": 18e9}[srv.Name]; srv.BytesPerDayAfter != want {
			t.Errorf("server %s after moves %v, want %v", srv.Name, srv.BytesPerDayAfter, want)
		}
	}

	// Open the window: every agent runs the loop on the fake clock; only
	// the master's runs.
	opened := time.Now()
	for _, n := range []string{"a", "b"} {
		ag := s.Server(n).Agent()
		ag.LeaderLoop(ag.BalanceLoop(fake, 100*time.Millisecond))
	}
	st = waitRecorded(t, s, "a", map[string][]string{"cam1": {"b"}, "cam2": {"a"}, "cam3": {"a"}, "cam4": {"b"}}, 20*time.Second)
	if len(st.Overrides) != 1 || st.Overrides[0].Camera != "cam1" || st.Overrides[0].Server != "b" || st.Overrides[0].Reason == "" {
		t.Fatalf("overrides in force: %+v", st.Overrides)
	}
	if r := camera(st, "cam1").Recorders; len(r) != 1 || r[0].Role != "balance" {
		t.Fatalf("cam1 recorders %+v, want b with role balance", r)
	}

	// Make-before-break: b recorded before a stopped, so the files of cam1
	// on a and b have no hole around the move.
	// Two segments past the move, once they reached the disk.
	until := time.Now().Add(2500 * time.Millisecond)
	spans := recordedUntil(t, s, "cam1", until, "a", "b")
	if len(spans) == 0 || !spans[0].start.Before(opened) {
		t.Fatalf("cam1 has no recording from before the window opened: %+v", spans)
	}
	var aEnd, bStart time.Time
	for _, sp := range spans {
		if sp.server == "a" && sp.end.After(aEnd) {
			aEnd = sp.end
		}
		if sp.server == "b" && (bStart.IsZero() || sp.start.Before(bStart)) {
			bStart = sp.start
		}
	}
	if bStart.IsZero() || !bStart.Before(aEnd) {
		t.Errorf("cam1: b started recording at %s, a stopped at %s; want an overlap", bStart.Format("15:04:05.000"), aEnd.Format("15:04:05.000"))
	}
	for _, h := range holes(spans, spans[0].start, until) {
		if h.end.Sub(h.start) > 100*time.Millisecond {
			t.Errorf("cam1: hole of %v at %s around the balancing move", h.end.Sub(h.start), h.start.Format("15:04:05.000"))
		}
	}

	// Failover and failback on top of the move: while b is down its
	// cameras go to a; when it returns, cam1 goes back to b (role balance).
	if err := s.Kill("b"); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "a", map[string][]string{"cam1": {"a"}, "cam4": {"a"}}, 20*time.Second)
	if err := s.Start("b"); err != nil {
		t.Fatal(err)
	}
	st = waitRecorded(t, s, "a", map[string][]string{"cam1": {"b"}, "cam2": {"a"}, "cam3": {"a"}, "cam4": {"b"}}, 30*time.Second)
	if r := camera(st, "cam1").Recorders; len(r) != 1 || r[0].Role != "balance" {
		t.Fatalf("cam1 recorders after failback %+v, want b with role balance", r)
	}

	// The site stays still: the report now proposes nothing.
	rep, err = s.Client("b").BalanceReport(ctxFor(t, 5*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Moves) != 0 {
		t.Fatalf("moves after balancing: %+v", rep.Moves)
	}
	for _, c := range rep.Cameras {
		if c.Name == "cam1" && (c.Server != "b" || c.Movable || c.LastMove.IsZero()) {
			t.Fatalf("cam1 in the report: %+v; want on b, moved, not movable for 7 days", c)
		}
	}
}

// Statistics from real recordings: two 1080p cameras (a second camsim) and
// a small one on a, a small one on b. The agents gather today's bytes; a
// clock a day ahead, inside the window, reads them as yesterday's, and the
// master moves one 1080p camera to b, nothing else.
func TestBalancingFromRecordedBitrates(t *testing.T) {
	s := newSite(t, []string{"a", "b"}, 2)
	hd, err := camsim.Start(camsim.Options{Listen: "127.0.0.1:0", Paths: 2, Profile: "1080p"})
	if err != nil {
		t.Fatal(err)
	}
	defer hd.Close()
	hdCam := func(i int) *spec.Camera {
		c := s.CameraSpec(i, "a", "b")
		c.Name, c.URL = "hd"+strconv.Itoa(i), hd.URL(i)
		return c
	}
	wall := time.Now().UTC()
	m := wall.Hour()*60 + wall.Minute()
	// runs counts the balancer's runs: each reads the clock once.
	var runs atomic.Int64
	fake := func() time.Time { runs.Add(1); return time.Now().Add(28 * time.Hour) }
	site := s.Spec(hdCam(1), hdCam(2), s.CameraSpec(1, "a", "b"), s.CameraSpec(2, "b", "a"))
	// A wide tolerance: statistics count whole 2 s segments, and the test
	// records for seconds, not days.
	site.Balancing = &spec.Balancing{Enabled: true, HistoryDays: 7, MinDaysBetweenMoves: 7, TolerancePercent: 30,
		Window: spec.HourWindow{StartMinute: (m + 180) % 1440, EndMinute: (m + 300) % 1440}}
	if _, err := s.Commit(ctxFor(t, 10*time.Second), site); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "a", map[string][]string{"hd1": {"a"}, "hd2": {"a"}, "cam1": {"a"}, "cam2": {"b"}}, 20*time.Second)

	// Wait for a few segments of every camera in the site's statistics,
	// then for four times as many bytes of each (about three more 2 s
	// segments: closer to the bitrates; a sleep gives fewer on a busy
	// machine).
	ctx := ctxFor(t, 40*time.Second)
	var first map[string]int64
	for {
		stats, err := s.Client("a").Stats(ctx, wall.Format(time.DateOnly))
		if err != nil {
			t.Fatal(err)
		}
		bytes := map[string]int64{}
		for _, st := range stats {
			bytes[st.Camera] += st.Bytes
		}
		if first == nil && bytes["cam1"] > 0 && bytes["cam2"] > 0 && bytes["hd1"] > 10*bytes["cam1"]/2 && bytes["hd2"] > 10*bytes["cam1"]/2 {
			first, ctx = bytes, ctxFor(t, time.Minute)
		}
		if first != nil && !slices.ContainsFunc([]string{"cam1", "cam2", "hd1", "hd2"}, func(c string) bool { return bytes[c] < 4*first[c] }) {
			t.Logf("recorded today: %v", bytes)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("statistics never showed every camera, then four times its bytes: %v, first %v", bytes, first)
		case <-time.After(time.Second):
		}
	}

	for _, n := range []string{"a", "b"} {
		ag := s.Server(n).Agent()
		ag.LeaderLoop(ag.BalanceLoop(fake, 200*time.Millisecond))
	}
	if _, err := s.Wait(ctxFor(t, 20*time.Second), "a", func(st *api.State) bool { return len(st.Overrides) > 0 }); err != nil {
		t.Fatal(err)
	}
	// Ten later runs must not move anything else (a sleep would pass with
	// none on a busy machine).
	later, deadline := runs.Load()+10, time.Now().Add(30*time.Second)
	for runs.Load() < later {
		if time.Now().After(deadline) {
			t.Fatalf("the balancer ran %d times in 30 s after its move, want 10", runs.Load()-later+10)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, err := s.Client("a").State(ctxFor(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Overrides) != 1 || !strings.HasPrefix(st.Overrides[0].Camera, "hd") || st.Overrides[0].Server != "b" {
		t.Fatalf("overrides %+v; want one 1080p camera moved to b", st.Overrides)
	}
	moved := st.Overrides[0].Camera
	t.Logf("moved %s: %s", moved, st.Overrides[0].Reason)
	stay := map[string]string{"hd1": "hd2", "hd2": "hd1"}[moved]
	waitRecorded(t, s, "a", map[string][]string{moved: {"b"}, stay: {"a"}, "cam1": {"a"}, "cam2": {"b"}}, 20*time.Second)
}
