package planner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// TypeHold is the resource type of an evidence hold.
const TypeHold = "hold"

// HoldReport is one hold of the configuration with the footage it keeps.
type HoldReport struct {
	Name    string    `json:"name"`
	Address string    `json:"address"`
	Cameras []string  `json:"cameras"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Until   time.Time `json:"until,omitzero"`
	Reason  string    `json:"reason,omitempty"`
	// Active is false once Until has passed: the hold keeps nothing then.
	Active bool `json:"active"`
	// Started is false while the period is still to come.
	Started bool `json:"started"`
	// Footage is nil when the site was not asked (hot reload, domain
	// plans).
	Footage *KeptFootage `json:"footage,omitempty"`
}

// KeptFootage is what the site has of a hold's period: every server's
// copy counts, since retention keeps each.
type KeptFootage struct {
	Bytes    int64 `json:"bytes"`
	Segments int   `json:"segments"`
	// Cameras have footage in the period, on some server.
	Cameras []string          `json:"cameras"`
	Servers []api.HeldFootage `json:"servers"`
	// Complete is false when servers did not answer (Unanswered): they
	// may have more.
	Complete   bool     `json:"complete"`
	Unanswered []string `json:"unanswered,omitempty"`
}

// holdAttrs flattens a hold for the diff; times are RFC 3339 in UTC.
func holdAttrs(h *spec.Hold) []attr {
	return []attr{
		{name: "cameras", val: h.Cameras},
		{name: "from", val: timeText(h.From)},
		{name: "to", val: timeText(h.To)},
		{name: "until", val: timeText(h.Until)},
		{name: "reason", val: h.Reason},
	}
}

// timeText writes t in UTC; zero is "", which listings leave out.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// holdReports describes each hold of desired with the footage it keeps
// (when footage is known), and warns about holds that keep nothing: ended,
// or whose footage is already gone, and about removed holds whose footage
// retention may then delete.
func holdReports(desired, live *spec.Site, footage *api.HoldFootage, now time.Time) ([]HoldReport, []Problem) {
	base := "site." + desired.Name + ".hold."
	var reports []HoldReport
	var warnings []Problem
	for _, h := range desired.Holds {
		r := HoldReport{Name: h.Name, Address: base + h.Name, Cameras: h.Cameras, From: h.From.UTC(), To: h.To.UTC(),
			Reason: h.Reason, Active: h.Active(now), Started: h.From.Before(now), Footage: kept(h.Name, footage)}
		if !h.Until.IsZero() {
			r.Until = h.Until.UTC()
		}
		reports = append(reports, r)
		switch f := r.Footage; {
		case !r.Active:
			warnings = append(warnings, Problem{Address: r.Address,
				Summary: fmt.Sprintf("Hold %q ended at %s: it keeps nothing, and retention deletes its footage as it would any other.", h.Name, timeText(h.Until)),
				Hint:    "Move its until later to keep what is left, or remove the hold."})
		case f == nil || f.Segments > 0 || !r.Started:
			// Unknown, footage kept, or a period still to come.
		case f.Complete:
			warnings = append(warnings, Problem{Address: r.Address,
				Summary: fmt.Sprintf("Hold %q keeps nothing: no server has footage of its cameras from %s to %s. It is already gone (deleted by retention, or never recorded).", h.Name, timeText(h.From), timeText(h.To)),
				Hint:    "Check the cameras and the period; vigil recordings CAMERA lists what is left."})
		default:
			warnings = append(warnings, Problem{Address: r.Address,
				Summary: fmt.Sprintf("Hold %q: no server that answered has footage of its cameras from %s to %s; %s did not answer.", h.Name, timeText(h.From), timeText(h.To), joinNames(f.Unanswered)),
				Hint:    "The footage may be gone; plan again when those servers are up to know."})
		}
	}
	if live != nil {
		for _, h := range live.Holds {
			if slices.ContainsFunc(desired.Holds, func(x *spec.Hold) bool { return x.Name == h.Name }) || !h.Active(now) {
				continue
			}
			what := "the footage it keeps"
			if f := kept(h.Name, footage); f != nil && f.Segments > 0 {
				what = fmt.Sprintf("the %s it keeps (%d segments of %s)", spec.FormatSize(float64(f.Bytes)), f.Segments, joinNames(f.Cameras))
			}
			warnings = append(warnings, Problem{Address: base + h.Name,
				Summary: fmt.Sprintf("Removing hold %q lets retention delete %s.", h.Name, what)})
		}
	}
	return reports, warnings
}

// kept sums a hold's footage over the servers; nil when footage is nil.
func kept(hold string, footage *api.HoldFootage) *KeptFootage {
	if footage == nil {
		return nil
	}
	k := &KeptFootage{Cameras: []string{}, Servers: []api.HeldFootage{}, Complete: len(footage.Unanswered) == 0, Unanswered: footage.Unanswered}
	for _, f := range footage.Footage {
		if f.Hold != hold {
			continue
		}
		k.Bytes += f.Bytes
		k.Segments += f.Segments
		k.Servers = append(k.Servers, f)
		for _, c := range f.Cameras {
			if !slices.Contains(k.Cameras, c) {
				k.Cameras = append(k.Cameras, c)
			}
		}
	}
	slices.Sort(k.Cameras)
	return k
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return fmt.Sprintf("%s and %s", strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
}

// FootageFunc asks the site at address which of its footage the holds
// keep (POST /v1/holds/footage). The planner opens no socket itself: vigil
// plan passes the API client.
type FootageFunc func(ctx context.Context, address string, holds []*spec.Hold) (*api.HoldFootage, error)

// PlanWithFootage is Plan after asking the site, through ask, which
// footage the holds keep: those of desired, and those of the live spec
// that desired removes. A site that cannot say makes a warning, not a
// failed plan.
func PlanWithFootage(ctx context.Context, desired *spec.Site, live *api.State, opts Options, ask FootageFunc, address string) (*SitePlan, error) {
	holds := slices.Clone(desired.Holds)
	if live != nil && live.Spec != nil {
		for _, h := range live.Spec.Holds {
			if desired.Hold(h.Name) == nil {
				holds = append(holds, h)
			}
		}
	}
	// A hold without a period is refused by the agent; validation reports it.
	holds = slices.DeleteFunc(holds, func(h *spec.Hold) bool { return !h.To.After(h.From) })
	var askErr error
	if len(holds) > 0 && live != nil && live.Revision > 0 && ask != nil {
		opts.Footage, askErr = ask(ctx, address, holds)
	}
	p, err := Plan(desired, live, opts)
	if err != nil {
		return nil, err
	}
	if askErr != nil {
		p.Warnings = append(p.Warnings, Problem{Summary: "The site could not say which footage the holds keep: " + askErr.Error()})
	}
	return p, nil
}
