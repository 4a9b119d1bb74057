package assign

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// TestPropertyIdleServerLossChangesNothing: with every server alive, the
// loss of a server that records nothing moves no camera. CheckNPlusOne
// relies on it to skip such servers (a standby site of forty sites in
// examples/large is one run of the assignment fewer per site).
func TestPropertyIdleServerLossChangesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 1))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range propertyCases {
		in := randomInput(rng)
		base := Assign(Input{Spec: in.Spec, Members: SimulatedMembers(in.Spec, nil, now), Overrides: in.Overrides, Now: now})
		for name, load := range base.Load {
			if load != 0 {
				continue
			}
			res := Assign(Input{Spec: in.Spec, Members: SimulatedMembers(in.Spec, []string{name}, now), Overrides: in.Overrides, Now: now})
			for cam, c := range base.Cameras {
				if !reflect.DeepEqual(c.Recorders, res.Cameras[cam].Recorders) {
					t.Fatalf("case %d: %s records nothing, but its loss moves %s from %v to %v", i, name, cam, c.Recorders, res.Cameras[cam].Recorders)
				}
			}
		}
	}
}
