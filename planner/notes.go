package planner

import (
	"fmt"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// liveNotes describes the live site: what is down, who covers for whom,
// which balancing moves are in force. None of it is a change: a takeover is
// the site doing its job, not drift from the configuration.
func liveNotes(desired *spec.Site, live *api.State) []Note {
	base := "site." + desired.Name
	var notes []Note
	if live.ConfigError != "" {
		notes = append(notes, Note{
			Kind:    NoteConfigError,
			Address: base,
			Message: "the site reports an invalid configuration change and keeps running the last good one: " + live.ConfigError,
		})
	}
	if live.Message != "" {
		notes = append(notes, Note{Kind: NoteSiteMessage, Address: base, Message: "the site says: " + live.Message})
	}
	for _, s := range live.Servers {
		if s.Health != api.HealthDead && s.Health != api.HealthSuspect {
			continue
		}
		msg := fmt.Sprintf("server %s is %s", s.Name, s.Health)
		if !s.Since.IsZero() {
			msg += " since " + s.Since.UTC().Format(time.RFC3339)
		}
		notes = append(notes, Note{Kind: NoteServerDown, Address: base + ".server." + s.Name, Message: msg})
	}
	for _, c := range live.Cameras {
		var kind, msg, why string
		switch c.State {
		case api.CameraCovered:
			kind, msg = NoteCameraCovered, "camera "+c.Name+" is covered"
			why = fmt.Sprintf("recorded by %s while its server %s is down", recordersOf(c), c.Server)
		case api.CameraDark:
			kind, msg = NoteCameraDark, "camera "+c.Name+" is dark"
			why = fmt.Sprintf("locked to %s, which is down", c.Server)
		case api.CameraUncovered:
			kind, msg = NoteCameraUncovered, "camera "+c.Name+" is not recorded"
			why = "no live server has room for it"
		case api.CameraFailing:
			kind, msg = NoteCameraFailing, "camera "+c.Name+" is failing"
			why = "its recorder cannot get the stream"
			for _, r := range c.Recorders {
				if r.Error != "" {
					why = r.Server + ": " + r.Error
					break
				}
			}
		default:
			continue
		}
		if c.Reason != "" {
			why = c.Reason
		}
		msg += ": " + why
		if kind == NoteCameraCovered {
			msg += "; a takeover, not drift"
		}
		notes = append(notes, Note{Kind: kind, Address: base + ".camera." + c.Name, Message: msg})
	}
	for _, o := range live.Overrides {
		msg := fmt.Sprintf("balancing moved camera %s from %s to %s", o.Camera, o.From, o.Server)
		if !o.Since.IsZero() {
			msg += " on " + o.Since.UTC().Format("2006-01-02")
		}
		msg += "; the move stays in force and is not drift"
		if o.Reason != "" {
			msg += " (" + o.Reason + ")"
		}
		notes = append(notes, Note{Kind: NoteOverride, Address: base + ".camera." + o.Camera, Message: msg})
	}
	return notes
}

// recordersOf lists the servers recording a camera in place of its primary.
func recordersOf(c api.CameraState) string {
	s := ""
	for _, r := range c.Recorders {
		if r.Server == c.Server {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += r.Server
	}
	if s == "" {
		return "a backup"
	}
	return s
}

// newServerNotes reminds that a new server must run the site's version (the
// site refuses a member running another one; a new server whose agent is
// already up with the site's version needs no reminder) and that a server
// with a new address must be moved there.
func newServerNotes(changes []Change, live *api.State) []Note {
	running := make(map[string]string, len(live.Servers))
	for _, s := range live.Servers {
		running[s.Name] = s.Version
	}
	var notes []Note
	for _, c := range changes {
		if c.Type == TypeServer && c.Action == Replace {
			notes = append(notes, Note{Kind: NoteServerReplaced, Address: c.Address, Message: fmt.Sprintf(
				"server %s gets a new address: its agent must run at the new address (agent configuration) to rejoin the site; until it does, backups cover its cameras", c.Name)})
			continue
		}
		if c.Type != TypeServer || c.Action != Create {
			continue
		}
		v, up := running[c.Name]
		var msg string
		switch {
		case live.Version == "":
			msg = fmt.Sprintf("server %s is new: it must run the same vigil version as the rest of the site before it can join", c.Name)
		case !up || v == "":
			msg = fmt.Sprintf("server %s is new: install vigil %s on it, the site's version; a server running another version is refused", c.Name, live.Version)
		case v != live.Version:
			msg = fmt.Sprintf("server %s runs vigil %s but the site runs %s: it will be refused until it runs %s", c.Name, v, live.Version, live.Version)
		default:
			continue
		}
		notes = append(notes, Note{Kind: NoteNewServer, Address: c.Address, Message: msg})
	}
	return notes
}
