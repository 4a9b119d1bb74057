// Package hcl is vigil's configuration language: it loads a directory of *.hcl
// files (variables, locals, functions, dynamic blocks), decodes them into the
// committed spec's model (package spec), validates the model and formats
// files.
//
// The decoder records the source range of every block and attribute in the
// model (spec.Range), so that the diagnostics of this package, the planner and
// hot reload point at the line that caused a problem.
package hcl

import "vigil/hcl/spec"

// Config is a whole configuration: every *.hcl file of a directory, evaluated.
type Config struct {
	// Domain is nil when the files declare no domain block.
	Domain *spec.Domain `json:"domain,omitempty"`
	Sites  []*spec.Site `json:"sites"`
	// Sensitive lists the values of sensitive variables, so that renderers can
	// scrub them from any text they print. Never serialised.
	Sensitive []string `json:"-"`
	// Files maps each loaded file name to its source, for diagnostics.
	Files map[string][]byte `json:"-"`
}

// Site returns the named site, or nil.
func (c *Config) Site(name string) *spec.Site {
	for _, s := range c.Sites {
		if s.Name == name {
			return s
		}
	}
	return nil
}
