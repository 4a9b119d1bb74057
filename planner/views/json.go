package views

import (
	"encoding/json"
	"io"

	"vigil/planner"
)

// JSONFormatVersion is the format_version of the JSON plan; it changes only
// when a field changes meaning or goes away (fields may be added).
const JSONFormatVersion = "1"

// jsonPlan is the document `vigil plan -json` prints; planner's package
// documentation describes its fields.
type jsonPlan struct {
	FormatVersion string `json:"format_version"`
	*planner.SitePlan
}

// JSON writes the plan as one indented JSON document.
func JSON(w io.Writer, p *planner.SitePlan) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonPlan{FormatVersion: JSONFormatVersion, SitePlan: p})
}
