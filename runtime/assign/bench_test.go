package assign

import (
	"fmt"
	"testing"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// benchInput is a site of the given size: 250 cameras per server, each with
// two backups, a few constant and locked cameras, one server dead (covered),
// one returning (its cameras are handed back make-before-break) and every
// other camera running where it belongs.
func benchInput(servers, cameras int) Input {
	s := &spec.Site{Name: "bench", Failback: true}
	for i := range servers {
		s.Servers = append(s.Servers, &spec.Server{Name: fmt.Sprintf("rec-%02d", i), Kind: spec.KindRecording, MaxCameras: 300})
	}
	s.Servers = append(s.Servers, &spec.Server{Name: "standby", Kind: spec.KindStandby, MaxCameras: 300})
	in := Input{Spec: s, Members: map[string]Member{}, Running: map[string]map[string]bool{}, Now: t0}
	for _, sv := range s.Servers {
		in.Members[sv.Name] = Member{Health: api.HealthAlive, Since: t0}
		in.Running[sv.Name] = map[string]bool{}
	}
	in.Members["rec-00"] = Member{Health: api.HealthDead, Since: t0}
	for i := range cameras {
		p := i % servers
		c := &spec.Camera{
			Name:       fmt.Sprintf("cam-%05d", i),
			Server:     s.Servers[p].Name,
			Backup:     []string{s.Servers[(p+1)%servers].Name, s.Servers[(p+2)%servers].Name},
			Redundancy: spec.RedundancyNormal,
		}
		switch i % 50 {
		case 7:
			c.Redundancy = spec.RedundancyConstant
		case 9:
			c.Locked = true
		}
		s.Cameras = append(s.Cameras, c)
		// rec-01 just came back: its backup still runs its cameras.
		runner := c.Server
		if p == 1 {
			runner = c.Backup[0]
		}
		in.Running[runner][c.Name] = true
	}
	return in
}

func benchmarkAssign(b *testing.B, servers, cameras int) {
	in := benchInput(servers, cameras)
	b.ReportAllocs()
	for b.Loop() {
		Assign(in)
	}
}

func BenchmarkAssign(b *testing.B) {
	b.Run("cameras=2500/servers=10", func(b *testing.B) { benchmarkAssign(b, 10, 2500) })
	b.Run("cameras=10000/servers=40", func(b *testing.B) { benchmarkAssign(b, 40, 10000) })
}
