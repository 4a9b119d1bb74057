package views

import (
	"encoding/json"
	"io"

	"vigil/hcl/spec"
	"vigil/planner"
)

// jsonPlan is the document `vigil plan -json` prints; planner's package
// documentation describes its fields.
type jsonPlan struct {
	FormatVersion planner.FormatVersion `json:"format_version"`
	// Diagnostics are the configuration's warnings.
	Diagnostics []spec.Diagnostic `json:"diagnostics,omitempty"`
	*planner.SitePlan
}

// jsonFailure is the document printed instead when there is no plan.
type jsonFailure struct {
	FormatVersion planner.FormatVersion `json:"format_version"`
	Error         string                `json:"error"`
	Diagnostics   []spec.Diagnostic     `json:"diagnostics"`
}

// JSON writes the plan as one indented JSON document, with the
// configuration's warnings.
func JSON(w io.Writer, p *planner.SitePlan, warnings []spec.Diagnostic) error {
	return encode(w, jsonPlan{FormatVersion: planner.Format, Diagnostics: warnings, SitePlan: p})
}

// JSONError writes, in place of a plan, why there is none: an error and the
// configuration's diagnostics.
func JSONError(w io.Writer, msg string, diags []spec.Diagnostic) error {
	if diags == nil {
		diags = []spec.Diagnostic{}
	}
	return encode(w, jsonFailure{FormatVersion: planner.Format, Error: msg, Diagnostics: diags})
}

func encode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
