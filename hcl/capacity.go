package hcl

import (
	"fmt"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
)

// capacityWarnings is the N+1 advice: lost maps each server whose failure
// would leave cameras recorded nowhere to those cameras, as the caller's
// check found them (LoadOptions.Capacity: the assignment the agents run,
// which vigil plan shows too). Cameras locked to the lost server go dark by
// design and are not in it. Warnings follow the servers' declaration order.
func capacityWarnings(s *spec.Site, lost map[string][]string) hhcl.Diagnostics {
	var diags hhcl.Diagnostics
	for _, sv := range s.Servers {
		uncovered := lost[sv.Name]
		if len(uncovered) == 0 {
			continue
		}
		list := uncovered
		more := ""
		if len(list) > 10 {
			list, more = list[:10], fmt.Sprintf(" and %d more", len(uncovered)-10)
		}
		cams, would, them := fmt.Sprintf("%d of its cameras have", len(uncovered)), "they would", "them"
		if len(uncovered) == 1 {
			cams, would, them = "1 of its cameras has", "it would", "it"
		}
		diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagWarning, Summary: "Not enough failover capacity",
			Detail: fmt.Sprintf("If server %q fails, %s no live backup, group member or standby server with free capacity, so %s not be recorded: %s%s. Give %s backups, add a standby server, or raise max_cameras.",
				sv.Name, cams, would, strings.Join(list, ", "), more, them),
			Subject: at(nil, "", sv.DeclRange)})
	}
	return diags
}
