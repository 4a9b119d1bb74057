package spec

// Diagnostic is the serialisable form of one problem found in a
// configuration: what `vigil validate -json` prints and what the API returns
// when it refuses a spec.
type Diagnostic struct {
	Severity Severity `json:"severity"` // SeverityError or SeverityWarning
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail,omitempty"`
	// Range is nil for problems not tied to a place in a file.
	Range *Range `json:"range,omitempty"`
}

// Range is a span of a source file; lines and columns count from 1.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// Pos is one position in a source file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}
