package views

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func site(cameras int) *api.State {
	st := &api.State{
		Site: "hq", Revision: 7, Master: "rec-1", Version: "v1.0", Answering: "rec-2",
		Spec: &spec.Site{Name: "hq", Servers: []*spec.Server{{Name: "rec-1", MaxCameras: 100}, {Name: "rec-2"}, {Name: "wit"}}},
		Servers: []api.ServerState{
			{Name: "rec-1", Kind: "recording", Role: "master", Health: api.HealthAlive, Recording: cameras - 2, CPUPercent: 3.25, MemoryBytes: 64 << 20, ClockOffsetKnown: true,
				Storage: []api.StorageState{{Path: "/rec", UsedBytes: 3 << 30, FreeBytes: 100 << 30}}},
			{Name: "rec-2", Kind: "recording", Role: "member", Health: api.HealthDead, Since: now.Add(-90 * time.Second)},
			{Name: "wit", Kind: "witness", Role: "member", Health: api.HealthAlive, MemoryBytes: 20 << 20, ClockOffsetMS: -612, ClockOffsetKnown: true},
		},
	}
	st.Cameras = append(st.Cameras,
		api.CameraState{Name: "door", Server: "rec-2", State: api.CameraDark, Reason: "locked to rec-2 (dead)",
			LastGap: &api.Gap{Camera: "door", Start: now.Add(-80 * time.Second), Cause: "server failure"}},
		api.CameraState{Name: "yard", Server: "rec-2", State: api.CameraCovered, Reason: "rec-2 dead, covered by rec-1",
			Recorders: []api.Recorder{{Server: "rec-1", Role: "backup", State: "recording"}},
			LastGap:   &api.Gap{Camera: "yard", Start: now.Add(-80 * time.Second), End: now.Add(-77 * time.Second), Cause: "server failure"}},
	)
	for i := range cameras - 2 {
		st.Cameras = append(st.Cameras, api.CameraState{Name: fmt.Sprintf("cam-%03d", i), Server: "rec-1", State: api.CameraRecording,
			Recorders: []api.Recorder{{Server: "rec-1", Role: "primary", State: "recording"}}})
	}
	return st
}

func render(st *api.State, o Options) string {
	var b strings.Builder
	o.Now = now
	Status(&b, st, o)
	return b.String()
}

func TestStatusSmallSite(t *testing.T) {
	out := render(site(4), Options{})
	for _, want := range []string{
		"Site hq · revision 7 · master rec-1 · vigil v1.0",
		"rec-1   recording  master  alive    2/100      3.2%  67.1 MB  0 ms     3.2 GB used, 107.4 GB free",
		"rec-2   recording  member  dead 1m  -          -     -        -        -",
		"wit     witness    member  alive    -          0.0%  21.0 MB  -612 ms  -",
		"Cameras (4): 1 dark, 1 covered, 2 recording",
		"door     dark       -                locked to rec-2 (dead)",
		"open for 1m (server failure)",
		"yard     covered    rec-1 (backup)",
		"1m ago, 3s (server failure)",
		"cam-000  recording  rec-1 (primary)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colours without a terminal:\n%s", out)
	}
	// Problems come before healthy cameras.
	if strings.Index(out, "door") > strings.Index(out, "cam-000") {
		t.Errorf("dark camera not listed first:\n%s", out)
	}
}

func TestStatusLargeSiteIsCompact(t *testing.T) {
	out := render(site(200), Options{})
	if strings.Contains(out, "cam-100  recording") {
		t.Errorf("healthy cameras listed one by one on a large site:\n%s", out)
	}
	if !strings.Contains(out, "rec-1         198 cameras  cam-000 cam-001 cam-002 … cam-196 cam-197") {
		t.Errorf("no per-server summary:\n%s", out)
	}
	if !strings.Contains(out, "door") || !strings.Contains(out, "yard") {
		t.Errorf("cameras with problems not listed:\n%s", out)
	}
	if all := render(site(200), Options{All: true}); !strings.Contains(all, "cam-100  recording") {
		t.Errorf("-all does not list every camera")
	}
}

func TestStatusColourKeepsColumns(t *testing.T) {
	plain := strings.Split(render(site(4), Options{}), "\n")
	colour := strings.Split(render(site(4), Options{Color: true}), "\n")
	if len(plain) != len(colour) {
		t.Fatalf("line counts differ: %d vs %d", len(plain), len(colour))
	}
	for i := range plain {
		if visible(colour[i]) != visible(plain[i]) {
			t.Errorf("line %d: coloured width %d, plain %d:\n%q\n%q", i, visible(colour[i]), visible(plain[i]), colour[i], plain[i])
		}
	}
}

func TestStatusWaiting(t *testing.T) {
	st := &api.State{Site: "hq", Version: "dev", Answering: "rec-1", Message: "waiting for vigil apply",
		Servers: []api.ServerState{{Name: "rec-1", Kind: "recording", Role: "member", Health: api.HealthAlive}}}
	out := render(st, Options{})
	if !strings.Contains(out, "no spec committed · master none yet") || !strings.Contains(out, "waiting for vigil apply") {
		t.Errorf("waiting agent not explained:\n%s", out)
	}
}

func TestEvent(t *testing.T) {
	var b strings.Builder
	Event(&b, api.Event{Time: now, Severity: "warning", Kind: "server.suspect", Server: "rec-2", Camera: "cam1", Message: "server rec-1 is suspect"}, false)
	want := now.Local().Format("2006-01-02 15:04:05.000") + " WARN  rec-2/cam1       server.suspect server rec-1 is suspect\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

func TestClockOffset(t *testing.T) {
	paint := painter(true)
	for _, c := range []struct {
		s    api.ServerState
		want string
	}{
		{api.ServerState{}, "-"},
		{api.ServerState{ClockOffsetKnown: true}, "0 ms"},
		{api.ServerState{ClockOffsetMS: 3.4, ClockOffsetKnown: true}, "+3 ms"},
		{api.ServerState{ClockOffsetMS: -500, ClockOffsetKnown: true}, "-500 ms"},
		{api.ServerState{ClockOffsetMS: -612, ClockOffsetKnown: true}, paint(red, "-612 ms")},
		{api.ServerState{ClockOffsetMS: 501, ClockOffsetKnown: true}, paint(red, "+501 ms")},
	} {
		if got := clockOffset(c.s, paint); got != c.want {
			t.Errorf("offset %v (known %v): %q, want %q", c.s.ClockOffsetMS, c.s.ClockOffsetKnown, got, c.want)
		}
	}
}

func TestOnly(t *testing.T) {
	names := func(st *api.State) string {
		var s []string
		for _, v := range st.Servers {
			s = append(s, v.Name)
		}
		s = append(s, "|")
		for _, c := range st.Cameras {
			s = append(s, c.Name)
		}
		return strings.Join(s, " ")
	}
	for _, tt := range []struct {
		only []string
		want string
	}{
		{[]string{"yard"}, "rec-1 rec-2 | yard"},                        // its primary and its recorder
		{[]string{"rec-2"}, "rec-2 | door yard"},                        // the cameras it is primary for
		{[]string{"rec-1"}, "rec-1 | yard cam-000 cam-001"},             // and those it records
		{[]string{"door", "wit"}, "rec-2 wit | door"},                   // several names
		{[]string{"hq"}, "rec-1 rec-2 wit | door yard cam-000 cam-001"}, // the site: all
	} {
		if got := names(Only(site(4), tt.only)); got != tt.want {
			t.Errorf("Only(%q) = %q, want %q", tt.only, got, tt.want)
		}
	}
}

// TestRecorderWithoutRole: a recorder being handed over (failback) may have
// no role yet; it shows as its server alone, not "srv-1 ()".
func TestRecorderWithoutRole(t *testing.T) {
	for _, tt := range []struct {
		r    api.Recorder
		want string
	}{
		{api.Recorder{Server: "srv-1"}, "srv-1"},
		{api.Recorder{Server: "srv-1", State: "connecting"}, "srv-1 (connecting)"},
		{api.Recorder{Server: "srv-1", Role: "failback", State: "connecting"}, "srv-1 (failback, connecting)"},
	} {
		if got := recorders([]api.Recorder{tt.r}); got != tt.want {
			t.Errorf("recorders(%+v) = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestStorageShowsHeld(t *testing.T) {
	vols := []api.StorageState{{UsedBytes: 800e9, HeldBytes: 2e9, FreeBytes: 100e9}, {UsedBytes: 200e9, HeldBytes: 1e9, FreeBytes: 50e9, Full: true}}
	if got, want := storage(vols), "1.0 TB used (3.0 GB held), 150.0 GB free FULL"; got != want {
		t.Errorf("storage %q, want %q", got, want)
	}
	vols[0].HeldBytes, vols[1].HeldBytes = 0, 0
	if got, want := storage(vols), "1.0 TB used, 150.0 GB free FULL"; got != want {
		t.Errorf("storage without holds %q, want %q", got, want)
	}
}
