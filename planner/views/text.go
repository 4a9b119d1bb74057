// Package views renders plans for people (Text) and for programs (JSON).
// It holds no planning logic: everything it prints is in planner.SitePlan.
//
// # Text symbols
//
//   - create
//     ~    update in place
//   - destroy
//     -/+  replace (destroy, then create; the attributes marked
//     "# forces replacement" caused it)
//     ->   move: a camera registered to another primary server
//   - an action that is not a configuration change: the master role
//     transferred off a server the plan removes
//
// Sensitive values print as (sensitive). Colours are used only when the
// caller says the output is a terminal.
package views

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"vigil/planner"
	"vigil/runtime/assign"
)

// ANSI colours, Terraform's palette.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
)

// listLimit bounds the camera names printed in one line of the N+1 check.
const listLimit = 10

// Text writes the plan for a person. color adds ANSI colours.
func Text(w io.Writer, p *planner.SitePlan, color bool) error {
	t := &text{w: w, color: color}
	t.plan(p)
	return t.err
}

type text struct {
	w     io.Writer
	color bool
	err   error
	// moved maps the address of each half of a camera's move between sites
	// to how the domain plan words it (DomainText).
	moved map[string]string
}

func (t *text) printf(format string, args ...any) {
	if t.err != nil {
		return
	}
	_, t.err = fmt.Fprintf(t.w, format, args...)
}

func (t *text) paint(code, s string) string {
	if !t.color || s == "" {
		return s
	}
	return code + s + reset
}

func (t *text) plan(p *planner.SitePlan) {
	if p.HasChanges() {
		where := ""
		if p.Answering != "" {
			where = ", via " + p.Answering
		}
		t.printf("vigil will perform the following actions on site %s (revision %d%s):\n", p.Site, p.BaseRevision, where)
		for _, c := range p.Changes {
			t.printf("\n")
			t.change(c)
		}
		s := p.Summary
		line := fmt.Sprintf("Plan: %d to add, %d to change, %d to destroy", s.Add, s.Change, s.Destroy)
		if s.Move > 0 {
			line += fmt.Sprintf(", %d to move", s.Move)
		}
		t.printf("\n%s.\n", t.paint(bold, line))
	} else {
		t.printf("%s The site matches the configuration.\n", t.paint(bold+green, "No changes."))
	}
	t.notes(p.Notes)
	t.holds(p.Holds)
	if p.NPlusOne != nil {
		t.nPlusOne(p.NPlusOne)
	}
	if p.Simulation != nil {
		t.simulation(p.Simulation)
	}
	t.warnings(p.Warnings)
	t.problems(p.Errors)
}

var headers = map[planner.Action]string{
	planner.Create:  "will be created",
	planner.Update:  "will be updated in place",
	planner.Delete:  "will be destroyed",
	planner.Replace: "must be replaced",
}

func (t *text) symbol(a planner.Action) string {
	switch a {
	case planner.Create:
		return t.paint(green, "+")
	case planner.Update:
		return t.paint(yellow, "~")
	case planner.Delete:
		return t.paint(red, "-")
	case planner.Replace:
		return t.paint(red, "-") + "/" + t.paint(green, "+")
	case planner.Move:
		return t.paint(cyan, "->")
	}
	return t.paint(yellow, "*")
}

func (t *text) change(c planner.Change) {
	if c.Action == planner.TransferMaster {
		t.printf("  %s\n", t.paint(bold, "# "+c.Address+": "+c.Reason+", so the master role moves first"))
		t.printf("  %s transfer master from %s to %s\n", t.symbol(c.Action), c.From, c.To)
		return
	}
	head := headers[c.Action]
	if c.Action == planner.Move {
		head = fmt.Sprintf("will move from %s to %s", c.From, c.To)
	}
	if m := t.moved[c.Address]; m != "" {
		head += " (" + m + ")"
	}
	t.printf("  %s\n", t.paint(bold, "# "+c.Address+" "+head))

	// The symbol column is three wide, as in Terraform, so that "-/+" fits.
	sym := t.symbol(c.Action)
	pad := strings.Repeat(" ", 3-len(symbolText(c.Action)))
	block := c.Type
	if c.Name != "" {
		block += " " + strconv.Quote(c.Name)
	}
	t.printf("%s%s %s {\n", pad, sym, block)

	width := 0
	for _, a := range c.Attributes {
		width = max(width, len(a.Name))
	}
	for _, a := range c.Attributes {
		t.attribute(c.Action, a, width)
	}
	t.printf("    }\n")
}

func symbolText(a planner.Action) string {
	switch a {
	case planner.Replace:
		return "-/+"
	case planner.Move:
		return "->"
	}
	return "+"
}

func (t *text) attribute(action planner.Action, a planner.AttributeChange, width int) {
	name := a.Name + strings.Repeat(" ", width-len(a.Name))
	var sym, val string
	switch {
	case action == planner.Create || (a.Before == nil && !a.Sensitive):
		sym, val = t.symbol(planner.Create), value(a.After, a.Sensitive)
	case action == planner.Delete || (a.After == nil && !a.Sensitive):
		sym, val = t.symbol(planner.Delete), value(a.Before, a.Sensitive)+" -> null"
	default:
		sym = t.symbol(planner.Update)
		val = value(a.Before, a.Sensitive) + " -> " + value(a.After, a.Sensitive)
		if a.Sensitive {
			val = "(sensitive)"
		}
	}
	comment := ""
	if a.ForcesReplacement {
		comment = " " + t.paint(red, "# forces replacement")
	}
	t.printf("      %s %s = %s%s\n", sym, name, val, comment)
}

// value writes a flattened attribute value the way a configuration would.
func value(v any, sensitive bool) string {
	if sensitive {
		return "(sensitive)"
	}
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		q := make([]string, len(x))
		for i, s := range x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case map[string]string:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		q := make([]string, len(keys))
		for i, k := range keys {
			q[i] = strconv.Quote(k) + " = " + strconv.Quote(x[k])
		}
		return "{ " + strings.Join(q, ", ") + " }"
	}
	return fmt.Sprint(v)
}

// noteKinds names the note kinds in the line that sums up the notes of a
// kind beyond listLimit; a site of thousands of cameras is not listed whole
// (the JSON output has every note).
var noteKinds = map[string]string{
	planner.NoteServerDown:      "servers down",
	planner.NoteCameraCovered:   "cameras covered",
	planner.NoteCameraDark:      "cameras dark",
	planner.NoteCameraUncovered: "cameras not recorded",
	planner.NoteCameraFailing:   "cameras failing",
	planner.NoteOverride:        "balancing moves",
	planner.NoteNewServer:       "new servers",
}

func (t *text) notes(notes []planner.Note) {
	if len(notes) == 0 {
		return
	}
	t.printf("\n%s\n", t.paint(bold, "Notes (not changes):"))
	// Notes of a kind come together; a long run is cut after listLimit.
	run := 0
	for i, n := range notes {
		if i > 0 && notes[i-1].Kind == n.Kind {
			run++
		} else {
			run = 1
		}
		if run <= listLimit || noteKinds[n.Kind] == "" {
			t.printf("  - %s\n", n.Message)
		}
		last := i == len(notes)-1 || notes[i+1].Kind != n.Kind
		if last && run > listLimit && noteKinds[n.Kind] != "" {
			t.printf("  - ... and %d more %s (vigil plan -json and vigil status list them all)\n", run-listLimit, noteKinds[n.Kind])
		}
	}
}

func (t *text) nPlusOne(n *assign.NPlusOne) {
	locked := ""
	if n.Locked > 0 {
		what := "locked cameras go dark with their"
		if n.Locked == 1 {
			what = "locked camera goes dark with its"
		}
		locked = fmt.Sprintf(" (%d %s own server, by design)", n.Locked, what)
	}
	if n.OK {
		t.printf("\n%s the site can lose any one server and every camera stays recorded%s.\n", t.paint(bold+green, "N+1 check: passed:"), locked)
		return
	}
	t.printf("\n%s losing one server can leave cameras unrecorded%s:\n", t.paint(bold+red, "N+1 check: FAILED:"), locked)
	if len(n.Unplaced) > 0 {
		t.printf("  - even with every server up, %s fit nowhere: %s\n", plural(len(n.Unplaced), "camera", "cameras"), names(n.Unplaced))
	}
	for _, l := range n.Losses {
		t.printf("  - losing %s leaves %s unrecorded: %s\n", l.Server, plural(len(l.Cameras), "camera", "cameras"), names(l.Cameras))
	}
}

func (t *text) simulation(s *planner.FailureSimulation) {
	t.printf("\n%s %s down\n", t.paint(bold, "Failure simulation:"), strings.Join(s.Failed, ", "))
	if len(s.Cameras) == 0 {
		t.printf("\n  No camera changes its recorders.\n")
	} else {
		t.printf("\n")
		tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
		for _, c := range s.Cameras {
			to := strings.Join(c.After, ", ")
			if len(c.After) == 0 {
				to = "(" + c.State + ")"
			}
			from := strings.Join(c.Before, ", ")
			if from == "" {
				from = "(nobody)"
			}
			fmt.Fprintf(tw, "  camera %s\t%s -> %s\t%s\n", strconv.Quote(c.Name), from, to, c.Reason)
		}
		t.flush(tw)
	}
	if len(s.Queued) > 0 {
		t.printf("\n  Queued by max_concurrent_failovers: %s.\n", strings.Join(s.Queued, ", "))
	}

	t.printf("\n")
	tw := tabwriter.NewWriter(t.w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  server\tcameras before\tafter\tmax_cameras\n")
	for _, l := range s.Load {
		after, limit := strconv.Itoa(l.After), "-"
		if l.Failed {
			after = "down"
		}
		if l.MaxCameras > 0 {
			limit = strconv.Itoa(l.MaxCameras)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", l.Server, l.Before, after, limit)
	}
	t.flush(tw)

	if s.Dark == 0 && s.Uncovered == 0 {
		t.printf("\n  %s\n", t.paint(green, "Every camera stays recorded."))
		return
	}
	t.printf("\n  %s\n", t.paint(red, fmt.Sprintf("%s dark (locked to a failed server), %s uncovered (no capacity, or queued).",
		plural(s.Dark, "camera", "cameras"), plural(s.Uncovered, "camera", "cameras"))))
}

func (t *text) flush(tw *tabwriter.Writer) {
	if err := tw.Flush(); err != nil && t.err == nil {
		t.err = err
	}
}

func (t *text) problems(ps []planner.Problem) { t.problemList("Error:", bold+red, ps) }

// problemList prints errors or warnings, each with where and what to do.
func (t *text) problemList(label, color string, ps []planner.Problem) {
	for _, p := range ps {
		t.printf("\n%s %s\n", t.paint(color, label), p.Summary)
		if p.Address != "" {
			t.printf("  on %s\n", p.Address)
		}
		if p.Hint != "" {
			t.printf("  Hint: %s\n", p.Hint)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// names lists camera names, at most listLimit of them.
func names(list []string) string {
	if len(list) <= listLimit {
		return strings.Join(list, ", ")
	}
	return strings.Join(list[:listLimit], ", ") + fmt.Sprintf(" and %d more", len(list)-listLimit)
}
