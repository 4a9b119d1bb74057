package agent_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/runtime/api"
)

// The site's gap history is one truth whichever server answers: after a
// server is killed, taken over and restarted, every server (the restarted
// one too, whose own index holds a restart gap over the time its backup
// recorded) shows the same gap history and the same last gap, a server
// failure; the footage listing names it so; the site's events tell the
// gap once, and each verdict about the killed server names its observer.
func TestGapHistoryIsTheSameOnEveryServer(t *testing.T) {
	names := []string{"rec-1", "rec-2", "rec-3"}
	s := newSite(t, names, 2)
	spec := s.Spec(s.CameraSpec(1, "rec-1", "rec-2"), s.CameraSpec(2, "rec-2", "rec-3"))
	if _, err := s.Commit(ctxFor(t, 20*time.Second), spec); err != nil {
		t.Fatal(err)
	}
	before := map[string][]string{"cam1": {"rec-1"}, "cam2": {"rec-2"}}
	waitRecorded(t, s, "rec-2", before, 20*time.Second)
	// The kill cuts what rec-1 had not written: it must have recorded a
	// while, so that its index remembers where its recording ended.
	if _, err := s.Wait(ctxFor(t, 20*time.Second), "rec-2", func(st *api.State) bool {
		for _, c := range st.Cameras {
			for _, r := range c.Recorders {
				if c.Name == "cam1" && r.Server == "rec-1" && !r.From.IsZero() && time.Since(r.From) > 3*time.Second {
					return true
				}
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := s.Kill("rec-1"); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-2", map[string][]string{"cam1": {"rec-2"}, "cam2": {"rec-2"}}, 30*time.Second)
	if err := s.Start("rec-1"); err != nil {
		t.Fatal(err)
	}
	waitRecorded(t, s, "rec-2", before, 30*time.Second)
	waitRecorded(t, s, "rec-1", before, 30*time.Second)

	// Every server answers with the same history once the master has
	// committed it.
	var history []api.Gap
	ctx := ctxFor(t, 30*time.Second)
	for {
		var answers [][]api.Gap
		for _, n := range names {
			g, err := s.Client(n).Gaps(ctx, "cam1")
			if err != nil {
				t.Fatal(err)
			}
			answers = append(answers, g)
		}
		same := true
		for _, a := range answers[1:] {
			same = same && slices.EqualFunc(a, answers[0], func(x, y api.Gap) bool { return x.Start.Equal(y.Start) && x.End.Equal(y.End) && x.Cause == y.Cause })
		}
		if same && len(answers[0]) > 0 && !answers[0][len(answers[0])-1].End.IsZero() {
			history = answers[0]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the servers never agree on cam1's gaps: %v", answers)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if len(history) != 1 || history[0].Cause != api.CauseServerFailure || history[0].Start.Before(killed.Add(-2*time.Second)) {
		t.Fatalf("cam1's gap history %v, want one server failure at the kill (%s)", history, killed.Format("15:04:05.000"))
	}
	gap := history[0]
	for _, n := range names {
		st, err := s.Client(n).State(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lg := camera(st, "cam1").LastGap
		if lg == nil || !lg.Start.Equal(gap.Start) || !lg.End.Equal(gap.End) || lg.Cause != gap.Cause {
			t.Errorf("%s shows cam1's last gap %+v, want the site's %+v", n, lg, gap)
		}
		if lg := camera(st, "cam2").LastGap; lg != nil {
			t.Errorf("%s shows a gap of cam2, which was never without a recorder: %+v", n, lg)
		}
	}

	// The listing asked of the restarted server names the hole a server
	// failure, not a restart.
	rec, err := s.Client("rec-1").Recordings(ctx, "cam1", killed.Add(-2*time.Second), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rec.Gaps {
		if g.End.Sub(g.Start) > 100*time.Millisecond && g.Cause != api.CauseServerFailure && g.Start.Before(killed.Add(10*time.Second)) {
			t.Errorf("the listing shows cam1's gap %s to %s as %q, want %q", g.Start.Format("15:04:05.000"), g.End.Format("15:04:05.000"), g.Cause, api.CauseServerFailure)
		}
	}

	// The site's events: the gap once; each verdict names its observer.
	stream, err := s.Client("rec-3").EventHistory(ctx, api.EventFilter{Since: killed.Add(-time.Second), Kind: "gap.*,server.dead"}, api.EventOptions{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var told []string // cam1's gap events, who told them
	for ev := range stream.Events {
		switch ev.Kind {
		case "server.dead":
			if ev.Server != "rec-1" || ev.Observer == "" || ev.Observer == ev.Server {
				t.Errorf("verdict %+v does not name its observer", ev)
			}
			count[ev.Kind+" by "+ev.Observer]++
		default:
			if ev.Camera == "cam1" {
				told = append(told, fmt.Sprintf("\n%s %s by %s: %s", ev.Time.Format("15:04:05.000"), ev.Kind, ev.Server, ev.Message))
				count[ev.Kind]++
			}
		}
	}
	if count["gap.closed"] != 1 || count["gap.open"] > 1 {
		t.Errorf("the site's history tells cam1's gap %d times (gap.open %d times), want once:%s", count["gap.closed"], count["gap.open"], strings.Join(told, ""))
	}
	for k, n := range count {
		if n > 1 && k != "gap.open" {
			t.Errorf("%d events %q", n, k)
		}
	}
	t.Logf("cam1's gap %s to %s (%s); events %s", gap.Start.Format("15:04:05.000"), gap.End.Format("15:04:05.000"), gap.Cause, fmt.Sprint(count))
}
