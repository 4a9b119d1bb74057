package agent

import (
	"fmt"

	"vigil/hcl/spec"
	"vigil/runtime/access"
)

// passwordHashes checks the users' password hashes as logins will read
// them (access.ValidPasswordHash: the parameters within bounds); the
// configuration language checks only their form, as it cannot import the
// agent's packages.
func passwordHashes(site *spec.Site) []spec.Diagnostic {
	var diags []spec.Diagnostic
	for _, u := range site.Users {
		if err := access.ValidPasswordHash(u.PasswordHash); err != nil && !spec.IsFingerprint(u.PasswordHash) {
			diags = append(diags, spec.Diagnostic{Severity: spec.SeverityError,
				Summary: fmt.Sprintf("User %q: invalid password hash", u.Name),
				Detail:  err.Error()})
		}
	}
	return diags
}
