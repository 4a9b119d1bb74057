package balance

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

const gb = 1e9

// day0 is a Monday, 03:00 UTC.
var day0 = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

// site builds a spec: servers a, b, c (recording), cameras with their
// primary; balancing enabled, window 01:00-05:00, every day.
func site(cams map[string]string) *spec.Site {
	s := &spec.Site{Name: "s", TimeZone: "UTC", Failback: true,
		Balancing: &spec.Balancing{Enabled: true, HistoryDays: 7, MinDaysBetweenMoves: 7,
			Window: spec.HourWindow{StartMinute: 60, EndMinute: 300}, TolerancePercent: 10}}
	for _, n := range []string{"a", "b", "c"} {
		s.Servers = append(s.Servers, &spec.Server{Name: n, Kind: spec.KindRecording})
	}
	for _, name := range slices.Sorted(maps.Keys(cams)) {
		s.Cameras = append(s.Cameras, &spec.Camera{Name: name, Server: cams[name], Redundancy: spec.RedundancyNormal, Balance: true})
	}
	return s
}

// stats gives each camera rate GB per day on its given server for the 7 days before now.
func stats(now time.Time, rates map[string]float64, on map[string]string) []api.DailyStat {
	var out []api.DailyStat
	for d := 1; d <= 7; d++ {
		date := now.UTC().AddDate(0, 0, -d).Format(time.DateOnly)
		for cam, r := range rates {
			out = append(out, api.DailyStat{Server: on[cam], Camera: cam, Date: date, Bytes: int64(r * gb)})
		}
	}
	return out
}

func alive(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func unequal() (*spec.Site, []api.DailyStat) {
	on := map[string]string{"cam1": "a", "cam2": "a", "cam3": "a", "cam4": "a", "cam5": "b", "cam6": "c"}
	rates := map[string]float64{"cam1": 10, "cam2": 10, "cam3": 10, "cam4": 10, "cam5": 10, "cam6": 10}
	return site(on), stats(day0, rates, on)
}

func loads(r Result) map[string]float64 {
	m := map[string]float64{}
	for _, s := range r.Report.Servers {
		m[s.Name] = s.BytesPerDayAfter / gb
	}
	return m
}

func TestMovesFewestToEqual(t *testing.T) {
	spec, st := unequal()
	r := Plan(Input{Spec: spec, Stats: st, Alive: alive("a", "b", "c"), Now: day0})
	if !r.Apply() {
		t.Fatalf("Apply() = false; report %+v", r.Report)
	}
	// 40/10/10 → 20/20/20 needs exactly two moves.
	if len(r.Report.Moves) != 2 {
		t.Fatalf("moves = %+v, want 2", r.Report.Moves)
	}
	if l := loads(r); l["a"] != 20 || l["b"] != 20 || l["c"] != 20 {
		t.Fatalf("loads after = %v, want 20 each", l)
	}
	for _, m := range r.Report.Moves {
		if m.From != "a" || m.Reason == "" || !strings.Contains(m.Reason, "GB/day") {
			t.Errorf("move %+v: want from a with a reason in GB/day", m)
		}
	}
	if len(r.Overrides) != 2 || !r.Overrides[0].Since.Equal(day0) {
		t.Fatalf("overrides = %+v", r.Overrides)
	}
}

func TestNoFlipFlop(t *testing.T) {
	spec, st := unequal()
	in := Input{Spec: spec, Stats: st, Alive: alive("a", "b", "c"), Now: day0}
	r := Plan(in)
	// Feed the result back at every later run, well past min days: the site
	// stays still.
	for i := 1; i <= 5; i++ {
		in.Overrides = r.Overrides
		in.Now = day0.AddDate(0, 0, 8*i)
		in.Stats = append(in.Stats, stats(in.Now, map[string]float64{"cam1": 10, "cam2": 10, "cam3": 10, "cam4": 10, "cam5": 10, "cam6": 10}, mainOf(spec, r.Overrides))...)
		r = Plan(in)
		if len(r.Report.Moves) != 0 {
			t.Fatalf("run %d moved again: %+v", i, r.Report.Moves)
		}
	}
}

func mainOf(spec *spec.Site, ov []api.Override) map[string]string {
	m := map[string]string{}
	for _, c := range spec.Cameras {
		m[c.Name] = c.Server
	}
	for _, o := range ov {
		m[o.Camera] = o.Server
	}
	return m
}

func TestBalancedSiteStaysStill(t *testing.T) {
	on := map[string]string{"cam1": "a", "cam2": "b", "cam3": "c", "cam4": "a"}
	// a: 10.5, b: 10, c: 10 → within 10% of the mean.
	rates := map[string]float64{"cam1": 10, "cam2": 10, "cam3": 10, "cam4": 0.5}
	r := Plan(Input{Spec: site(on), Stats: stats(day0, rates, on), Alive: alive("a", "b", "c"), Now: day0})
	if len(r.Report.Moves) != 0 || r.Changed {
		t.Fatalf("moves = %+v, changed %v", r.Report.Moves, r.Changed)
	}
	// A move that would only swap the imbalance is refused: a 12, b 8 with
	// one 4-GB camera would give 8/12.
	on = map[string]string{"cam1": "a", "cam2": "a", "cam3": "b"}
	rates = map[string]float64{"cam1": 8, "cam2": 4, "cam3": 8}
	s := site(on)
	s.Servers = s.Servers[:2]
	r = Plan(Input{Spec: s, Stats: stats(day0, rates, on), Alive: alive("a", "b"), Now: day0})
	if len(r.Report.Moves) != 0 {
		t.Fatalf("swapping move made: %+v", r.Report.Moves)
	}
}

func TestWindow(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no time zone database")
	}
	mon := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	for _, tc := range []struct {
		name     string
		start    int
		end      int
		weekdays []time.Weekday
		loc      *time.Location
		now      time.Time
		inside   bool
		next     time.Time
	}{
		{"inside", 60, 300, nil, time.UTC, mon.Add(2 * time.Hour), true, time.Time{}},
		{"before", 60, 300, nil, time.UTC, mon.Add(30 * time.Minute), false, mon.Add(time.Hour)},
		{"after", 60, 300, nil, time.UTC, mon.Add(6 * time.Hour), false, mon.Add(25 * time.Hour)},
		{"end excluded", 60, 300, nil, time.UTC, mon.Add(5 * time.Hour), false, mon.Add(25 * time.Hour)},
		{"across midnight, late", 22 * 60, 120, nil, time.UTC, mon.Add(23 * time.Hour), true, time.Time{}},
		{"across midnight, early", 22 * 60, 120, nil, time.UTC, mon.Add(time.Hour), true, time.Time{}},
		{"across midnight, outside", 22 * 60, 120, nil, time.UTC, mon.Add(3 * time.Hour), false, mon.Add(22 * time.Hour)},
		// Monday 01:00 belongs to Sunday's 22:00-02:00 window.
		{"weekday of a window across midnight", 22 * 60, 120, []time.Weekday{time.Sunday}, time.UTC, mon.Add(time.Hour), true, time.Time{}},
		{"weekday closed", 22 * 60, 120, []time.Weekday{time.Monday}, time.UTC, mon.Add(time.Hour), false, mon.Add(22 * time.Hour)},
		{"next allowed weekday", 60, 300, []time.Weekday{time.Thursday}, time.UTC, mon.Add(2 * time.Hour), false, mon.AddDate(0, 0, 3).Add(time.Hour)},
		// 03:00 UTC is 22:00 in New York (EST, UTC-5) on Sunday.
		{"time zone", 60, 300, nil, ny, mon.Add(3 * time.Hour), false, mon.Add(6 * time.Hour)},
		{"time zone inside", 21 * 60, 23 * 60, nil, ny, mon.Add(3 * time.Hour), true, time.Time{}},
		{"empty window", 60, 60, nil, time.UTC, mon, false, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := spec.Balancing{Window: spec.HourWindow{StartMinute: tc.start, EndMinute: tc.end}, Weekdays: tc.weekdays}
			in, next, ends := Window(b, tc.loc, tc.now)
			if in != tc.inside || !next.Equal(tc.next) {
				t.Fatalf("Window = %v, next %v; want %v, next %v", in, next, tc.inside, tc.next)
			}
			if in && !ends.After(tc.now) {
				t.Fatalf("window ends %v, not after now %v", ends, tc.now)
			}
		})
	}
}

func TestOutsideWindowNotApplied(t *testing.T) {
	spec, st := unequal()
	now := day0.Add(4 * time.Hour) // 07:00, window 01:00-05:00
	r := Plan(Input{Spec: spec, Stats: st, Alive: alive("a", "b", "c"), Now: now})
	if r.Apply() || len(r.Report.Moves) != 2 {
		t.Fatalf("Apply() = %v with %d moves; want the moves reported, not applied", r.Apply(), len(r.Report.Moves))
	}
	if want := day0.Add(22 * time.Hour); !r.Report.NextWindow.Equal(want) {
		t.Fatalf("next window %v, want %v", r.Report.NextWindow, want)
	}
	spec.Balancing.Enabled = false
	r = Plan(Input{Spec: spec, Stats: st, Alive: alive("a", "b", "c"), Now: day0})
	if r.Apply() || !strings.Contains(r.Report.Message, "disabled") {
		t.Fatalf("disabled: Apply() = %v, message %q", r.Apply(), r.Report.Message)
	}
}

func TestMinDaysBetweenMoves(t *testing.T) {
	spec, st := unequal()
	// Every camera of a moved 3 days ago (to a itself: a remembered return).
	var ov []api.Override
	for _, c := range []string{"cam1", "cam2", "cam3", "cam4"} {
		ov = append(ov, api.Override{Camera: c, From: "b", Server: "a", Since: day0.AddDate(0, 0, -3)})
	}
	r := Plan(Input{Spec: spec, Stats: st, Overrides: ov, Alive: alive("a", "b", "c"), Now: day0})
	if len(r.Report.Moves) != 0 {
		t.Fatalf("moved within min days: %+v", r.Report.Moves)
	}
	if r.Changed {
		t.Fatalf("records of recent moves dropped: %+v", r.Overrides)
	}
	for _, c := range r.Report.Cameras[:4] {
		if c.Movable || !strings.Contains(c.Why, "less than 7 days") {
			t.Fatalf("camera %+v: want not movable because of min days", c)
		}
	}
	// Eight days later they may move, and the old records are dropped.
	later := day0.AddDate(0, 0, 8)
	st = append(st, stats(later, map[string]float64{"cam1": 10, "cam2": 10, "cam3": 10, "cam4": 10, "cam5": 10, "cam6": 10}, mainOf(spec, nil))...)
	r = Plan(Input{Spec: spec, Stats: st, Overrides: ov, Alive: alive("a", "b", "c"), Now: later})
	if len(r.Report.Moves) != 2 || len(r.Overrides) != 2 {
		t.Fatalf("after min days: moves %+v, overrides %+v", r.Report.Moves, r.Overrides)
	}
}

func TestEligibility(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(s *spec.Site)
		alive []string
		want  func(r Result) error
	}{
		{"locked and balance=false never move", func(s *spec.Site) {
			for _, c := range s.Cameras[:4] {
				c.Locked = c.Name <= "cam2"
				c.Balance = c.Name > "cam3"
			}
		}, nil, movesOnly("cam4")},
		{"patterns", func(s *spec.Site) { s.Balancing.Cameras = []string{"cam[34]"} }, nil, movesOnly("cam3", "cam4")},
		{"exact names", func(s *spec.Site) { s.Balancing.Cameras = []string{"cam2"} }, nil, movesOnly("cam2")},
		{"labels", func(s *spec.Site) {
			s.Balancing.Labels = map[string]string{"zone": "yard"}
			s.Cameras[0].Labels = map[string]string{"zone": "yard"}
		}, nil, movesOnly("cam1")},
		{"never to standby, witness or virtual", func(s *spec.Site) {
			s.Servers[1].Kind = spec.KindStandby
			s.Servers[2].Kind = spec.KindWitness
			s.Servers = append(s.Servers, &spec.Server{Name: "v", Kind: spec.KindVirtual})
		}, []string{"a", "b", "c", "v"}, movesOnly()},
		{"never to a dead server", nil, []string{"a", "b"}, func(r Result) error {
			for _, m := range r.Report.Moves {
				if m.To != "b" {
					return fmt.Errorf("move to %s", m.To)
				}
			}
			return nil
		}},
		{"max_cameras", func(s *spec.Site) { s.Servers[1].MaxCameras = 1; s.Servers[2].MaxCameras = 2 }, nil, func(r Result) error {
			if len(r.Report.Moves) != 1 || r.Report.Moves[0].To != "c" {
				return fmt.Errorf("moves %+v, want one to c", r.Report.Moves)
			}
			return nil
		}},
		{"constant camera never onto its backup", func(s *spec.Site) {
			for _, c := range s.Cameras[:4] {
				c.Redundancy = spec.RedundancyConstant
				c.Backup = []string{"b"}
			}
		}, nil, func(r Result) error {
			for _, m := range r.Report.Moves {
				if m.To == "b" {
					return fmt.Errorf("constant camera %s moved onto its backup b", m.Camera)
				}
			}
			if len(r.Report.Moves) == 0 {
				return fmt.Errorf("no move to c")
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec, st := unequal()
			if tc.edit != nil {
				tc.edit(spec)
			}
			al := tc.alive
			if al == nil {
				al = []string{"a", "b", "c"}
			}
			r := Plan(Input{Spec: spec, Stats: st, Alive: alive(al...), Now: day0})
			if err := tc.want(r); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// movesOnly checks that the moved cameras are among names (none when empty).
func movesOnly(names ...string) func(Result) error {
	return func(r Result) error {
		for _, m := range r.Report.Moves {
			ok := false
			for _, n := range names {
				ok = ok || m.Camera == n
			}
			if !ok {
				return fmt.Errorf("camera %s moved; only %v may", m.Camera, names)
			}
		}
		if len(names) > 0 && len(r.Report.Moves) == 0 {
			return fmt.Errorf("no move")
		}
		return nil
	}
}

func TestOverridesKeptAndDropped(t *testing.T) {
	spec, st := unequal()
	ov := []api.Override{
		{Camera: "gone", From: "a", Server: "b", Since: day0.AddDate(0, 0, -1)},
		{Camera: "cam5", From: "b", Server: "c", Since: day0.AddDate(0, 0, -1)},
	}
	r := Plan(Input{Spec: spec, Stats: st, Overrides: ov, Alive: alive("a", "b", "c"), Now: day0})
	for _, o := range r.Overrides {
		if o.Camera == "gone" {
			t.Fatalf("override of a removed camera kept: %+v", r.Overrides)
		}
	}
	var cam5 api.BalanceCamera
	for _, c := range r.Report.Cameras {
		if c.Name == "cam5" {
			cam5 = c
		}
	}
	if cam5.Server != "c" || cam5.Movable {
		t.Fatalf("cam5 = %+v; want on c by its override, not movable yet", cam5)
	}
	// balance = false sends it home: a move back to its primary.
	spec.Cameras[4].Balance = false
	r = Plan(Input{Spec: spec, Stats: st, Overrides: ov, Alive: alive("a", "b", "c"), Now: day0})
	var back bool
	for _, m := range r.Report.Moves {
		back = back || (m.Camera == "cam5" && m.From == "c" && m.To == "b" && strings.Contains(m.Reason, "balance = false"))
	}
	if !back || !r.Changed {
		t.Fatalf("moves %+v; want cam5 back from c to b", r.Report.Moves)
	}
	spec.Cameras[4].Balance = true
	// Locking the camera sends it home: its override goes.
	spec.Cameras[4].Locked = true
	r = Plan(Input{Spec: spec, Stats: st, Overrides: ov, Alive: alive("a", "b", "c"), Now: day0})
	for _, o := range r.Overrides {
		if o.Camera == "cam5" {
			t.Fatalf("override of a locked camera kept: %+v", r.Overrides)
		}
	}
}

func TestRatePerCopy(t *testing.T) {
	// A constant camera recorded by two servers counts once; a camera whose
	// day was split by a move counts whole.
	siteSpec := site(map[string]string{"cam1": "a", "cam2": "a"})
	siteSpec.Cameras[0].Redundancy = spec.RedundancyConstant
	d := day0.AddDate(0, 0, -1).Format(time.DateOnly)
	st := []api.DailyStat{{Server: "a", Camera: "cam1", Date: d, Bytes: 5e9}, {Server: "b", Camera: "cam1", Date: d, Bytes: 5e9},
		{Server: "a", Camera: "cam2", Date: d, Bytes: 3e9}, {Server: "b", Camera: "cam2", Date: d, Bytes: 2e9},
		{Server: "a", Camera: "cam1", Date: day0.Format(time.DateOnly), Bytes: 9e9}} // today is not complete: ignored
	r := Plan(Input{Spec: siteSpec, Stats: st, Alive: alive("a", "b", "c"), Now: day0})
	for _, c := range r.Report.Cameras {
		if c.BytesPerDay != 5e9 {
			t.Errorf("%s: rate %v, want 5e9", c.Name, c.BytesPerDay)
		}
	}
	if r.Report.DaysWithData != 1 {
		t.Errorf("%d days with data, want 1", r.Report.DaysWithData)
	}
}

func TestFormatRate(t *testing.T) {
	for in, want := range map[float64]string{0: "0 B/day", 512: "512 B/day", 31.24e9: "31.2 GB/day", 1.5e12: "1.5 TB/day"} {
		if got := FormatRate(in); got != want {
			t.Errorf("FormatRate(%v) = %q, want %q", in, got, want)
		}
	}
}

// Many cameras each far smaller than the tolerance still balance: no single
// move needs to beat the tolerance, only the site as a whole.
func TestManySmallCameras(t *testing.T) {
	on, rates := map[string]string{}, map[string]float64{}
	for i := range 20 {
		name := fmt.Sprintf("cam%02d", i)
		on[name], rates[name] = "a", 1
	}
	s := site(on)
	s.Servers = s.Servers[:2]
	r := Plan(Input{Spec: s, Stats: stats(day0, rates, on), Alive: alive("a", "b"), Now: day0})
	l := loads(r)
	if len(r.Report.Moves) > 10 || l["a"] > 11 || l["b"] < 9 {
		t.Fatalf("%d moves, loads after %v; want a and b within 10%% of 10 GB/day", len(r.Report.Moves), l)
	}
}
