package planner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// TestPlanWithFootage: the site is asked about the configuration's holds
// and the live ones it removes, at the address the plan uses, and only once
// the site has a spec; a site that cannot answer is a warning.
func TestPlanWithFootage(t *testing.T) {
	from := time.Date(2026, 11, 20, 21, 0, 0, 0, time.UTC)
	hold := func(name string) *spec.Hold {
		return &spec.Hold{Name: name, Cameras: []string{"a"}, From: from, To: from.Add(time.Hour)}
	}
	have := site()
	have.Holds = []*spec.Hold{hold("kept"), hold("removed")}
	want := site()
	want.Holds = []*spec.Hold{hold("kept"), hold("new"), {Name: "no-period", Cameras: []string{"a"}}}
	var asked []string
	var at string
	ask := func(_ context.Context, address string, holds []*spec.Hold) (*api.HoldFootage, error) {
		at = address
		for _, h := range holds {
			asked = append(asked, h.Name)
		}
		return &api.HoldFootage{Footage: []api.HeldFootage{{Hold: "kept", Server: "rec-1", Cameras: []string{"a"}, Segments: 3, Bytes: 300}}}, nil
	}
	opts := Options{Now: from.Add(48 * time.Hour)}
	p, err := PlanWithFootage(context.Background(), want, liveOf(have), opts, ask, "http://10.0.0.11:53540")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"kept", "new", "removed"}) || at != "http://10.0.0.11:53540" {
		t.Errorf("asked about %v at %s", asked, at)
	}
	if f := p.Holds[0].Footage; f == nil || f.Bytes != 300 || !f.Complete {
		t.Errorf("footage of kept: %+v", f)
	}
	var warned []string
	for _, w := range p.Warnings {
		warned = append(warned, w.Address)
	}
	if !slices.Equal(warned, []string{"site.hq.hold.new", "site.hq.hold.no-period", "site.hq.hold.removed"}) {
		t.Errorf("warnings about %v", warned)
	}

	// Before the first apply there is nothing to ask.
	asked = nil
	if _, err := PlanWithFootage(context.Background(), want, &api.State{}, opts, ask, "x"); err != nil || asked != nil {
		t.Errorf("first apply: asked %v, %v", asked, err)
	}
	failing := func(context.Context, string, []*spec.Hold) (*api.HoldFootage, error) {
		return nil, errors.New("503 no quorum")
	}
	p, err = PlanWithFootage(context.Background(), want, liveOf(have), opts, failing, "x")
	if err != nil || len(p.Warnings) == 0 || !strings.Contains(p.Warnings[len(p.Warnings)-1].Summary, "could not say which footage the holds keep: 503 no quorum") {
		t.Errorf("a site that cannot answer: %+v, %v", p.Warnings, err)
	}
	if p.Holds[0].Footage != nil {
		t.Errorf("footage without an answer: %+v", p.Holds[0].Footage)
	}
}
