package assign

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"vigil/hcl"
	"vigil/runtime/api"
)

var t0 = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

// srv declares a server: "rec-1", "sb-1:standby", "w-1:witness", "rec-1/2"
// (max_cameras 2), "sb-1:standby/3".
func srv(spec string) *hcl.Server {
	s := &hcl.Server{Kind: hcl.KindRecording}
	if name, max, ok := strings.Cut(spec, "/"); ok {
		spec = name
		fmt.Sscan(max, &s.MaxCameras)
	}
	if name, kind, ok := strings.Cut(spec, ":"); ok {
		spec, s.Kind = name, kind
	}
	s.Name = spec
	return s
}

// cam declares a camera on a primary with an ordered backup list.
func cam(name, primary string, backups ...string) *hcl.Camera {
	return &hcl.Camera{Name: name, Server: primary, Backup: backups, Redundancy: hcl.RedundancyNormal}
}

func site(servers []string, cams ...*hcl.Camera) *hcl.Site {
	s := &hcl.Site{Name: "s", Failback: true, Cameras: cams}
	for _, v := range servers {
		s.Servers = append(s.Servers, srv(v))
	}
	return s
}

// health builds Members from "rec-1=dead@3" (Since = t0 + 3s); servers not
// named are alive.
func health(s *hcl.Site, states ...string) map[string]Member {
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
	s.Groups = []*hcl.Group{{Name: "g", Servers: []string{"rec-1", "rec-3", "rec-2"}}}
	c := cam("c1", "rec-1")
	c.Group = "g"
	s.Cameras = []*hcl.Camera{c}
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
