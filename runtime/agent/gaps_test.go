package agent

import (
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// gapRun drives a gapTracker on an injected clock, for one camera "cam"
// of server "a" with backup "b".
type gapRun struct {
	t         *testing.T
	g         *gapTracker
	spec      *spec.Site
	health    map[string]assign.Member
	heard     map[string]time.Time
	opened    []api.Gap
	closed    []api.Gap
	retracted []api.Gap
	session   map[string]api.Recorder // by server
}

var g0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return g0.Add(d) }

func newGapRun(t *testing.T) *gapRun {
	return &gapRun{
		t: t, g: newGapTracker(time.Second),
		spec:    &spec.Site{Cameras: []*spec.Camera{{Name: "cam", Server: "a", Backup: []string{"b"}}}},
		health:  map[string]assign.Member{"a": {Health: api.HealthAlive}, "b": {Health: api.HealthAlive}},
		heard:   map[string]time.Time{},
		session: map[string]api.Recorder{},
	}
}

// records makes server record the camera from media start from.
func (r *gapRun) records(server string, from time.Time) {
	r.session[server] = api.Recorder{Server: server, State: sessionRecording, Since: from, From: from}
}

func (r *gapRun) setHealth(server, h string, heard time.Time) {
	r.health[server] = assign.Member{Health: h}
	r.heard[server] = heard
}

// pass observes at now with the sessions of alive and suspect servers.
func (r *gapRun) pass(now time.Time) {
	var recs []api.Recorder
	for srv, s := range r.session {
		if h := r.health[srv].Health; h == api.HealthAlive || h == api.HealthSuspect {
			recs = append(recs, s)
		}
	}
	o, c, x := r.g.observe(r.spec, assign.Result{Cameras: map[string]assign.Camera{"cam": {State: api.CameraCovered}}}, r.health,
		map[string][]api.Recorder{"cam": recs}, r.heard, now)
	r.opened = append(r.opened, o...)
	r.closed = append(r.closed, c...)
	r.retracted = append(r.retracted, x...)
}

// killed plays a's death: a records from 0, is last heard at 1.1 s and
// seen dead at 3 s; b's recording, with media from bFrom, is gossiped at
// 3.2 s.
func (r *gapRun) killed(bFrom time.Duration) {
	r.records("a", at(0))
	r.pass(at(time.Second))
	r.setHealth("a", api.HealthDead, at(1100*time.Millisecond))
	r.pass(at(3 * time.Second))
	if len(r.opened) != 0 {
		r.t.Fatalf("gap reported before it is confirmed or closed: %v", r.opened)
	}
	r.records("b", at(bFrom))
	r.pass(at(3200 * time.Millisecond))
}

// A suspect server still counts as recording: no gap.
func TestGapNotOnSuspicion(t *testing.T) {
	r := newGapRun(t)
	r.records("a", at(0))
	r.pass(at(time.Second))
	r.setHealth("a", api.HealthSuspect, at(time.Second))
	for i := 2; i < 10; i++ {
		r.pass(at(time.Duration(i) * time.Second))
	}
	if len(r.opened)+len(r.closed) > 0 {
		t.Fatalf("gaps while the server was only suspect: opened %v closed %v", r.opened, r.closed)
	}
}

// A killed server's gap runs from its last answer to the first frame of
// the backup's recording, however late the verdicts and the gossip.
func TestGapTimesFromTheMedia(t *testing.T) {
	r := newGapRun(t)
	// b's warm media starts at 1.6 s.
	r.killed(1600 * time.Millisecond)
	if len(r.opened) != 1 || len(r.closed) != 1 {
		t.Fatalf("opened %v closed %v, want one each", r.opened, r.closed)
	}
	g := r.closed[0]
	if !g.Start.Equal(at(1100*time.Millisecond)) || !g.End.Equal(at(1600*time.Millisecond)) || g.Cause != api.CauseServerFailure {
		t.Errorf("gap %v to %v (%s), want 1.1 s to 1.6 s (server failure)", g.Start.Sub(g0), g.End.Sub(g0), g.Cause)
	}
	if u := r.g.unreported(noneCommitted, g0); len(u) != 1 || !u[0].End.Equal(g.End) {
		t.Errorf("unreported gaps %+v, want the one closed", u)
	}
	// Once the site's history holds it (another observer's record, a
	// ping earlier), it is no longer this agent's to report.
	other := g
	other.Start = other.Start.Add(-100 * time.Millisecond)
	if u := r.g.unreported(func(string) []api.Gap { return []api.Gap{other} }, g0); len(u) != 0 {
		t.Errorf("unreported gaps %+v after the history took the gap", u)
	}
	if from, ok := r.g.recordedSince("cam"); !ok || !from.Equal(at(1600*time.Millisecond)) {
		t.Errorf("recorded since %v (%v), want since b's first frame at 1.6 s", from.Sub(g0), ok)
	}
}

// noneCommitted is a site history without gaps.
func noneCommitted(string) []api.Gap { return nil }

// A takeover whose media starts before the old server's ended left no
// hole: nothing is reported.
func TestGapCoveredByWarmMedia(t *testing.T) {
	r := newGapRun(t)
	r.killed(900 * time.Millisecond)
	if len(r.opened)+len(r.closed) > 0 {
		t.Fatalf("a covered hand-over reported: opened %v closed %v", r.opened, r.closed)
	}
}

// A gap that lasts is reported open once confirmed, then closed, and the
// history keeps every gap.
func TestGapConfirmedAndHistory(t *testing.T) {
	r := newGapRun(t)
	r.records("a", at(0))
	r.pass(at(time.Second))
	delete(r.session, "a") // a's session stopped (camera gone)
	r.pass(at(2 * time.Second))
	r.pass(at(2500 * time.Millisecond))
	if len(r.opened) != 0 {
		t.Fatalf("reported before the confirmation: %v", r.opened)
	}
	r.pass(at(3 * time.Second))
	if len(r.opened) != 1 || !r.opened[0].Start.Equal(at(2*time.Second)) {
		t.Fatalf("opened %v, want one from 2 s", r.opened)
	}
	r.records("a", at(5*time.Second))
	r.pass(at(6 * time.Second))
	if len(r.closed) != 1 || !r.closed[0].End.Equal(at(5*time.Second)) {
		t.Fatalf("closed %v, want one ending at 5 s", r.closed)
	}
	// A second gap.
	delete(r.session, "a")
	r.pass(at(10 * time.Second))
	r.records("a", at(10500*time.Millisecond))
	r.pass(at(10600 * time.Millisecond))
	if h := r.g.unreported(noneCommitted, g0); len(h) != 2 || !h[1].Start.Equal(at(10*time.Second)) {
		t.Fatalf("history %v, want two gaps", h)
	}
}

// A fast camera's backup takes over on suspicion, while the suspect
// server still counts as recording: when the server is then dead, the hole
// between its last answer and the backup's first frame is a gap.
func TestGapOfAFastTakeover(t *testing.T) {
	r := newGapRun(t)
	r.records("a", at(0))
	r.pass(at(time.Second))
	r.setHealth("a", api.HealthSuspect, at(1100*time.Millisecond))
	r.records("b", at(1700*time.Millisecond))
	r.pass(at(2 * time.Second))
	r.setHealth("a", api.HealthDead, at(1100*time.Millisecond))
	r.pass(at(3 * time.Second))
	if len(r.closed) != 1 || !r.closed[0].Start.Equal(at(1100*time.Millisecond)) || !r.closed[0].End.Equal(at(1700*time.Millisecond)) {
		t.Fatalf("closed %v, want one gap from 1.1 s to 1.7 s", r.closed)
	}
	// A constant copy that records all along covers the death: no gap.
	r = newGapRun(t)
	r.records("a", at(0))
	r.records("b", at(0))
	r.pass(at(time.Second))
	r.setHealth("a", api.HealthDead, at(1100*time.Millisecond))
	r.pass(at(3 * time.Second))
	if len(r.opened)+len(r.closed) > 0 {
		t.Fatalf("gap with a constant copy: opened %v closed %v", r.opened, r.closed)
	}
}

// A server cut off (seen dead) that kept recording comes back with media
// from before the gap: the gap is retracted.
func TestGapRetractedAfterAPartition(t *testing.T) {
	r := newGapRun(t)
	r.killed(1600 * time.Millisecond)
	if len(r.closed) != 1 {
		t.Fatalf("closed %v, want the gap seen during the partition", r.closed)
	}
	// Healed: a is alive again and its recording started at 0.
	r.setHealth("a", api.HealthAlive, at(10*time.Second))
	r.pass(at(10 * time.Second))
	if len(r.retracted) != 1 || len(r.g.unreported(noneCommitted, g0)) != 0 {
		t.Fatalf("retracted %v, unreported %v; want the gap retracted", r.retracted, r.g.unreported(noneCommitted, g0))
	}
}

// A camera that stalls: its recorder says failing only after the stall
// timeout, but the gap starts at its last frame, as far as it reached the
// file.
func TestGapOfAStalledCamera(t *testing.T) {
	r := newGapRun(t)
	r.records("a", at(0))
	r.pass(at(time.Second))
	r.session["a"] = api.Recorder{Server: "a", State: sessionFailing, Until: at(2 * time.Second), Cause: api.CauseStall}
	r.pass(at(5 * time.Second))
	// Its last part reaches the file after it said it fails.
	r.session["a"] = api.Recorder{Server: "a", State: sessionFailing, Until: at(2100 * time.Millisecond), Cause: api.CauseStall}
	r.pass(at(5500 * time.Millisecond))
	r.pass(at(7 * time.Second))
	if len(r.opened) != 1 || !r.opened[0].Start.Equal(at(2100*time.Millisecond)) || r.opened[0].Cause != api.CauseStall {
		t.Fatalf("opened %v, want a stall gap from 2.1 s", r.opened)
	}
}

// A recorder's own gap that fell between two passes (a dropped stream
// that reconnected at once) is a site gap when nobody else recorded the
// camera then; a restarted server's own restart gap over time its backup
// recorded is none, but for the part before the backup's media.
func TestGapOfARecordersOwn(t *testing.T) {
	r := newGapRun(t)
	r.records("a", at(0))
	r.pass(at(time.Second))
	r.records("a", at(5*time.Second))
	s := r.session["a"]
	s.GapFrom, s.Cause = at(4*time.Second), api.CauseDisconnect
	r.session["a"] = s
	r.pass(at(6 * time.Second))
	r.pass(at(7 * time.Second)) // looked at once
	if len(r.closed) != 1 || !r.closed[0].Start.Equal(at(4*time.Second)) || !r.closed[0].End.Equal(at(5*time.Second)) || r.closed[0].Cause != api.CauseDisconnect {
		t.Fatalf("closed %v, want the dropped stream's gap from 4 s to 5 s", r.closed)
	}

	// a restarts: its media ended at 10 s, b took over with media from
	// 10.5 s, a records again from 20 s while b still does.
	r = newGapRun(t)
	r.records("b", at(10500*time.Millisecond))
	r.pass(at(15 * time.Second))
	r.records("a", at(20*time.Second))
	s = r.session["a"]
	s.GapFrom, s.Cause = at(10*time.Second), api.CauseRestart
	r.session["a"] = s
	r.pass(at(21 * time.Second))
	if len(r.closed) != 1 || !r.closed[0].End.Equal(at(10500*time.Millisecond)) || r.closed[0].Cause != api.CauseServerFailure {
		t.Fatalf("closed %v, want only the takeover's 10 s to 10.5 s, a server failure", r.closed)
	}
}
