package hcl

import (
	"fmt"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
)

// capacityWarnings is the N+1 check: for each recording server in turn, it
// fails that server alone and hands its unlocked cameras out the way the
// assignment does (the camera's backup list or group in order, then the
// site's standby servers), never beyond a server's max_cameras. Every
// server that would leave some camera with nowhere to go gets a warning.
//
// A server's standing load is its primaries plus the constant-redundancy
// cameras it records as first backup. A constant camera whose first backup
// survives is already recorded there and needs no new place.
func capacityWarnings(s *Site) hhcl.Diagnostics {
	var diags hhcl.Diagnostics
	load := map[string]int{}
	byPrimary := map[string][]*Camera{}
	for _, c := range s.Cameras {
		load[c.Server]++
		byPrimary[c.Server] = append(byPrimary[c.Server], c)
		if c.Redundancy == RedundancyConstant {
			if b := s.BackupServers(c); len(b) > 0 {
				load[b[0]]++
			}
		}
	}
	var standbys []string
	capacity := map[string]int{}
	const unlimited = int(^uint(0) >> 1)
	for _, sv := range s.Servers {
		if sv.Kind == KindStandby {
			standbys = append(standbys, sv.Name)
		}
		if sv.Kind != KindRecording && sv.Kind != KindStandby {
			continue
		}
		if sv.MaxCameras == 0 {
			capacity[sv.Name] = unlimited
		} else {
			capacity[sv.Name] = sv.MaxCameras
		}
	}

	for _, failed := range s.Servers {
		if failed.Kind != KindRecording || len(byPrimary[failed.Name]) == 0 {
			continue
		}
		free := map[string]int{}
		for name, c := range capacity {
			if name != failed.Name {
				free[name] = c - load[name]
			}
		}
		var uncovered []string
		for _, c := range byPrimary[failed.Name] {
			if c.Locked {
				continue
			}
			backups := s.BackupServers(c)
			if c.Redundancy == RedundancyConstant && len(backups) > 0 && backups[0] != failed.Name {
				continue
			}
			if !take(free, backups, failed.Name) && !take(free, standbys, failed.Name) {
				uncovered = append(uncovered, c.Name)
			}
		}
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
				failed.Name, cams, would, strings.Join(list, ", "), more, them),
			Subject: at(nil, "", failed.DeclRange)})
	}
	return diags
}

// take uses one unit of free capacity on the first server of cands, other
// than failed, that has any, and reports whether there was one.
func take(free map[string]int, cands []string, failed string) bool {
	for _, cand := range cands {
		if cand != failed && free[cand] > 0 {
			free[cand]--
			return true
		}
	}
	return false
}
