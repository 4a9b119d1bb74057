package views

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"vigil/hcl/spec"
	"vigil/planner"
)

// DomainText writes a domain plan for a person: each site's plan under a
// header giving its place in the tree ("== site hq > plant-north =="), the
// sites that could not be planned, the cameras moving between sites, and
// one summary line for the domain.
func DomainText(w io.Writer, d *planner.DomainPlan, color bool) error {
	t := &text{w: w, color: color, moved: d.MovedCameras()}
	what := "the domain"
	if d.Domain != "" {
		what = "domain " + d.Domain
	}
	t.printf("Planning %s: %s.\n", what, plural(len(d.Sites), "site", "sites"))
	for _, s := range d.Sites {
		head := "site " + strings.Join(s.Path, " > ")
		if s.Virtual {
			head += " (virtual)"
		}
		t.printf("\n%s\n", t.paint(bold, "== "+head+" =="))
		switch s.Status {
		case planner.SitePlanned:
			t.plan(s.Plan)
		case planner.SiteUnreachable:
			t.printf("%s (tried %s)\n  last error: %s\n", t.paint(bold+red, "site "+s.Site+": unreachable"), strings.Join(s.Tried, ", "), s.Error)
		case planner.SiteFailed:
			t.printf("%s %s\n", t.paint(bold+red, "site "+s.Site+": not planned:"), s.Error)
		case planner.SiteNoAddress:
			t.printf("site %s: no server has an address, so there is nothing to reach or plan.\n", s.Site)
		}
	}
	if len(d.Moves) > 0 {
		t.printf("\n%s\n", t.paint(bold, "Cameras moving between sites (a create in one site, a destroy in the other):"))
		for _, m := range d.Moves {
			t.printf("  %s camera %s: site %s -> site %s\n", t.symbol(planner.Move), strconv.Quote(m.Camera), m.FromSite, m.ToSite)
		}
	}
	t.domainSummary(d.Summary)
	return t.err
}

func (t *text) domainSummary(s planner.DomainSummary) {
	var skipped []string
	if s.Unreachable > 0 {
		skipped = append(skipped, fmt.Sprintf("%d unreachable", s.Unreachable))
	}
	if s.Failed > 0 {
		skipped = append(skipped, fmt.Sprintf("%d failed", s.Failed))
	}
	if s.NoAddress > 0 {
		skipped = append(skipped, fmt.Sprintf("%d without an address", s.NoAddress))
	}
	sites := fmt.Sprintf("%d of %s planned", s.Planned, plural(s.Sites, "site", "sites"))
	if len(skipped) > 0 {
		sites += " (" + strings.Join(skipped, ", ") + ")"
	}
	line := fmt.Sprintf("Domain plan: %s; %d to add, %d to change, %d to destroy", sites, s.Add, s.Change, s.Destroy)
	if s.Move > 0 {
		line += fmt.Sprintf(", %d to move", s.Move)
	}
	if s.WithChanges > 0 {
		line += fmt.Sprintf(", in %s", plural(s.WithChanges, "site", "sites"))
	} else {
		line += "; no site changes"
	}
	t.printf("\n%s.\n", t.paint(bold, line))
	if s.WithErrors > 0 {
		t.printf("%s\n", t.paint(bold+red, fmt.Sprintf("%s cannot be applied: see the errors above.", plural(s.WithErrors, "site plan", "site plans"))))
	}
}

// jsonDomainPlan is the document `vigil plan -json` prints for a domain;
// planner's package documentation describes its fields.
type jsonDomainPlan struct {
	FormatVersion planner.FormatVersion `json:"format_version"`
	Kind          string                `json:"kind"`
	Diagnostics   []spec.Diagnostic     `json:"diagnostics,omitempty"`
	*planner.DomainPlan
}

// DomainJSON writes the domain plan as one indented JSON document, with the
// configuration's warnings.
func DomainJSON(w io.Writer, d *planner.DomainPlan, warnings []spec.Diagnostic) error {
	return encode(w, jsonDomainPlan{FormatVersion: planner.Format, Kind: "domain", Diagnostics: warnings, DomainPlan: d})
}
