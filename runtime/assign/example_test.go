package assign_test

import (
	"fmt"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// rec-1 died: its camera goes to its first live backup, the locked plate
// reader goes dark, and the constant camera of rec-2 keeps two recorders.
func ExampleAssign() {
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)
	site := &spec.Site{
		Name:     "depot",
		Failback: true,
		Servers: []*spec.Server{
			{Name: "rec-1", Kind: spec.KindRecording},
			{Name: "rec-2", Kind: spec.KindRecording},
			{Name: "rec-3", Kind: spec.KindRecording, MaxCameras: 10},
			{Name: "spare", Kind: spec.KindStandby},
		},
		Cameras: []*spec.Camera{
			{Name: "gate", Server: "rec-1", Backup: []string{"rec-3", "rec-2"}, Redundancy: spec.RedundancyNormal},
			{Name: "lpr", Server: "rec-1", Locked: true, Redundancy: spec.RedundancyNormal},
			{Name: "vault", Server: "rec-2", Backup: []string{"rec-1", "rec-3"}, Redundancy: spec.RedundancyConstant},
			{Name: "yard", Server: "rec-1", Redundancy: spec.RedundancyNormal},
		},
	}
	res := assign.Assign(assign.Input{
		Spec: site,
		Members: map[string]assign.Member{
			"rec-1": {Health: api.HealthDead, Since: now.Add(-time.Minute)},
			"rec-2": {Health: api.HealthAlive, Since: now.Add(-time.Hour)},
			"rec-3": {Health: api.HealthAlive, Since: now.Add(-time.Hour)},
			"spare": {Health: api.HealthAlive, Since: now.Add(-time.Hour)},
		},
		Now: now,
	})
	for _, name := range []string{"gate", "lpr", "vault", "yard"} {
		c := res.Cameras[name]
		fmt.Printf("%-5s %-9s %s\n", name, c.State, c.Reason)
	}
	fmt.Println("rec-3 records", res.For("rec-3"))
	// Output:
	// gate  covered   rec-1 dead; covered by rec-3 (backup 1)
	// lpr   dark      locked to rec-1, which is dead
	// vault recording recorded by rec-2; constant copy on rec-3
	// yard  covered   rec-1 dead; covered by spare (standby)
	// rec-3 records [gate vault]
}
