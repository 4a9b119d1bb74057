package hcl

import (
	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Format returns src in canonical layout (indentation, aligned equals
// signs, spacing), as hclwrite formats it. It does not check syntax: use
// CheckSyntax first, since a file with errors may be mangled.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// CheckSyntax parses src as a configuration file and returns its syntax
// errors, if any.
func CheckSyntax(src []byte, filename string) hhcl.Diagnostics {
	if diags := checkNesting(src, filename); diags.HasErrors() {
		return diags
	}
	_, diags := hclsyntax.ParseConfig(src, filename, hhcl.InitialPos)
	return diags
}
