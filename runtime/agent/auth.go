package agent

import (
	"fmt"

	"vigil/hcl"
	"vigil/runtime/access"
)

// passwordHashes checks the users' password hashes as logins will read
// them (access.ValidPasswordHash: the parameters within bounds); the
// configuration language checks only their form, as it cannot import the
// agent's packages.
func passwordHashes(spec *hcl.Site) []hcl.Diagnostic {
	var diags []hcl.Diagnostic
	for _, u := range spec.Users {
		if err := access.ValidPasswordHash(u.PasswordHash); err != nil && !hcl.IsFingerprint(u.PasswordHash) {
			diags = append(diags, hcl.Diagnostic{Severity: "error",
				Summary: fmt.Sprintf("User %q: invalid password hash", u.Name),
				Detail:  err.Error()})
		}
	}
	return diags
}
