package assign

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// srv declares a server: "rec-1", "sb-1:standby", "w-1:witness", "rec-1/2"
// (max_cameras 2), "sb-1:standby/3".
func srv(decl string) *spec.Server {
	s := &spec.Server{Kind: spec.KindRecording}
	if name, max, ok := strings.Cut(decl, "/"); ok {
		decl = name
		fmt.Sscan(max, &s.MaxCameras)
	}
	if name, kind, ok := strings.Cut(decl, ":"); ok {
		decl, s.Kind = name, spec.ServerKind(kind)
	}
	s.Name = decl
	return s
}

// cam declares a camera on a primary with an ordered backup list.
func cam(name, primary string, backups ...string) *spec.Camera {
	return &spec.Camera{Name: name, Server: primary, Backup: backups, Redundancy: spec.RedundancyNormal}
}

func site(servers []string, cams ...*spec.Camera) *spec.Site {
	s := &spec.Site{Name: "s", Failback: true, Cameras: cams}
	for _, v := range servers {
		s.Servers = append(s.Servers, srv(v))
	}
	return s
}

// health builds Members from "rec-1=dead@3" (Since = t0 + 3s); servers not
// named are alive.
func health(s *spec.Site, states ...string) map[string]Member {
	m := map[string]Member{}
	for _, v := range s.Servers {
		m[v.Name] = Member{Health: api.HealthAlive, Since: t0}
	}
	for _, st := range states {
		name, rest, _ := strings.Cut(st, "=")
		h, at, _ := strings.Cut(rest, "@")
		var sec int
		if at != "" {
			fmt.Sscan(at, &sec)
		}
		if h == "absent" {
			delete(m, name)
			continue
		}
		m[name] = Member{Health: h, Since: t0.Add(time.Duration(sec) * time.Second)}
	}
	return m
}

// recs renders a camera's recorders as "rec-1(primary) rec-2(constant)".
func recs(c Camera) string {
	var parts []string
	for _, r := range c.Recorders {
		parts = append(parts, r.Server+"("+r.Role+")")
	}
	return strings.Join(parts, " ")
}

type want struct {
	recorders string
	state     string
	reason    string // substring; "" checks nothing
}

func check(t *testing.T, r Result, cams map[string]want) {
	t.Helper()
	for name, w := range cams {
		c, ok := r.Cameras[name]
		if !ok {
			t.Errorf("camera %s missing from the result", name)
			continue
		}
		if got := recs(c); got != w.recorders {
			t.Errorf("%s recorders = %q, want %q (reason %q)", name, got, w.recorders, c.Reason)
		}
		if c.State != w.state {
			t.Errorf("%s state = %q, want %q (reason %q)", name, c.State, w.state, c.Reason)
		}
		if !strings.Contains(c.Reason, w.reason) {
			t.Errorf("%s reason = %q, want it to contain %q", name, c.Reason, w.reason)
		}
	}
}

func TestPrimaryRecordsWhenAlive(t *testing.T) {
	s := site([]string{"rec-1", "rec-2"}, cam("c1", "rec-1", "rec-2"), cam("c2", "rec-2", "rec-1"))
	r := Assign(Input{Spec: s, Members: health(s)})
	check(t, r, map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, "recorded by rec-1"},
		"c2": {"rec-2(primary)", api.CameraRecording, "recorded by rec-2"},
	})
	if got := r.For("rec-1"); len(got) != 1 || got[0] != "c1" {
		t.Errorf("For(rec-1) = %v, want [c1]", got)
	}
	if r.Load["rec-1"] != 1 || r.Load["rec-2"] != 1 {
		t.Errorf("Load = %v, want 1 each", r.Load)
	}
}

func TestDeadPrimaryCoveredByFirstLiveBackup(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "rec-3"}, cam("c1", "rec-1", "rec-2", "rec-3"))
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead")}), map[string]want{
		"c1": {"rec-2(backup)", api.CameraCovered, "rec-1 dead; covered by rec-2 (backup 1)"},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead", "rec-2=dead")}), map[string]want{
		"c1": {"rec-3(backup)", api.CameraCovered, "covered by rec-3 (backup 2)"},
	})
}

func TestGroupOrderIsBackupOrder(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "rec-3"})
	s.Groups = []*spec.Group{{Name: "g", Servers: []string{"rec-1", "rec-3", "rec-2"}}}
	c := cam("c1", "rec-1")
	c.Group = "g"
	s.Cameras = []*spec.Camera{c}
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead")}), map[string]want{
		"c1": {"rec-3(backup)", api.CameraCovered, "covered by rec-3 (backup 1)"},
	})
}

func TestUnknownAndAbsentMembersAreNotAlive(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "rec-3"}, cam("c1", "rec-1", "rec-2", "rec-3"))
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=absent", "rec-2=unknown")}), map[string]want{
		"c1": {"rec-3(backup)", api.CameraCovered, "rec-1 down (health unknown)"},
	})
	// A nonsense health string is treated as unknown.
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=sleeping")}), map[string]want{
		"c1": {"rec-2(backup)", api.CameraCovered, "rec-1 down (health unknown)"},
	})
}

func TestNoLiveBackupIsUncovered(t *testing.T) {
	s := site([]string{"rec-1", "rec-2"}, cam("c1", "rec-1", "rec-2"))
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead", "rec-2=suspect")}), map[string]want{
		"c1": {"", api.CameraUncovered, "rec-1 dead; no live server with room"},
	})
}

func TestNilSpecGivesEmptyResult(t *testing.T) {
	r := Assign(Input{})
	if len(r.Cameras) != 0 || len(r.Load) != 0 || len(r.Queued) != 0 {
		t.Errorf("Assign(nil spec) = %+v, want empty", r)
	}
}

func TestStandbyCoversOnlyAfterExplicitBackups(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "sb-1:standby", "sb-2:standby"},
		cam("c1", "rec-1", "rec-2"), cam("c2", "rec-1"))
	// Alive: the standbys record nothing.
	r := Assign(Input{Spec: s, Members: health(s)})
	if r.Load["sb-1"] != 0 || r.Load["sb-2"] != 0 {
		t.Errorf("standbys record while nothing failed: %v", r.Load)
	}
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead")}), map[string]want{
		"c1": {"rec-2(backup)", api.CameraCovered, "covered by rec-2 (backup 1)"},
		"c2": {"sb-1(backup)", api.CameraCovered, "rec-1 dead; covered by sb-1 (standby)"},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead", "rec-2=dead", "sb-1=dead")}), map[string]want{
		"c1": {"sb-2(backup)", api.CameraCovered, "covered by sb-2 (standby)"},
		"c2": {"sb-2(backup)", api.CameraCovered, "covered by sb-2 (standby)"},
	})
}

func TestStandbyFillsThenNextStandby(t *testing.T) {
	s := site([]string{"rec-1", "sb-1:standby/1", "sb-2:standby"}, cam("c1", "rec-1"), cam("c2", "rec-1"))
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead")}), map[string]want{
		"c1": {"sb-1(backup)", api.CameraCovered, ""},
		"c2": {"sb-2(backup)", api.CameraCovered, ""},
	})
}

func TestWitnessAndVirtualNeverRecord(t *testing.T) {
	s := site([]string{"rec-1", "w-1:witness", "v-1:virtual", "rec-2"},
		cam("c1", "rec-1", "w-1", "v-1", "rec-2"), cam("c2", "w-1", "rec-2"), cam("c3", "v-1"))
	r := Assign(Input{Spec: s, Members: health(s, "rec-1=dead")})
	check(t, r, map[string]want{
		"c1": {"rec-2(backup)", api.CameraCovered, "covered by rec-2 (backup 1)"},
		"c2": {"rec-2(backup)", api.CameraCovered, "w-1 is a witness server and records nothing"},
		"c3": {"", api.CameraUncovered, "v-1 is a virtual server and records nothing"},
	})
	if _, ok := r.Load["w-1"]; ok {
		t.Errorf("witness has a load entry: %v", r.Load)
	}
	if len(r.Queued) != 0 {
		t.Errorf("a witness primary took a failover slot: %v", r.Queued)
	}
}

func TestUnknownPrimaryNameGoesToBackups(t *testing.T) {
	s := site([]string{"rec-1"}, cam("c1", "rec-9", "rec-1"))
	check(t, Assign(Input{Spec: s, Members: health(s)}), map[string]want{
		"c1": {"rec-1(backup)", api.CameraCovered, "primary rec-9 is not a server of this site"},
	})
}

func TestLockedCameras(t *testing.T) {
	locked := func(name, primary string, red spec.Redundancy) *spec.Camera {
		c := cam(name, primary, "rec-2")
		c.Locked, c.Redundancy = true, red
		return c
	}
	s := site([]string{"rec-1/1", "rec-2", "w-1:witness"},
		locked("lpr-1", "rec-1", spec.RedundancyNormal),
		locked("lpr-2", "rec-1", spec.RedundancyConstant),
		locked("lpr-3", "w-1", spec.RedundancyNormal))
	check(t, Assign(Input{Spec: s, Members: health(s)}), map[string]want{
		"lpr-1": {"rec-1(primary)", api.CameraRecording, ""},
		"lpr-2": {"", api.CameraUncovered, "locked to rec-1 full (max_cameras 1)"},
		"lpr-3": {"", api.CameraDark, "locked to w-1, a witness server, which records nothing"},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead")}), map[string]want{
		"lpr-1": {"", api.CameraDark, "locked to rec-1, which is dead"},
		"lpr-2": {"", api.CameraDark, "locked to rec-1, which is dead"},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=absent")}), map[string]want{
		"lpr-1": {"", api.CameraDark, "locked to rec-1, whose health is unknown"},
	})
	// A fast locked camera stays on its suspect server: there is nowhere else.
	f := locked("lpr-f", "rec-1", spec.RedundancyFast)
	s2 := site([]string{"rec-1", "rec-2"}, f)
	check(t, Assign(Input{Spec: s2, Members: health(s2, "rec-1=suspect")}), map[string]want{
		"lpr-f": {"rec-1(primary)", api.CameraRecording, ""},
	})
	// Neither a balancing move nor a running session moves a locked camera.
	check(t, Assign(Input{Spec: s2, Members: health(s2),
		Overrides: []api.Override{{Camera: "lpr-f", From: "rec-1", Server: "rec-2"}},
		Running:   map[string]map[string]bool{"rec-2": {"lpr-f": true}},
	}), map[string]want{
		"lpr-f": {"rec-1(primary)", api.CameraRecording, ""},
	})
}

func TestRedundancyNormalWaitsForDeadFastActsOnSuspect(t *testing.T) {
	n := cam("normal", "rec-1", "rec-2")
	f := cam("fast", "rec-1", "rec-2")
	f.Redundancy = spec.RedundancyFast
	s := site([]string{"rec-1", "rec-2"}, n, f)
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=suspect")}), map[string]want{
		"normal": {"rec-1(primary)", api.CameraRecording, ""},
		"fast":   {"rec-2(backup)", api.CameraCovered, "rec-1 suspect (fast redundancy); covered by rec-2"},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead")}), map[string]want{
		"normal": {"rec-2(backup)", api.CameraCovered, "rec-1 dead"},
		"fast":   {"rec-2(backup)", api.CameraCovered, "rec-1 dead"},
	})
	// A suspect backup takes nothing over.
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead", "rec-2=suspect")}), map[string]want{
		"normal": {"", api.CameraUncovered, ""},
	})
}

func TestConstantRecordsTwice(t *testing.T) {
	c := cam("c1", "rec-1", "rec-2", "rec-3")
	c.Redundancy = spec.RedundancyConstant
	s := site([]string{"rec-1", "rec-2", "rec-3", "sb-1:standby"}, c)
	check(t, Assign(Input{Spec: s, Members: health(s)}), map[string]want{
		"c1": {"rec-1(primary) rec-2(constant)", api.CameraRecording, "recorded by rec-1; constant copy on rec-2"},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-2=dead")}), map[string]want{
		"c1": {"rec-1(primary) rec-3(constant)", api.CameraRecording, ""},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead")}), map[string]want{
		"c1": {"rec-2(backup) rec-3(constant)", api.CameraCovered, "rec-1 dead; covered by rec-2 (backup 1); constant copy on rec-3"},
	})
	// The standby takes the copy once the backups failed.
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead", "rec-2=dead")}), map[string]want{
		"c1": {"rec-3(backup) sb-1(constant)", api.CameraCovered, ""},
	})
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-2=dead", "rec-3=dead", "sb-1=dead")}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, "no live server with room for the constant copy"},
	})
}

func TestMaxConcurrentFailoversQueuesInDeathOrder(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "rec-3", "rec-4", "rec-5"},
		cam("a", "rec-1", "rec-4"), cam("b", "rec-2", "rec-4"), cam("c", "rec-3", "rec-4"))
	s.MaxConcurrentFailovers = 1
	// rec-5 died first but has no cameras: it takes no slot.
	r := Assign(Input{Spec: s, Members: health(s, "rec-5=dead@1", "rec-3=dead@5", "rec-1=dead@9", "rec-2=dead@9")})
	check(t, r, map[string]want{
		"c": {"rec-4(backup)", api.CameraCovered, "rec-3 dead; covered by rec-4"},
		"a": {"", api.CameraUncovered, "rec-1 dead; queued: max_concurrent_failovers 1 reached (covering rec-3)"},
		"b": {"", api.CameraUncovered, "queued"},
	})
	if got := strings.Join(r.Queued, ","); got != "rec-1,rec-2" {
		t.Errorf("Queued = %q, want rec-1,rec-2 (death order, ties by name)", got)
	}
	// rec-3 returns: the next in line is covered.
	r = Assign(Input{Spec: s, Members: health(s, "rec-1=dead@9", "rec-2=dead@9")})
	check(t, r, map[string]want{
		"a": {"rec-4(backup)", api.CameraCovered, ""},
		"b": {"", api.CameraUncovered, "covering rec-1"},
	})
	// 0 means no limit.
	s.MaxConcurrentFailovers = 0
	r = Assign(Input{Spec: s, Members: health(s, "rec-3=dead@5", "rec-1=dead@9", "rec-2=dead@9")})
	if len(r.Queued) != 0 || len(r.For("rec-4")) != 3 {
		t.Errorf("no limit: Queued %v, rec-4 records %v", r.Queued, r.For("rec-4"))
	}
}

func TestQueuedConstantCameraKeepsItsConstantCopy(t *testing.T) {
	c := cam("c", "rec-2", "rec-3", "rec-4")
	c.Redundancy = spec.RedundancyConstant
	s := site([]string{"rec-1", "rec-2", "rec-3", "rec-4", "sb-1:standby"}, cam("a", "rec-1", "rec-3"), c)
	s.MaxConcurrentFailovers = 1
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=dead@1", "rec-2=dead@2")}), map[string]want{
		"a": {"rec-3(backup)", api.CameraCovered, ""},
		"c": {"rec-3(constant)", api.CameraCovered, "rec-2 dead; queued: max_concurrent_failovers 1 reached (covering rec-1); constant copy on rec-3"},
	})
}

func TestFailbackIsMakeBeforeBreak(t *testing.T) {
	s := site([]string{"rec-1", "rec-2"}, cam("c1", "rec-1", "rec-2"))
	// rec-1 is back; rec-2 still runs the camera, rec-1 not yet.
	running := map[string]map[string]bool{"rec-2": {"c1": true}}
	r := Assign(Input{Spec: s, Members: health(s), Running: running})
	check(t, r, map[string]want{
		"c1": {"rec-1(primary) rec-2(failback)", api.CameraRecording, "rec-2 keeps recording until rec-1 runs it (failback)"},
	})
	if r.Load["rec-2"] != 1 {
		t.Errorf("the failback recorder does not count in Load: %v", r.Load)
	}
	// rec-1 runs it: rec-2 lets go.
	running["rec-1"] = map[string]bool{"c1": true}
	check(t, Assign(Input{Spec: s, Members: health(s), Running: running}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, "recorded by rec-1"},
	})
}

func TestFailbackOffStaysOnTheBackup(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "sb-1:standby"}, cam("c1", "rec-1", "rec-2"), cam("c2", "rec-1"))
	s.Failback = false
	running := map[string]map[string]bool{"rec-2": {"c1": true}, "sb-1": {"c2": true}}
	check(t, Assign(Input{Spec: s, Members: health(s), Running: running}), map[string]want{
		"c1": {"rec-2(backup)", api.CameraCovered, "failback off: stays on rec-2 though rec-1 is up"},
		// A standby always hands back, make-before-break.
		"c2": {"rec-1(primary) sb-1(failback)", api.CameraRecording, ""},
	})
	// The backup dies: the camera goes home.
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-2=dead"), Running: running}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, ""},
	})
	// Nobody runs it (a fresh start): home.
	check(t, Assign(Input{Spec: s, Members: health(s)}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, ""},
	})
	// The primary runs it too: home, and the backup lets go.
	running["rec-1"] = map[string]bool{"c1": true}
	check(t, Assign(Input{Spec: s, Members: health(s), Running: running}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, ""},
	})
}

func TestMaxCamerasIsNeverExceeded(t *testing.T) {
	s := site([]string{"rec-1/2", "rec-2/3", "rec-3/1"},
		cam("a1", "rec-1", "rec-2"), cam("a2", "rec-1", "rec-2"), cam("a3", "rec-1", "rec-2", "rec-3"),
		cam("b1", "rec-2", "rec-3"), cam("b2", "rec-2", "rec-3"), cam("b3", "rec-2"))
	r := Assign(Input{Spec: s, Members: health(s)})
	check(t, r, map[string]want{
		// Homes first: rec-2 keeps b1..b3, so the overflow of rec-1 goes to rec-3.
		"a1": {"rec-1(primary)", api.CameraRecording, ""},
		"a2": {"rec-1(primary)", api.CameraRecording, ""},
		"a3": {"rec-3(backup)", api.CameraCovered, "rec-1 full (max_cameras 2); covered by rec-3 (backup 2)"},
		"b3": {"rec-2(primary)", api.CameraRecording, ""},
	})
	r = Assign(Input{Spec: s, Members: health(s, "rec-1=dead")})
	check(t, r, map[string]want{
		// rec-2 is full of its own cameras; only a3 lists rec-3.
		"a1": {"", api.CameraUncovered, "rec-1 dead; no live server with room"},
		"a2": {"", api.CameraUncovered, ""},
		"a3": {"rec-3(backup)", api.CameraCovered, ""},
	})
	for name, n := range r.Load {
		if max := s.Server(name).MaxCameras; n > max {
			t.Errorf("%s records %d cameras, max_cameras %d", name, n, max)
		}
	}
}

func TestBalancingOverride(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "rec-3", "w-1:witness"}, cam("c1", "rec-1", "rec-2"), cam("c2", "rec-1"))
	ov := []api.Override{{Camera: "c1", From: "rec-1", Server: "rec-3", Since: t0}, {Camera: "c2", From: "rec-1", Server: "w-1"}}
	check(t, Assign(Input{Spec: s, Members: health(s), Overrides: ov}), map[string]want{
		"c1": {"rec-3(balance)", api.CameraRecording, "balanced from rec-1 to rec-3"},
		"c2": {"rec-1(primary)", api.CameraRecording, ""}, // a witness override is ignored
	})
	// The balancing server dies: back to the primary.
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-3=dead"), Overrides: ov}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, "balancing server rec-3 dead; back on rec-1"},
	})
	// Both down: the backups.
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-3=dead", "rec-1=dead"), Overrides: ov}), map[string]want{
		"c1": {"rec-2(backup)", api.CameraCovered, "balancing server rec-3 dead; rec-1 dead; covered by rec-2"},
	})
	// A move is make-before-break too.
	running := map[string]map[string]bool{"rec-1": {"c1": true}}
	check(t, Assign(Input{Spec: s, Members: health(s), Overrides: ov, Running: running}), map[string]want{
		"c1": {"rec-3(balance) rec-1(failback)", api.CameraRecording, "rec-1 keeps recording until rec-3 runs it"},
	})
	// Of two overrides for a camera, the latest wins, whatever the slice order.
	two := []api.Override{{Camera: "c1", Server: "rec-2", Since: t0.Add(time.Hour)}, ov[0]}
	for _, o := range [][]api.Override{two, {two[1], two[0]}} {
		check(t, Assign(Input{Spec: s, Members: health(s), Overrides: o}), map[string]want{
			"c1": {"rec-2(balance)", api.CameraRecording, ""},
		})
	}
}

func TestHandoverAfterSpecChange(t *testing.T) {
	// The camera moved from rec-2 to rec-1 in the spec; rec-2 still runs it.
	s := site([]string{"rec-1", "rec-2", "rec-3"}, cam("c1", "rec-1"))
	running := map[string]map[string]bool{"rec-2": {"c1": true}, "rec-3": {"gone": true}}
	r := Assign(Input{Spec: s, Members: health(s), Running: running})
	check(t, r, map[string]want{
		"c1": {"rec-1(primary) rec-2(failback)", api.CameraRecording, ""},
	})
	if _, ok := r.Cameras["gone"]; ok {
		t.Errorf("a running camera that is not in the spec appears in the result")
	}
	// A dead server's stale session is not kept.
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-2=dead"), Running: running}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, ""},
	})
}

func TestFullBalancingServerSendsTheCameraHome(t *testing.T) {
	s := site([]string{"rec-1", "rec-2", "rec-3/1"}, cam("c1", "rec-1", "rec-2"), cam("a3", "rec-3"))
	ov := []api.Override{{Camera: "c1", From: "rec-1", Server: "rec-3"}}
	check(t, Assign(Input{Spec: s, Members: health(s), Overrides: ov}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, "balancing server rec-3 full (max_cameras 1); back on rec-1"},
		"a3": {"rec-3(primary)", api.CameraRecording, ""},
	})
}

func TestSuspectServerKeepsItsNormalCameras(t *testing.T) {
	s := site([]string{"rec-1", "rec-2"}, cam("c1", "rec-1", "rec-2"))
	check(t, Assign(Input{Spec: s, Members: health(s, "rec-1=suspect")}), map[string]want{
		"c1": {"rec-1(primary)", api.CameraRecording, "recorded by rec-1, which is suspect (normal redundancy waits for dead)"},
	})
}

func TestFailbackOffConstantCamera(t *testing.T) {
	c := cam("c1", "rec-1", "rec-2")
	c.Redundancy = spec.RedundancyConstant
	s := site([]string{"rec-1", "rec-2"}, c)
	s.Failback = false
	// rec-1 restarted: rec-2 keeps the camera, rec-1 records the constant copy.
	running := map[string]map[string]bool{"rec-2": {"c1": true}}
	check(t, Assign(Input{Spec: s, Members: health(s), Running: running}), map[string]want{
		"c1": {"rec-2(backup) rec-1(constant)", api.CameraCovered, "failback off: stays on rec-2 though rec-1 is up; constant copy on rec-1"},
	})
	// Once both run it, it is home again, twice.
	running["rec-1"] = map[string]bool{"c1": true}
	check(t, Assign(Input{Spec: s, Members: health(s), Running: running}), map[string]want{
		"c1": {"rec-1(primary) rec-2(constant)", api.CameraRecording, ""},
	})
}

func TestForListsEveryRole(t *testing.T) {
	c := cam("b", "rec-2", "rec-1")
	c.Redundancy = spec.RedundancyConstant
	s := site([]string{"rec-1", "rec-2", "rec-3"}, cam("c", "rec-1"), c, cam("a", "rec-3", "rec-1"))
	r := Assign(Input{Spec: s, Members: health(s, "rec-3=dead")})
	if got := strings.Join(r.For("rec-1"), ","); got != "a,b,c" {
		t.Errorf("For(rec-1) = %q, want a,b,c (backup, constant, primary; sorted)", got)
	}
	if got := r.For("rec-3"); len(got) != 0 {
		t.Errorf("For(dead rec-3) = %v, want nothing", got)
	}
}

func TestConstantCopyMissingDuringHandover(t *testing.T) {
	c := cam("c1", "rec-1", "rec-2")
	c.Redundancy = spec.RedundancyConstant
	s := site([]string{"rec-1", "rec-2/1", "rec-3"}, c, cam("a", "rec-2"))
	// rec-2 is full of its own camera; rec-3 still runs c1 from an older spec.
	running := map[string]map[string]bool{"rec-3": {"c1": true}}
	check(t, Assign(Input{Spec: s, Members: health(s), Running: running}), map[string]want{
		"c1": {"rec-1(primary) rec-3(failback)", api.CameraRecording,
			"rec-3 keeps recording until rec-1 runs it (failback); no live server with room for the constant copy"},
	})
}

// A server stopped on purpose is "left" in vigil status; the reasons of its
// cameras say so too, not "dead".
func TestLeftServerNamedLeft(t *testing.T) {
	s := site([]string{"rec-1", "rec-2"}, cam("c1", "rec-1", "rec-2"), cam("c2", "rec-1", "rec-2"))
	s.Cameras[1].Locked = true
	m := health(s, "rec-1=dead")
	m["rec-1"] = Member{Health: api.HealthDead, Since: t0, Left: true}
	check(t, Assign(Input{Spec: s, Members: m}), map[string]want{
		"c1": {"rec-2(backup)", api.CameraCovered, "rec-1 left; covered by rec-2 (backup 1)"},
		"c2": {"", api.CameraDark, "locked to rec-1, which left the site"},
	})
}

// TestDuplicateCameraNameFirstWins: of two cameras with one name (a spec
// the validator refuses, but the assignment must not depend on it), the
// first declared is assigned, once.
func TestDuplicateCameraNameFirstWins(t *testing.T) {
	s := site([]string{"rec-1", "rec-2"}, cam("b", "rec-2"), cam("a", "rec-2"), cam("b", "rec-1"), cam("a", "rec-1"))
	r := Assign(Input{Spec: s, Members: health(s)})
	if len(r.Cameras) != 2 || r.Load["rec-2"] != 2 || r.Load["rec-1"] != 0 {
		t.Fatalf("cameras %v, load %v: want a and b once each, on rec-2", r.Cameras, r.Load)
	}
}
