package planner

import (
	"fmt"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/assign"
)

// Action is what a plan does to one resource.
type Action string

// Actions, in the vocabulary of the text and JSON output.
const (
	Create  Action = "create"
	Update  Action = "update"
	Delete  Action = "delete"
	Replace Action = "replace"
	// Move: a camera is registered to another primary server. Other
	// attributes may change with it; they are listed on the same change.
	Move Action = "move"
	// TransferMaster moves the master role off a server that the plan
	// removes or replaces, before anything else happens.
	TransferMaster Action = "transfer_master"
)

// Resource types, the third part of an address.
const (
	TypeSite      = "site"
	TypeServer    = "server"
	TypeGroup     = "group"
	TypeCamera    = "camera"
	TypeBalancing = "balancing"
	TypeMaster    = "master"
	TypeNotifier  = "notifier"
	TypeAlert     = "alert"
	TypeUser      = "user"
	TypeToken     = "token"
)

// Change is one action on one resource.
type Change struct {
	// Address is "site.NAME" for the site's own attributes,
	// "site.NAME.balancing", "site.NAME.master", or
	// "site.NAME.TYPE.NAME" for servers, groups and cameras.
	Address string `json:"address"`
	Type    string `json:"type"`
	// Name is the resource's name ("" for balancing).
	Name   string `json:"name,omitempty"`
	Action Action `json:"action"`
	// From and To are the servers of a move or a master transfer.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Reason says why a change exists when the configuration alone does
	// not (a master transfer).
	Reason string `json:"reason,omitempty"`
	// Attributes are the attributes that differ, in a fixed order per type.
	// For a create every set attribute is listed with a nil Before, for a
	// delete every set attribute with a nil After.
	Attributes []AttributeChange `json:"attributes,omitempty"`
}

// AttributeChange is one attribute's old and new value.
type AttributeChange struct {
	// Name is the attribute's name, with a path for nested blocks:
	// `storage["main"].path`, `network.interface["eth0"].mtu`.
	Name string `json:"name"`
	// Before and After are nil when the attribute is absent on that side
	// and when the value is sensitive. Otherwise a string, a number, a bool,
	// a list of strings or a map of strings; durations are strings ("5s").
	Before any `json:"before"`
	After  any `json:"after"`
	// Sensitive values are never shown; see the package documentation.
	Sensitive bool `json:"sensitive,omitempty"`
	// ForcesReplacement marks the attributes that turned an update into a
	// replace.
	ForcesReplacement bool `json:"forces_replacement,omitempty"`
}

// Note is a fact about the live site that is not a change: a server down, a
// camera covered by a backup, a balancing move in force, a hint.
type Note struct {
	// Kind is one of the Note* constants.
	Kind    string `json:"kind"`
	Address string `json:"address,omitempty"`
	Message string `json:"message"`
}

// Note kinds.
const (
	NoteServerDown      = "server_down"
	NoteCameraCovered   = "camera_covered"
	NoteCameraDark      = "camera_dark"
	NoteCameraUncovered = "camera_uncovered"
	NoteCameraFailing   = "camera_failing"
	NoteOverride        = "balancing_override"
	NoteConfigError     = "config_error"
	NoteSiteMessage     = "site_message"
	NoteNewServer       = "new_server"
	NoteServerReplaced  = "server_replaced"
)

// Problem is a reason the plan cannot be applied.
type Problem struct {
	Address string `json:"address,omitempty"`
	Summary string `json:"summary"`
	// Hint says what to do instead.
	Hint string `json:"hint,omitempty"`
}

// Summary counts the changes the way the summary line does: a replace
// counts as one add and one destroy.
type Summary struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	Move    int `json:"move"`
}

// SitePlan is the difference between a site's configuration and its live state,
// in the order the changes take effect, with notes about the live site, the
// N+1 check and, when asked for, a failure simulation.
type SitePlan struct {
	Site string `json:"site"`
	// BaseRevision is the live revision the plan was made against.
	BaseRevision uint64 `json:"base_revision"`
	// Answering is the server that gave the live state; Master the master.
	Answering string    `json:"answering,omitempty"`
	Master    string    `json:"master,omitempty"`
	Changes   []Change  `json:"changes"`
	Summary   Summary   `json:"summary"`
	Notes     []Note    `json:"notes"`
	Errors    []Problem `json:"errors"`
	// Holds are the configuration's evidence holds with the footage each
	// keeps; Warnings are about holds that keep less than meant.
	Holds      []HoldReport       `json:"holds,omitempty"`
	Warnings   []Problem          `json:"warnings,omitempty"`
	NPlusOne   *assign.NPlusOne   `json:"n_plus_one"`
	Simulation *FailureSimulation `json:"failure_simulation,omitempty"`

	// Desired is the configuration the plan leads to, with real passwords;
	// it is what `vigil apply` sends and what a plan file stores.
	Desired *spec.Site `json:"-"`
}

// HasChanges reports whether applying the plan would change the site.
func (p *SitePlan) HasChanges() bool { return len(p.Changes) > 0 }

// Options tune a plan.
type Options struct {
	// Fail names servers to simulate as dead, in the order they die.
	Fail []string
	// Sensitive lists values of sensitive variables (hcl.Config.Sensitive):
	// an attribute whose value contains one is shown as (sensitive).
	Sensitive []string
	// Now is the time given to the assignment; zero means time.Now().
	Now time.Time
	// Footage is the site's answer to POST /v1/holds/footage for the
	// holds of the configuration and the live spec; nil when not asked.
	Footage *api.HoldFootage
}

// SiteMismatchError is returned when the configuration describes a site other
// than the one the command talks to.
type SiteMismatchError struct {
	Desired, Live, Answering string
	// Address is set when the address asked came from the configuration
	// (a domain plan), not from -address.
	Address string
}

func (e *SiteMismatchError) Error() string {
	if e.Address != "" {
		return fmt.Sprintf("the configuration describes site %q, but the server at %s (%s) belongs to site %q; check the addresses of site %q's servers in the configuration",
			e.Desired, e.Address, e.Answering, e.Live, e.Desired)
	}
	return fmt.Sprintf("the configuration describes site %q, but the server that answered (%s) belongs to site %q; point -address (or VIGIL_ADDR) at a server of site %q",
		e.Desired, e.Answering, e.Live, e.Desired)
}

// Plan compares desired, one site of a configuration, with live, the answer
// of GET /v1/state (whose Spec is nil before the first apply). The site is
// the unit of planning: a domain plan is a list of site plans.
//
// Only the committed spec is compared: where cameras are recorded right now
// (a takeover, a balancing move) is reported as a note, never as drift.
func Plan(desired *spec.Site, live *api.State, opts Options) (*SitePlan, error) {
	if desired == nil {
		return nil, fmt.Errorf("no site to plan")
	}
	if live == nil {
		live = &api.State{}
	}
	if live.Site != "" && live.Site != desired.Name {
		return nil, &SiteMismatchError{Desired: desired.Name, Live: live.Site, Answering: live.Answering}
	}
	if live.Spec != nil && live.Spec.Name != desired.Name {
		return nil, &SiteMismatchError{Desired: desired.Name, Live: live.Spec.Name, Answering: live.Answering}
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	p := &SitePlan{
		Site:         desired.Name,
		BaseRevision: live.Revision,
		Answering:    live.Answering,
		Master:       live.Master,
		Notes:        []Note{},
		Errors:       []Problem{},
		Desired:      desired,
	}
	var fp spec.Fingerprinter
	if live.FingerprintKey != nil {
		fp = spec.NewFingerprinter(live.FingerprintKey)
	}
	d := newDiffer(opts.Sensitive, fp)
	p.Changes = append([]Change{}, d.site(desired, live.Spec)...)
	order(p, desired, live)
	p.Errors = append(p.Errors, keptPasswords(desired, live)...)
	p.Summary = summarize(p.Changes)
	p.Notes = append(p.Notes, liveNotes(desired, live)...)
	p.Notes = append(p.Notes, newServerNotes(p.Changes, live)...)

	p.Holds, p.Warnings = holdReports(desired, live.Spec, opts.Footage, opts.Now)
	p.Warnings = append(p.Warnings, uncomparedWarning(d.uncompared)...)
	p.NPlusOne = assign.CheckNPlusOne(desired, live.Overrides, opts.Now)
	if len(opts.Fail) > 0 {
		sim, err := Simulate(desired, live.Overrides, opts.Fail, opts.Now)
		if err != nil {
			return nil, err
		}
		p.Simulation = sim
	}
	return p, nil
}

func summarize(changes []Change) Summary {
	var s Summary
	for _, c := range changes {
		switch c.Action {
		case Create:
			s.Add++
		case Update:
			s.Change++
		case Delete:
			s.Destroy++
		case Replace:
			s.Add++
			s.Destroy++
		case Move:
			s.Move++
		}
	}
	return s
}
