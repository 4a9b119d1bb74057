package main

import (
	"context"
	"time"

	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

// footageTimeout bounds the question a plan asks a site about its holds;
// the agent gives each peer 3 s of it.
const footageTimeout = 10 * time.Second

// askFootage asks a site which footage holds keep, through the API client.
func askFootage(token string) planner.FootageFunc {
	return func(ctx context.Context, address string, holds []*spec.Hold) (*api.HoldFootage, error) {
		ctx, cancel := context.WithTimeout(ctx, footageTimeout)
		defer cancel()
		return newClient(address, token).HoldFootage(ctx, api.HoldFootageRequest{Holds: holds})
	}
}

// planSite plans desired against live, asking the site at client's
// address which footage the holds keep.
func planSite(client *api.Client, desired *spec.Site, live *api.State, opts planner.Options) (*planner.SitePlan, error) {
	return planner.PlanWithFootage(context.Background(), desired, live, opts, askFootage(api.TokenFromEnv()), client.Address())
}
