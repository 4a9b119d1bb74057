package proving

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"vigil/dev/camsim"
	"vigil/dev/devsite"
	"vigil/dev/proving/measure"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// Row is one line of the failover benchmark table.
type Row struct {
	Scenario   string
	Redundancy spec.Redundancy
	// Moved is the number of cameras whose recorders changed.
	Moved int
	// Detection is how long the survivors took to act on the failure
	// (suspect for fast and constant, dead for normal); 0 for failback.
	Detection time.Duration
	// Gap percentiles and maximum over the moved cameras.
	GapP50, GapP99, GapMax time.Duration
	// Lost is the frames lost over every camera of the site in the window,
	// except locked cameras of the failed server (dark by design: see
	// DarkLost); Duplicated the time two servers recorded the same camera,
	// summed.
	Lost       int
	DarkLost   int
	Dark       []string // locked cameras of the failed server
	Duplicated time.Duration
	// Cameras are the per-camera figures behind the row.
	Cameras map[string]measure.Camera
	// From and To bound the measured window.
	From, To time.Time
	// Skipped is the frames camsim itself failed to generate (overload),
	// SkippedBy the same per camera.
	Skipped   int64
	SkippedBy map[string]int64
	// WriteErrors is the RTP packets camsim could not queue for a reader
	// (a reader too slow to keep up).
	WriteErrors int64
}

// WriteTable prints rows as the benchmark table. "camsim skipped" is the
// frames the simulator could not generate because the machine was
// overloaded: they are not counted as lost, but the holes they leave show
// in the gap columns.
func WriteTable(w io.Writer, rows []Row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tredundancy\tmoved\tdetection\tgap p50\tgap p99\tgap max\tframes lost\tduplicated s\tcamsim skipped\t")
	for _, r := range rows {
		det := "-"
		if r.Detection > 0 {
			det = secs(r.Detection)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%.1f\t%d\t\n", r.Scenario, r.Redundancy, r.Moved, det,
			secs(r.GapP50), secs(r.GapP99), secs(r.GapMax), r.Lost, r.Duplicated.Seconds(), r.Skipped)
	}
	tw.Flush()
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s" }

// window is a measured span of a scenario.
type window struct {
	from, to time.Time
	moved    []string // cameras expected to move in it
	dark     []string // locked cameras of the failed server
	stats0   map[string]camsim.PathStats
	stats1   map[string]camsim.PathStats
}

// analyze measures a window from the recordings.
func analyze(rec measure.Site, w window, scenario string, redundancy spec.Redundancy, detection time.Duration, allCams []string) Row {
	row := Row{Scenario: scenario, Redundancy: redundancy, Moved: len(w.moved), Detection: detection,
		Cameras: map[string]measure.Camera{}, SkippedBy: map[string]int64{}, Dark: w.dark, From: w.from, To: w.to}
	var gaps []time.Duration
	for _, cam := range allCams {
		c := measure.Analyze(cam, rec[cam], w.from, w.to, Period)
		skipped := w.stats1[cam].Skipped - w.stats0[cam].Skipped
		row.Skipped += skipped
		row.WriteErrors += w.stats1[cam].WriteErrors - w.stats0[cam].WriteErrors
		if skipped > 0 {
			row.SkippedBy[cam] = skipped
		}
		c.Lost = max(0, c.Lost-int(skipped))
		row.Cameras[cam] = c
		if slices.Contains(w.dark, cam) {
			row.DarkLost += c.Lost
			continue
		}
		row.Lost += c.Lost
		row.Duplicated += c.Duplicated
		if slices.Contains(w.moved, cam) {
			gaps = append(gaps, c.Gap)
		}
	}
	row.GapP50 = measure.Percentile(gaps, 50)
	row.GapP99 = measure.Percentile(gaps, 99)
	row.GapMax = measure.Percentile(gaps, 100)
	return row
}

// detect waits until observer's state shows victim in one of health and
// returns how long after since that health began.
func (s *Site) detect(ctx context.Context, observer, victim string, since time.Time, health ...string) (time.Duration, error) {
	var seen time.Time
	_, err := s.Wait(ctx, observer, func(st *api.State) bool {
		for _, ss := range st.Servers {
			if ss.Name == victim && slices.Contains(health, ss.Health) {
				seen = ss.Since
				if seen.IsZero() || seen.Before(since) {
					seen = time.Now()
				}
				return true
			}
		}
		return false
	})
	if err != nil {
		return 0, fmt.Errorf("%s never saw %s %v: %w", observer, victim, health, err)
	}
	return seen.Sub(since), nil
}

// camerasOf lists the cameras whose primary is server, split by lock.
func (s *Site) camerasOf(server string) (unlocked, locked []string) {
	for _, c := range s.Spec().Cameras {
		if c.Server != server {
			continue
		}
		if c.Locked {
			locked = append(locked, c.Name)
		} else {
			unlocked = append(unlocked, c.Name)
		}
	}
	return unlocked, locked
}

func (s *Site) cameraNames() []string {
	var out []string
	for _, c := range s.Spec().Cameras {
		out = append(out, c.Name)
	}
	return out
}

// settle is how long recording runs undisturbed before and after a fault,
// so that windows start and end in steady recording.
const settle = 4 * time.Second

// flushWait is how long after a window the recordings are read: a part
// reaches the file about a second after its first frame, later when the
// writer lags under load (seen at 200 1080p cameras on 2 cores).
const flushWait = 5 * time.Second

// FailoverOptions choose how a server fails in RunFailover.
type FailoverOptions struct {
	// Victim is the server that fails (default the last one).
	Victim string
	// Partition cuts the victim off the site network instead of killing
	// it; it keeps its cameras.
	Partition bool
	// Timeout bounds each wait for the site to converge (default 60s).
	Timeout time.Duration
}

// RunFailover fails a server, waits for its cameras to be taken over,
// brings it back, waits for failback, and measures both windows from the
// recordings. It fails t on anything the scenarios promise regardless of
// scale: takeover and failback complete, locked cameras reported dark,
// other servers' cameras left alone.
func (s *Site) RunFailover(fo FailoverOptions) (failure, failback Row) {
	t := s.T
	t.Helper()
	if fo.Victim == "" {
		fo.Victim = s.Servers[len(s.Servers)-1].Name
	}
	if fo.Timeout == 0 {
		fo.Timeout = 60 * time.Second
	}
	observer := s.Servers[0].Name
	if observer == fo.Victim {
		observer = s.Servers[1].Name
	}
	redundancy := s.Opts.Redundancy
	unlocked, locked := s.camerasOf(fo.Victim)
	down := map[string]bool{fo.Victim: true}
	ctx, cancel := context.WithTimeout(context.Background(), 10*fo.Timeout)
	defer cancel()
	wctx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, fo.Timeout) }

	c, cn := wctx()
	before, err := s.WaitRecording(c, observer, s.Expected(nil))
	cn()
	if err != nil {
		t.Fatalf("site not recording as planned before the failure: %v\n%s", err, s.Logs())
	}
	time.Sleep(settle)
	w1 := window{from: time.Now()}
	if st, err := s.Client(observer).State(ctx); err == nil {
		var load []string
		for _, ss := range st.Servers {
			load = append(load, fmt.Sprintf("%s %d cameras %.0f%% CPU %d MB", ss.Name, ss.Recording, ss.CPUPercent, ss.MemoryBytes>>20))
		}
		t.Logf("steady state: %s", strings.Join(load, ", "))
	}
	if w1.stats0, err = s.CamStats(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	// A server seen late while all are up costs warm sessions for nothing.
	t.Logf("before the failure: %d takeover.ready events (false alarms) on all servers", s.countEvents(ctx, spec.EventTakeoverReady))

	// The failure.
	failAt := time.Now()
	if fo.Partition {
		if err := s.Server(fo.Victim).SiteNet.Cut(); err != nil {
			t.Fatal(err)
		}
	} else {
		s.Kill(fo.Victim)
	}
	health := []string{api.HealthDead}
	if redundancy != spec.RedundancyNormal {
		health = append(health, api.HealthSuspect)
	}
	c, cn = wctx()
	detection, err := s.detect(c, observer, fo.Victim, failAt, health...)
	cn()
	if err != nil {
		t.Fatalf("%v\n%s", err, s.Logs())
	}
	c, cn = wctx()
	after, err := s.WaitRecording(c, observer, s.Expected(down))
	cn()
	if err != nil {
		t.Fatalf("cameras of %s not taken over: %v\n%s", fo.Victim, err, s.Logs())
	}
	takenAt := time.Since(failAt)
	for _, cs := range after.Cameras {
		if slices.Contains(locked, cs.Name) && cs.State != api.CameraDark {
			t.Errorf("locked camera %s of the failed server is %q in the state, want %q", cs.Name, cs.State, api.CameraDark)
		}
	}
	// Nothing else moves: every recorder of a healthy server's camera keeps
	// recording it (a constant copy that was on the victim is replaced,
	// which adds a recorder but removes none).
	for _, cs := range before.Cameras {
		if cs.Server == fo.Victim {
			continue
		}
		b, a := devsite.Recorders(before, cs.Name), devsite.Recorders(after, cs.Name)
		for _, r := range b {
			if r != fo.Victim && !slices.Contains(a, r) {
				t.Errorf("camera %s of a healthy server moved: recorded by %v before, %v after", cs.Name, b, a)
				break
			}
		}
	}
	time.Sleep(settle)
	w1.to = time.Now()
	if w1.stats1, err = s.CamStats(ctx); err != nil {
		t.Fatal(err)
	}
	w1.moved, w1.dark = unlocked, locked
	t.Logf("%s failed (%s): %s saw it after %v; takeover complete in state after %v", fo.Victim,
		map[bool]string{true: "cut off", false: "kill -9"}[fo.Partition], observer, detection.Round(time.Millisecond), takenAt.Round(time.Millisecond))

	// The return.
	w2 := window{from: w1.to, stats0: w1.stats1}
	if fo.Partition {
		if err := s.Server(fo.Victim).SiteNet.Heal(); err != nil {
			t.Fatal(err)
		}
	} else if err := s.Start(fo.Victim); err != nil {
		t.Fatal(err)
	}
	backAt := time.Now()
	c, cn = wctx()
	_, err = s.WaitRecording(c, observer, s.Expected(nil))
	cn()
	if err != nil {
		t.Fatalf("no failback after %s returned: %v\n%s", fo.Victim, err, s.Logs())
	}
	// The victim's own view must agree: one recorder set per camera.
	c, cn = wctx()
	_, err = s.WaitRecording(c, fo.Victim, s.Expected(nil))
	cn()
	if err != nil {
		t.Fatalf("%s disagrees after its return: %v\n%s", fo.Victim, err, s.Logs())
	}
	t.Logf("%s back: failback complete in state after %v", fo.Victim, time.Since(backAt).Round(time.Millisecond))
	time.Sleep(settle)
	w2.to = time.Now()
	if w2.stats1, err = s.CamStats(ctx); err != nil {
		t.Fatal(err)
	}
	w2.moved, w2.dark = unlocked, locked
	time.Sleep(flushWait)

	rec, err := s.Recordings()
	if err != nil {
		t.Fatal(err)
	}
	name := "kill -9"
	if fo.Partition {
		name = "partition"
	}
	all := s.cameraNames()
	failure = analyze(rec, w1, name, redundancy, detection, all)
	failback = analyze(rec, w2, name+" failback", redundancy, 0, all)
	// When the takeover started and ended, relative to the failure: the
	// last frame the failed server stored and the first frame of its
	// replacement, over the moved cameras that had a gap.
	var lastOld, firstNew []time.Duration
	for _, cam := range unlocked {
		if c := failure.Cameras[cam]; c.Gap > 0 {
			lastOld = append(lastOld, c.GapStart.Sub(failAt))
			firstNew = append(firstNew, c.GapEnd.Sub(failAt))
		}
	}
	if len(lastOld) > 0 {
		t.Logf("takeover of %d cameras: last stored frame of %s at %v (p50) after the failure, first frame on the backup at %v (p50) / %v (max)",
			len(lastOld), fo.Victim, measure.Percentile(lastOld, 50).Round(time.Millisecond),
			measure.Percentile(firstNew, 50).Round(time.Millisecond), measure.Percentile(firstNew, 100).Round(time.Millisecond))
	}
	for _, row := range []Row{failure, failback} {
		for _, cam := range all {
			c := row.Cameras[cam]
			// A camera camsim itself starved (it skipped frames: the
			// machine is overloaded) is no evidence against the site.
			if !slices.Contains(unlocked, cam) && !slices.Contains(locked, cam) && c.Gap > time.Second && row.SkippedBy[cam] == 0 {
				t.Errorf("%s: camera %s of a healthy server has a %v gap from %s to %s", row.Scenario, cam,
					c.Gap.Round(time.Millisecond), c.GapStart.Format("15:04:05.000"), c.GapEnd.Format("15:04:05.000"))
			}
		}
		if row.Skipped > 0 {
			t.Logf("%s: camsim fell behind and skipped %d frames (not counted as lost)", row.Scenario, row.Skipped)
		}
		if row.WriteErrors > 0 {
			t.Logf("%s: camsim could not queue %d RTP packets for slow readers", row.Scenario, row.WriteErrors)
		}
	}
	return failure, failback
}

// describeWorst names the cameras with the largest gaps of a row.
func describeWorst(r Row, n int) string {
	cams := make([]measure.Camera, 0, len(r.Cameras))
	for _, c := range r.Cameras {
		cams = append(cams, c)
	}
	slices.SortFunc(cams, func(a, b measure.Camera) int { return int(b.Gap - a.Gap) })
	var parts []string
	for _, c := range cams[:min(n, len(cams))] {
		parts = append(parts, fmt.Sprintf("%s gap %v (%s..%s) lost %d dup %.1fs per-server %v", c.Camera, c.Gap.Round(time.Millisecond),
			c.GapStart.Format("15:04:05.000"), c.GapEnd.Format("15:04:05.000"), c.Lost, c.Duplicated.Seconds(), c.PerServer))
	}
	return strings.Join(parts, "\n")
}

// countEvents counts the events of kind in every live server's history.
func (s *Site) countEvents(ctx context.Context, kind string) int {
	n := 0
	for _, srv := range s.Servers {
		c, cancel := context.WithTimeout(ctx, time.Second) // the history, then no more
		events, err := s.Client(srv.Name).Events(c)
		if err == nil {
			for ev := range events {
				if ev.Kind == kind {
					n++
				}
			}
		}
		cancel()
	}
	return n
}
