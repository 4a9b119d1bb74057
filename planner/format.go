package planner

import (
	"encoding/json"
	"fmt"
)

// FormatVersion is the format_version of every JSON document about plans
// that vigil writes: `vigil plan -json` (a site's, a domain's, and the error
// document in place of a plan) and plan files (a site's and a domain's).
// They are one family and change together, so they share one type and one
// value, a string as in Terraform's JSON output.
type FormatVersion string

// Format is the version this vigil writes, and the only one its plan files
// are read in. "2": sizes in plans are strings ("1GB", was a number of
// bytes), format_version is a string everywhere (plan files had the number
// 1). Fields may be added within a version.
const Format FormatVersion = "2"

// UnmarshalJSON reads a number too, as plan files of format 1 wrote it, so
// that such a file is refused for its version, not for a JSON type.
func (v *FormatVersion) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = FormatVersion(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("format_version is neither a string nor a number: %s", b)
	}
	*v = FormatVersion(n.String())
	return nil
}

// checkFormat refuses a plan file written in another format.
func checkFormat(v FormatVersion) error {
	if v != Format {
		return fmt.Errorf("plan file format %s is not supported by this vigil (it reads format %s); run vigil plan -out again", v, Format)
	}
	return nil
}
