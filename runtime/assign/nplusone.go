package assign

import (
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// NPlusOne is the answer to: can the site lose any one server without a
// camera going unrecorded? Cameras locked to the lost server go dark by
// design and do not fail the check; they are counted in Locked.
type NPlusOne struct {
	OK bool `json:"ok"`
	// Unplaced are cameras that fit nowhere even with every server up.
	Unplaced []string `json:"unplaced,omitempty"`
	// Losses lists the servers whose loss leaves cameras unrecorded.
	Losses []ServerLoss `json:"losses,omitempty"`
	// Locked counts cameras that go dark with their own server.
	Locked int `json:"locked"`
}

// ServerLoss is the cameras that one server's loss leaves unrecorded.
type ServerLoss struct {
	Server  string   `json:"server"`
	Cameras []string `json:"cameras"`
}

// CheckNPlusOne runs the assignment once per server that can record, with
// that server dead: the one N+1 check, behind vigil plan, the console and
// vigil validate's capacity warning. A site without cameras has nothing to
// check: nil.
func CheckNPlusOne(desired *spec.Site, overrides []api.Override, now time.Time) *NPlusOne {
	if len(desired.Cameras) == 0 {
		return nil
	}
	n := &NPlusOne{}
	base := Assign(Input{Spec: desired, Members: SimulatedMembers(desired, nil, now), Overrides: overrides, Now: now})
	for _, c := range desired.Cameras {
		if r, ok := base.Cameras[c.Name]; ok && len(r.Recorders) == 0 {
			n.Unplaced = append(n.Unplaced, c.Name)
		}
	}
	for _, s := range desired.Servers {
		// A server that cannot record, or records nothing with every
		// server up (an idle standby), strands nothing when it is lost.
		if base.Load[s.Name] == 0 {
			continue
		}
		res := Assign(Input{Spec: desired, Members: SimulatedMembers(desired, []string{s.Name}, now), Overrides: overrides, Now: now})
		var lost []string
		for _, c := range desired.Cameras {
			r := res.Cameras[c.Name]
			if len(r.Recorders) > 0 || len(base.Cameras[c.Name].Recorders) == 0 {
				continue
			}
			if c.Locked && c.Server == s.Name {
				n.Locked++
				continue
			}
			lost = append(lost, c.Name)
		}
		if len(lost) > 0 {
			n.Losses = append(n.Losses, ServerLoss{Server: s.Name, Cameras: lost})
		}
	}
	n.OK = len(n.Losses) == 0 && len(n.Unplaced) == 0
	return n
}

// Uncovered is the N+1 check of a desired site as vigil validate's capacity
// warning reads it (hcl.LoadOptions.Capacity): each server whose loss leaves
// cameras unrecorded, with those cameras; nil when there is none.
func Uncovered(desired *spec.Site) map[string][]string {
	n := CheckNPlusOne(desired, nil, time.Now())
	if n == nil || len(n.Losses) == 0 {
		return nil
	}
	lost := make(map[string][]string, len(n.Losses))
	for _, l := range n.Losses {
		lost[l.Server] = l.Cameras
	}
	return lost
}

// SimulatedMembers is every server of the spec alive, except failed, which
// died one second apart in the order given (the order
// max_concurrent_failovers covers them in): the membership of a failure
// simulation (vigil plan -fail) and of the N+1 check.
func SimulatedMembers(site *spec.Site, failed []string, now time.Time) map[string]Member {
	m := make(map[string]Member, len(site.Servers))
	for _, s := range site.Servers {
		m[s.Name] = Member{Health: api.HealthAlive, Since: now.Add(-time.Hour)}
	}
	for i, name := range failed {
		m[name] = Member{Health: api.HealthDead, Since: now.Add(time.Duration(i-len(failed)) * time.Second)}
	}
	return m
}
