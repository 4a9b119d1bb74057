package agent_test

import (
	"slices"
	"testing"
	"time"

	"vigil/hcl"
	"vigil/runtime/api"
)

// TestHoldFootage: any agent answers which footage of the site a hold
// covers, asking its peers: a camera recorded on two servers (constant
// redundancy) shows on both; a server that is down is named as unanswered.
func TestHoldFootage(t *testing.T) {
	s := newSite(t, []string{"rec-1", "rec-2"}, 2)
	ctx := ctxFor(t, 60*time.Second)
	cam1 := s.CameraSpec(1, "rec-1", "rec-2")
	cam1.Redundancy = hcl.RedundancyConstant
	spec := s.Spec(cam1, s.CameraSpec(2, "rec-2"))
	now := time.Now().UTC()
	spec.Holds = []*hcl.Hold{
		{Name: "case", Cameras: []string{"cam1"}, From: now.Add(-time.Hour), To: now.Add(time.Hour), Reason: "test"},
		{Name: "elsewhere", Cameras: []string{"cam9*"}, From: now.Add(-time.Hour), To: now.Add(time.Hour)},
	}
	if _, err := s.Apply(ctx, spec); err != nil {
		t.Fatal(err)
	}
	req := api.HoldFootageRequest{Holds: spec.Holds}
	var got *api.HoldFootage
	for {
		f, err := s.Client("rec-2").HoldFootage(ctx, req)
		if err == nil && len(f.Footage) == 2 {
			got = f
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("footage on both servers never showed: %+v, %v", f, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i, server := range []string{"rec-1", "rec-2"} {
		f := got.Footage[i]
		if f.Hold != "case" || f.Server != server || !slices.Equal(f.Cameras, []string{"cam1"}) || f.Segments < 1 || f.Bytes <= 0 || !f.First.Before(f.Last) {
			t.Errorf("footage %d: %+v", i, f)
		}
	}
	if len(got.Unanswered) != 0 {
		t.Errorf("unanswered %v", got.Unanswered)
	}
	local, err := s.Client("rec-2").HoldFootage(ctx, api.HoldFootageRequest{Holds: spec.Holds, Local: true})
	if err != nil || len(local.Footage) != 1 || local.Footage[0].Server != "rec-2" {
		t.Errorf("local answer %+v, %v", local, err)
	}
	if _, err := s.Client("rec-2").HoldFootage(ctx, api.HoldFootageRequest{Holds: []*hcl.Hold{{Name: "x", From: now, To: now}}}); err == nil {
		t.Error("an empty period was answered")
	}

	// The recordings listing names the holds that keep part of it.
	for cam, want := range map[string][]string{"cam1": {"case"}, "cam2": nil} {
		rec, err := s.Client("rec-2").Recordings(ctx, cam, now.Add(-time.Minute), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, h := range rec.Holds {
			names = append(names, h.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("recordings of %s name holds %v, want %v", cam, names, want)
		}
	}

	if err := s.Stop("rec-1"); err != nil {
		t.Fatal(err)
	}
	f, err := s.Client("rec-2").HoldFootage(ctx, req)
	if err != nil || !slices.Equal(f.Unanswered, []string{"rec-1"}) || len(f.Footage) != 1 || f.Footage[0].Server != "rec-2" {
		t.Errorf("with rec-1 down: %+v, %v", f, err)
	}
}
