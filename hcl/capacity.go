package hcl

import (
	"fmt"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/hcl/spec"
	"vigil/runtime/assign"
)

// capacityWarnings is the N+1 advice: the assignment the agents run
// (assign.CheckNPlusOne, which vigil plan shows too) with each server that
// can record failed in turn, every other server alive. Every server whose
// loss would leave some camera recorded nowhere gets a warning; cameras
// locked to it go dark by design and are not counted.
func capacityWarnings(s *spec.Site) hhcl.Diagnostics {
	n := assign.CheckNPlusOne(s, nil, time.Now())
	if n == nil {
		return nil
	}
	var diags hhcl.Diagnostics
	for _, loss := range n.Losses {
		uncovered := loss.Cameras
		list := uncovered
		more := ""
		if len(list) > 10 {
			list, more = list[:10], fmt.Sprintf(" and %d more", len(uncovered)-10)
		}
		cams, would, them := fmt.Sprintf("%d of its cameras have", len(uncovered)), "they would", "them"
		if len(uncovered) == 1 {
			cams, would, them = "1 of its cameras has", "it would", "it"
		}
		var decl spec.Range
		if sv := s.Server(loss.Server); sv != nil {
			decl = sv.DeclRange
		}
		diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagWarning, Summary: "Not enough failover capacity",
			Detail: fmt.Sprintf("If server %q fails, %s no live backup, group member or standby server with free capacity, so %s not be recorded: %s%s. Give %s backups, add a standby server, or raise max_cameras.",
				loss.Server, cams, would, strings.Join(list, ", "), more, them),
			Subject: at(nil, "", decl)})
	}
	return diags
}
