package planner

import (
	"fmt"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// FailureSimulation is the assignment of the desired spec with some servers
// dead, compared with every server alive.
type FailureSimulation struct {
	// Failed are the servers simulated dead, in the order they die.
	Failed []string `json:"failed"`
	// Cameras lists every camera whose recorders or state change, in
	// configuration order.
	Cameras []SimulatedCamera `json:"cameras"`
	// Load is every server that can record, in configuration order.
	Load []ServerLoad `json:"load"`
	// Queued are failed servers whose cameras wait for a failover slot
	// (max_concurrent_failovers).
	Queued []string `json:"queued,omitempty"`
	// Dark counts cameras locked to a failed server; Uncovered counts
	// cameras that fit nowhere or wait in the queue.
	Dark      int `json:"dark"`
	Uncovered int `json:"uncovered"`
}

// SimulatedCamera is where one camera lands.
type SimulatedCamera struct {
	Name string `json:"name"`
	// Before and After are the servers recording it, main recorder first.
	Before []string `json:"before"`
	After  []string `json:"after"`
	// State is "recording", "covered", "dark" or "uncovered" (the api
	// camera states) after the failure.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// ServerLoad is one server's camera count before and after the failure.
type ServerLoad struct {
	Server string `json:"server"`
	// MaxCameras is the server's limit; 0 means none.
	MaxCameras int  `json:"max_cameras"`
	Before     int  `json:"before"`
	After      int  `json:"after"`
	Failed     bool `json:"failed"`
}

// Simulate runs the assignment of the desired spec with the failed servers
// dead (in the order given) and every other server alive, and compares it
// with every server alive. Balancing moves in force are kept.
func Simulate(desired *spec.Site, overrides []api.Override, failed []string, now time.Time) (*FailureSimulation, error) {
	seen := map[string]bool{}
	for _, name := range failed {
		if desired.Server(name) == nil {
			var names []string
			for _, s := range desired.Servers {
				names = append(names, s.Name)
			}
			return nil, fmt.Errorf("cannot simulate the failure of %q: site %s has no such server (servers: %s)", name, desired.Name, strings.Join(names, ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("server %q is named twice in -fail", name)
		}
		seen[name] = true
	}
	before := assign.Assign(assign.Input{Spec: desired, Members: assign.SimulatedMembers(desired, nil, now), Overrides: overrides, Now: now})
	after := assign.Assign(assign.Input{Spec: desired, Members: assign.SimulatedMembers(desired, failed, now), Overrides: overrides, Now: now})

	sim := &FailureSimulation{Failed: failed, Cameras: []SimulatedCamera{}, Queued: after.Queued}
	for _, c := range desired.Cameras {
		b, a := before.Cameras[c.Name], after.Cameras[c.Name]
		bs, as := servers(b.Recorders), servers(a.Recorders)
		if b.State == a.State && equal(bs, as) {
			continue
		}
		sim.Cameras = append(sim.Cameras, SimulatedCamera{Name: c.Name, Before: bs, After: as, State: a.State, Reason: a.Reason})
		switch a.State {
		case api.CameraDark:
			sim.Dark++
		case api.CameraUncovered:
			sim.Uncovered++
		}
	}
	for _, s := range desired.Servers {
		if _, ok := before.Load[s.Name]; !ok {
			continue // witness and virtual servers record nothing
		}
		sim.Load = append(sim.Load, ServerLoad{
			Server: s.Name, MaxCameras: s.MaxCameras,
			Before: before.Load[s.Name], After: after.Load[s.Name], Failed: seen[s.Name],
		})
	}
	return sim, nil
}

func servers(recs []assign.Recorder) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Server
	}
	return out
}
