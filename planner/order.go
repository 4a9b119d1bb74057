package planner

import (
	"fmt"
	"sort"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// phase is the position of a change in the plan. Within a phase changes keep
// configuration order (live order for deletes).
func phase(c Change) int {
	switch c.Type {
	case TypeMaster:
		return 0 // the master role leaves a server before anything else
	case TypeSite:
		return 1
	case TypeServer:
		if c.Action == Delete {
			return 8 // a server goes only after its cameras moved off it
		}
		return 2 // new servers exist before cameras move to them
	case TypeGroup:
		if c.Action == Delete {
			return 7
		}
		return 3 // groups exist before cameras name them
	case TypeCamera:
		if c.Action == Delete {
			return 6
		}
		return 4
	case TypeBalancing, TypeAlert, TypeHold, TypeUser, TypeToken:
		return 5
	case TypeNotifier:
		if c.Action == Delete {
			return 7 // after the alerts that named it
		}
		return 3 // before the alerts that name it
	}
	return 9
}

// order applies the ordering rules: the master role moves first when its
// server goes, camera moves come before the delete of the server they leave,
// and the server the command talks to may not be removed.
func order(p *SitePlan, desired *spec.Site, live *api.State) {
	going := make(map[string]Action) // servers deleted or replaced
	for _, c := range p.Changes {
		if c.Type == TypeServer && (c.Action == Delete || c.Action == Replace) {
			going[c.Name] = c.Action
		}
	}

	if a, ok := going[live.Answering]; ok && live.Answering != "" {
		verb := "remove"
		if a == Replace {
			verb = "replace"
		}
		p.Errors = append(p.Errors, Problem{
			Address: "site." + desired.Name + ".server." + live.Answering,
			Summary: fmt.Sprintf("this plan would %s server %s, which is the server this command talks to", verb, live.Answering),
			Hint:    "run the command against another server of the site with -address",
		})
	}

	// A site's first apply goes through the server the command talks to,
	// which must be part of the site it creates.
	if live.Spec == nil && live.Answering != "" && desired.Server(live.Answering) == nil {
		p.Errors = append(p.Errors, Problem{
			Address: "site." + desired.Name,
			Summary: fmt.Sprintf("the server this command talks to, %s, is not a server of the configuration", live.Answering),
			Hint:    "add it to the configuration, or run the command against one of the configuration's servers with -address",
		})
	}

	// Every camera's primary must survive the plan; validation already
	// refuses a configuration that names an unknown server, this keeps the
	// rule even for specs that did not come from the loader.
	for _, cam := range desired.Cameras {
		if desired.Server(cam.Server) == nil {
			p.Errors = append(p.Errors, Problem{
				Address: "site." + desired.Name + ".camera." + cam.Name,
				Summary: fmt.Sprintf("camera %s is registered to server %s, which is not in the configuration", cam.Name, cam.Server),
				Hint:    "move the camera to a server of the site before removing its server",
			})
		}
	}

	if a, ok := going[live.Master]; ok && live.Master != "" {
		reason := "is being removed"
		if a == Replace {
			reason = "is being replaced"
		}
		to := masterCandidate(desired, live, going)
		if to == "" {
			p.Errors = append(p.Errors, Problem{
				Address: "site." + desired.Name + ".master",
				Summary: fmt.Sprintf("the master %s %s and no other live server of the site can take the master role", live.Master, reason),
				Hint:    "keep a recording or witness server that is alive in the site",
			})
		} else {
			p.Changes = append(p.Changes, Change{
				Address: "site." + desired.Name + ".master",
				Type:    TypeMaster,
				Action:  TransferMaster,
				From:    live.Master,
				To:      to,
				Reason:  fmt.Sprintf("the master %s %s", live.Master, reason),
			})
		}
	}

	sort.SliceStable(p.Changes, func(i, j int) bool { return phase(p.Changes[i]) < phase(p.Changes[j]) })
}

// masterCandidate picks the server that takes the master role: one that
// stays, unchanged in address, alive, and votes in the site; recording
// servers first, then standby, then witness, in configuration order.
func masterCandidate(desired *spec.Site, live *api.State, going map[string]Action) string {
	alive := make(map[string]bool, len(live.Servers))
	for _, s := range live.Servers {
		alive[s.Name] = s.Health == api.HealthAlive || s.Health == api.HealthDraining
	}
	inLive := func(name string) bool {
		return live.Spec != nil && live.Spec.Server(name) != nil
	}
	for _, kind := range []spec.ServerKind{spec.KindRecording, spec.KindStandby, spec.KindWitness} {
		for _, s := range desired.Servers {
			if s.Kind.OrDefault() != kind || s.Name == live.Master || !alive[s.Name] || !inLive(s.Name) {
				continue
			}
			if _, ok := going[s.Name]; ok {
				continue
			}
			return s.Name
		}
	}
	return ""
}
