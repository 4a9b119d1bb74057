package hcl

import (
	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
)

// specRange is the model's copy of a source range: the decoder records
// ranges in the spec, whose package does not know the HCL toolchain.
func specRange(r hhcl.Range) spec.Range {
	return spec.Range{Filename: r.Filename,
		Start: spec.Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
		End:   spec.Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte}}
}

// hclRange is a range of the model as the diagnostics of HCL take it.
func hclRange(r spec.Range) hhcl.Range {
	return hhcl.Range{Filename: r.Filename,
		Start: hhcl.Pos{Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte},
		End:   hhcl.Pos{Line: r.End.Line, Column: r.End.Column, Byte: r.End.Byte}}
}
