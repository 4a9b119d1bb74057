// Package balance is vigil's storage balancer: it moves cameras between the
// recording servers of a site so that they fill their disks at about the
// same rate. Plan is a pure function (no I/O, no clock): the master's leader
// loop calls it with the committed spec, the replicated daily statistics,
// the balancing moves in force, the live servers and the time, and commits
// the overrides it returns; `vigil balance report` shows the same Plan.
//
// # Load
//
// A camera's rate is its recorded bytes per day over the period: the bytes
// every server recorded of it on the UTC days of the period (so a day split
// by a failover or a move counts whole), halved for a constant-redundancy
// camera (recorded twice), divided by the days of the period that have
// statistics at all (a young site is not diluted by empty days). The
// period is the last Days complete days before Now (default: history_days),
// so a site has no statistics to balance on its first day. A server's load is the sum of the rates of the
// cameras whose main server it is: the server of a balancing move in force,
// otherwise the camera's primary. Failover is not load: a camera covered by
// a backup still counts on its main server.
//
// # Who takes part
//
// Only live recording servers are balanced: standby, witness and virtual
// servers and servers that are not alive are shown but never gain or lose a
// camera. A camera may move when it is not locked, its balance attribute is
// true, it matches the balancing block's cameras (names or glob patterns;
// empty means all) and labels (all must match), its main server takes part,
// and its last move is at least min_days_between_moves old. Its target must
// be a live recording server with room under max_cameras (counting the
// cameras whose main server it is) and, for a constant-redundancy camera,
// not one of its own backups: that server already holds its constant copy,
// so the move would double the copy's storage there instead of spreading it.
//
// # Moves
//
// The servers are balanced when every one is within tolerance_percent of the
// mean load. Otherwise the balancer moves, one at a time, the camera whose
// move most reduces the spread of loads (the sum of squared differences to
// the mean), from a server to one at least a tolerance below it, and stops
// as soon as every server is within the tolerance. A move never overshoots:
// its target may not end more than the tolerance above its source, so a
// camera is never moved only to swap an imbalance, and every move strictly
// reduces the spread. So a balanced site stays still, a repeated run on its
// own result makes no move (no flip-flopping), each camera moves at most once
// per run, and the biggest useful moves come first, which keeps their
// number small (greedy: few moves, not a proven minimum).
//
// A move is an api.Override with its time (Since). A move back to the
// camera's primary keeps an override that names the primary (assign ignores
// it) so that the camera's last move time is remembered; such records are
// dropped once older than min_days_between_moves. Overrides of cameras that
// left the spec are dropped; overrides of cameras that may no longer move
// (locked, balance = false, no longer selected) or whose server cannot
// record any more are dropped too, which sends the camera back to its
// primary.
//
// # Window
//
// The master applies moves only while the window is open: the hour window of
// the site's time zone (it may cross midnight), on the listed weekdays. The
// weekday of a window that crosses midnight is the day it opens: a
// Saturday 22:00-02:00 window is open on Sunday at 01:00.
package balance

import (
	"cmp"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// Input is everything a balancing decision depends on.
type Input struct {
	// Spec is the committed site spec; nil gives an empty report.
	Spec *spec.Site
	// Stats are the site's daily recorded bytes (at least the period).
	Stats []api.DailyStat
	// Overrides are the balancing moves in force.
	Overrides []api.Override
	// Alive lists the servers that membership sees alive.
	Alive map[string]bool
	// Now is the time of the decision.
	Now time.Time
	// Days is the statistics period; 0 means the site's history_days.
	Days int
}

// Result is a balancing decision.
type Result struct {
	// Report describes the loads and the moves, whether balancing is enabled
	// and the window open or not.
	Report api.BalanceReport
	// Overrides is the full list of overrides after the moves; Changed says
	// whether it differs from the input. The master commits it only while
	// balancing is enabled and the window is open (Apply).
	Overrides []api.Override
	Changed   bool
}

// Apply reports whether the master should commit Overrides now.
func (r Result) Apply() bool { return r.Report.Enabled && r.Report.InWindow && r.Changed }

// Settings returns the site's balancing block, or the defaults with
// balancing disabled when the site has none.
func Settings(s *spec.Site) spec.Balancing {
	if s != nil && s.Balancing != nil {
		b := *s.Balancing
		if b.HistoryDays <= 0 {
			b.HistoryDays = spec.DefaultHistoryDays
		}
		if b.TolerancePercent <= 0 {
			b.TolerancePercent = spec.DefaultTolerance
		}
		return b
	}
	return spec.Balancing{HistoryDays: spec.DefaultHistoryDays, MinDaysBetweenMoves: spec.DefaultMinDaysBetween,
		Window: spec.HourWindow{StartMinute: 0, EndMinute: 24 * 60}, TolerancePercent: spec.DefaultTolerance}
}

// Window reports whether now lies inside the balancing window (in loc), when
// the window opens next (zero while inside, or when it never opens), and
// when the current window closes (zero outside).
func Window(b spec.Balancing, loc *time.Location, now time.Time) (inside bool, next, ends time.Time) {
	w := b.Window
	if w.StartMinute == w.EndMinute {
		return false, time.Time{}, time.Time{} // an empty window never opens
	}
	day := func(weekday time.Weekday) bool { return len(b.Weekdays) == 0 || slices.Contains(b.Weekdays, weekday) }
	local := now.In(loc)
	y, mo, d := local.Date()
	m := local.Hour()*60 + local.Minute()
	if w.Contains(m) {
		opened := d
		if w.StartMinute > w.EndMinute && m < w.EndMinute {
			opened-- // still the window that opened yesterday
		}
		if open := time.Date(y, mo, opened, 0, 0, 0, 0, loc); day(open.Weekday()) {
			end := time.Date(y, mo, opened, 0, w.EndMinute, 0, 0, loc)
			if w.StartMinute > w.EndMinute {
				end = time.Date(y, mo, opened+1, 0, w.EndMinute, 0, 0, loc)
			}
			return true, time.Time{}, end
		}
	}
	for i := 0; i <= 7; i++ {
		start := time.Date(y, mo, d+i, 0, w.StartMinute, 0, 0, loc)
		if start.After(now) && day(time.Date(y, mo, d+i, 0, 0, 0, 0, loc).Weekday()) {
			return false, start, time.Time{}
		}
	}
	return false, time.Time{}, time.Time{}
}

// selected reports whether the balancing block lets camera c move, and why
// not.
func selected(b spec.Balancing, c *spec.Camera) (bool, string) {
	switch {
	case c.Locked:
		return false, "locked"
	case !c.Balance:
		return false, "balance = false"
	}
	if len(b.Cameras) > 0 {
		match := false
		for _, p := range b.Cameras {
			if ok, _ := path.Match(p, c.Name); ok || p == c.Name {
				match = true
				break
			}
		}
		if !match {
			return false, "not in balancing.cameras"
		}
	}
	for k, v := range b.Labels {
		if c.Labels[k] != v {
			return false, fmt.Sprintf("label %s is not %q", k, v)
		}
	}
	return true, ""
}

type server struct {
	spec     *spec.Server
	balanced bool
	load     float64
	count    int
	// load and count before the moves, for the report.
	loadBefore  float64
	countBefore int
}

type camera struct {
	spec    *spec.Camera
	main    string
	rate    float64
	movable bool
	why     string
	moved   bool
	backups []string
	before  string  // main server before the moves
	at      *server // main server, while balancing (movable cameras only)
}

// Plan computes the loads and the moves the balancer makes at in.Now.
func Plan(in Input) Result {
	b := Settings(in.Spec)
	days := in.Days
	if days <= 0 {
		days = b.HistoryDays
	}
	to := in.Now.UTC().AddDate(0, 0, -1)
	from := to.AddDate(0, 0, -(days - 1))
	rep := api.BalanceReport{Now: in.Now, Days: days, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly),
		TolerancePercent: b.TolerancePercent, Servers: []api.BalanceServer{}, Cameras: []api.BalanceCamera{}, Moves: []api.BalanceMove{}}
	if in.Spec == nil {
		rep.Message = "no site spec has been committed yet"
		return Result{Report: rep, Overrides: in.Overrides}
	}
	site := in.Spec
	rep.Enabled = site.Balancing != nil && site.Balancing.Enabled
	rep.TimeZone = cmp.Or(site.TimeZone, spec.DefaultTimeZone)
	loc, err := time.LoadLocation(rep.TimeZone)
	if err != nil {
		loc = time.UTC
		rep.TimeZone = "UTC"
	}
	rep.InWindow, rep.NextWindow, rep.WindowEnds = Window(b, loc, in.Now)
	rep.Window = windowText(b)

	// Rates: every server's bytes of the period, per copy.
	dates := map[string]bool{}
	total := map[string]int64{}
	for _, s := range in.Stats {
		if s.Date < rep.From || s.Date > rep.To {
			continue
		}
		dates[s.Date] = true
		total[s.Camera] += s.Bytes
	}
	rep.DaysWithData = len(dates)

	servers := map[string]*server{}
	var order []*server
	for _, s := range site.Servers {
		v := &server{spec: s, balanced: s.Kind == spec.KindRecording && in.Alive[s.Name]}
		servers[s.Name] = v
		order = append(order, v)
	}
	canRecord := func(name string) bool {
		s := servers[name]
		return s != nil && s.spec.Kind.CanRecord()
	}

	last := assign.LatestOverrides(in.Overrides)
	minGap := time.Duration(b.MinDaysBetweenMoves) * 24 * time.Hour
	keep := map[string]api.Override{}
	var returns []api.BalanceMove
	cams := make([]*camera, 0, len(site.Cameras))
	for _, c := range site.Cameras {
		cm := &camera{spec: c, main: c.Server, backups: site.BackupServers(c)}
		if rep.DaysWithData > 0 {
			cm.rate = float64(total[c.Name]) / float64(rep.DaysWithData)
			if c.Redundancy == spec.RedundancyConstant {
				cm.rate /= 2
			}
		}
		sel, why := selected(b, c)
		if o, ok := last[c.Name]; ok {
			switch {
			case !sel || !canRecord(o.Server):
				// Dropped. Assign already ignores overrides of locked
				// cameras and of servers that cannot record; for the
				// others, dropping is a move back to the primary.
				if !c.Locked && canRecord(o.Server) && o.Server != c.Server {
					returns = append(returns, api.BalanceMove{Camera: c.Name, From: o.Server, To: c.Server, BytesPerDay: cm.rate,
						Reason: why + ": back to its primary"})
				}
			case o.Server == c.Server:
				if in.Now.Sub(o.Since) < minGap {
					keep[c.Name] = o // remembers the return home
				}
			default:
				keep[c.Name] = o
				cm.main = o.Server
			}
		}
		s := servers[cm.main]
		moved := keep[c.Name].Since
		switch {
		case !sel:
			cm.why = why
		case s == nil:
			cm.why = fmt.Sprintf("its server %s is not a server of this site", cm.main)
		case !s.balanced:
			cm.why = fmt.Sprintf("its server %s is not balanced (%s)", cm.main, notBalancedWhy(s.spec, in.Alive))
		case moved.After(in.Now.Add(-minGap)) && !moved.IsZero():
			cm.why = fmt.Sprintf("moved %s, less than %d days ago", moved.UTC().Format("2006-01-02 15:04"), b.MinDaysBetweenMoves)
		default:
			cm.movable = true
			cm.at = s
		}
		cm.before = cm.main
		if s != nil {
			s.count++
			if s.balanced {
				s.load += cm.rate
			}
		}
		cams = append(cams, cm)
	}
	slices.SortFunc(cams, func(x, y *camera) int { return cmp.Compare(x.spec.Name, y.spec.Name) })
	// Loads of servers outside balancing still show their cameras' rates;
	// moves never touch them, so before and after are the same.
	for _, c := range cams {
		if s := servers[c.main]; s != nil && !s.balanced {
			s.load += c.rate
		}
	}

	var bal []*server
	sum := 0.0
	for _, s := range order {
		s.loadBefore, s.countBefore = s.load, s.count
		if s.balanced {
			bal = append(bal, s)
			sum += s.load
		}
	}
	mean := 0.0
	if len(bal) > 0 {
		mean = sum / float64(len(bal))
	}
	rep.MeanBytesPerDay = mean
	tol := mean * b.TolerancePercent / 100

	var moves []api.BalanceMove
	newOv := map[string]api.Override{}
	switch {
	case rep.DaysWithData == 0:
		rep.Message = fmt.Sprintf("no recording statistics from %s to %s yet: nothing to balance", rep.From, rep.To)
	case len(bal) < 2:
		rep.Message = "fewer than two live recording servers: nothing to balance"
	default:
		moves = greedy(cams, bal, mean, tol)
		for _, mv := range moves {
			newOv[mv.Camera] = api.Override{Camera: mv.Camera, From: mv.From, Server: mv.To, Since: in.Now, Reason: mv.Reason}
		}
	}
	rep.Moves = append(append(rep.Moves, returns...), moves...)

	// The override list after the moves, sorted by camera.
	out := make([]api.Override, 0, len(keep)+len(newOv))
	for name, o := range keep {
		if _, moved := newOv[name]; !moved {
			out = append(out, o)
		}
	}
	for _, o := range newOv {
		out = append(out, o)
	}
	slices.SortFunc(out, func(x, y api.Override) int { return cmp.Compare(x.Camera, y.Camera) })

	for _, s := range order {
		bs := api.BalanceServer{Name: s.spec.Name, Kind: s.spec.Kind, Balanced: s.balanced, MaxCameras: s.spec.MaxCameras,
			BytesPerDay: s.loadBefore, Cameras: s.countBefore,
			BytesPerDayAfter: s.load, CamerasAfter: s.count}
		if !s.balanced {
			bs.Why = notBalancedWhy(s.spec, in.Alive)
		}
		rep.Servers = append(rep.Servers, bs)
	}
	for _, c := range cams {
		bc := api.BalanceCamera{Name: c.spec.Name, Primary: c.spec.Server, Server: c.before, BytesPerDay: c.rate, Movable: c.movable, Why: c.why}
		if o, ok := keep[c.spec.Name]; ok {
			bc.LastMove = o.Since
		}
		rep.Cameras = append(rep.Cameras, bc)
	}
	if rep.Message == "" {
		rep.Message = message(rep, len(bal), tol)
	}
	return Result{Report: rep, Overrides: out, Changed: !sameOverrides(in.Overrides, out)}
}

func message(rep api.BalanceReport, n int, tol float64) string {
	var what string
	if len(rep.Moves) == 0 {
		what = fmt.Sprintf("the %d live recording servers are balanced: no move improves them by more than the tolerance (%s)", n, FormatRate(tol))
	} else {
		moves := fmt.Sprintf("%d moves bring", len(rep.Moves))
		if len(rep.Moves) == 1 {
			moves = "1 move brings"
		}
		what = fmt.Sprintf("%s the %d live recording servers closest to equal (tolerance %s)", moves, n, FormatRate(tol))
	}
	switch {
	case !rep.Enabled:
		return what + "; balancing is disabled, nothing is moved"
	case rep.InWindow:
		return what + "; the window is open"
	case rep.NextWindow.IsZero():
		return what + "; the window never opens"
	default:
		return what + "; moves wait for the window"
	}
}

func windowText(b spec.Balancing) string {
	w := b.Window
	s := fmt.Sprintf("%02d:%02d-%02d:%02d", w.StartMinute/60, w.StartMinute%60, w.EndMinute/60, w.EndMinute%60)
	if len(b.Weekdays) > 0 {
		days := make([]string, len(b.Weekdays))
		for i, d := range b.Weekdays {
			days[i] = d.String()[:3]
		}
		s += " on " + strings.Join(days, ", ")
	}
	return s
}

func notBalancedWhy(s *spec.Server, alive map[string]bool) string {
	if s.Kind != spec.KindRecording {
		return string(s.Kind) + " server"
	}
	if !alive[s.Name] {
		return "not alive"
	}
	return ""
}

// greedy moves cameras between balanced servers (see the package doc) and
// updates the servers' loads, counts and the cameras' main servers.
func greedy(cams []*camera, bal []*server, mean, tol float64) []api.BalanceMove {
	balanced := func() bool {
		for _, s := range bal {
			if math.Abs(s.load-mean) > tol {
				return false
			}
		}
		return true
	}
	var moves []api.BalanceMove
	byLoad := slices.Clone(bal)
	for !balanced() {
		// For a camera, the least loaded target that takes it gives the
		// largest drop (the drop grows with the gap), so each camera
		// looks at its first fitting target in load order.
		slices.SortStableFunc(byLoad, func(x, y *server) int { return cmp.Compare(x.load, y.load) })
		var best *camera
		var bestTo *server
		bestGain := 0.0
		for _, c := range cams {
			if !c.movable || c.moved || c.rate <= 0 {
				continue
			}
			h := c.at
			for _, t := range byLoad {
				gap := h.load - t.load
				if gap <= tol {
					break // the rest are no lighter by more than the tolerance
				}
				if !fits(c, t) {
					continue
				}
				if 2*c.rate > gap+tol {
					break // overshoots: the target would end above the source by more than the tolerance
				}
				// Ties keep the first camera by name.
				if gain := 2 * c.rate * (gap - c.rate); gain > bestGain { // the drop of the sum of squared deviations
					best, bestTo, bestGain = c, t, gain
				}
				break
			}
		}
		if best == nil {
			break
		}
		h := best.at
		reason := fmt.Sprintf("%s %s → %s, %s %s → %s (mean %s)",
			h.spec.Name, spec.FormatSize(h.load), FormatRate(h.load-best.rate),
			bestTo.spec.Name, spec.FormatSize(bestTo.load), FormatRate(bestTo.load+best.rate), FormatRate(mean))
		moves = append(moves, api.BalanceMove{Camera: best.spec.Name, From: h.spec.Name, To: bestTo.spec.Name, BytesPerDay: best.rate, Reason: reason})
		h.load -= best.rate
		h.count--
		bestTo.load += best.rate
		bestTo.count++
		best.main, best.at = bestTo.spec.Name, bestTo
		best.moved = true
	}
	return moves
}

// fits reports whether camera c may move to server t.
func fits(c *camera, t *server) bool {
	if t.spec.MaxCameras > 0 && t.count >= t.spec.MaxCameras {
		return false
	}
	if c.spec.Redundancy == spec.RedundancyConstant && t.spec.Name != c.spec.Server && slices.Contains(c.backups, t.spec.Name) {
		return false
	}
	return true
}

func sameOverrides(a, b []api.Override) bool {
	if len(a) != len(b) {
		return false
	}
	x := slices.Clone(a)
	slices.SortFunc(x, func(p, q api.Override) int { return cmp.Compare(p.Camera, q.Camera) })
	for i := range x {
		if x[i].Camera != b[i].Camera || x[i].Server != b[i].Server || x[i].From != b[i].From || !x[i].Since.Equal(b[i].Since) {
			return false
		}
	}
	return true
}

// FormatRate writes bytes per day for people: "31.2 GB/day" (decimal units).
func FormatRate(bytesPerDay float64) string {
	return spec.FormatSize(bytesPerDay) + "/day"
}
