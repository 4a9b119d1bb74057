package main

import (
	"context"
	"slices"
	"time"

	"vigil/hcl"
	"vigil/planner"
	"vigil/runtime/api"
)

// footageTimeout bounds the question a plan asks the site about its holds;
// the agent gives each peer 3 s of it.
const footageTimeout = 10 * time.Second

// planSite plans desired against live, first asking the site which footage
// the holds of both keep (when there are holds). A site that cannot say is
// a warning of the plan, not a failed plan.
func planSite(client *api.Client, desired *hcl.Site, live *api.State, opts planner.Options) (*planner.SitePlan, error) {
	holds := slices.Clone(desired.Holds)
	if live.Spec != nil {
		for _, h := range live.Spec.Holds {
			if desired.Hold(h.Name) == nil {
				holds = append(holds, h)
			}
		}
	}
	var askErr error
	if len(holds) > 0 && live.Revision > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), footageTimeout)
		opts.Footage, askErr = client.HoldFootage(ctx, api.HoldFootageRequest{Holds: validHolds(holds)})
		cancel()
	}
	p, err := planner.Plan(desired, live, opts)
	if err != nil {
		return nil, err
	}
	if askErr != nil {
		p.Warnings = append(p.Warnings, planner.Problem{Summary: "The site could not say which footage the holds keep: " + askErr.Error()})
	}
	return p, nil
}

// validHolds leaves out holds without a period, which the agent refuses
// (validation reports them).
func validHolds(holds []*hcl.Hold) []*hcl.Hold {
	var out []*hcl.Hold
	for _, h := range holds {
		if h.To.After(h.From) {
			out = append(out, h)
		}
	}
	return out
}
