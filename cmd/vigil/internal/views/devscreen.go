package views

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// DevScreen is what vigil dev shows on a terminal: the site at a glance,
// how to reach it, and the last command typed. Lines lays it out for the
// terminal's size.
type DevScreen struct {
	// Export is the line to paste into another terminal; it is never cut.
	Export string
	// Hints say how to use the site, most useful first; those that do not
	// fit are left out.
	Hints []string
	State *api.State
	// Err is why there is no state (the agent did not answer).
	Err error
	// Last is the last command typed (or sent with vigil dev stop ...) and
	// its answer.
	Last string
}

// Lines lays the screen out in width×height cells: height-1 lines (the
// bottom row is the prompt the operator types on), none wider than width.
// The export line comes second and is kept whole (split in two where the
// terminal is too narrow); cameras that need attention come first, and
// those that do not fit are summarised in one line.
func (d DevScreen) Lines(width, height int, o Options) []string {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	width, height = max(width, 20), max(height, 8)
	p := painter(o.Color)
	var top, body []string
	st := d.State

	head := "vigil dev"
	if st != nil {
		head += " · site " + st.Site
		if st.Revision > 0 {
			head += fmt.Sprintf(" · revision %d", st.Revision)
		}
		head += " · master " + masterName(st, func(_, s string) string { return s })
	}
	top = append(top, p(bold, fit(head, width)))
	if utf8.RuneCountInString(d.Export) <= width {
		top = append(top, d.Export)
	} else {
		// Two export commands, each whole: a copied line still works.
		for _, f := range strings.Fields(strings.TrimPrefix(d.Export, "export ")) {
			top = append(top, "export "+f)
		}
	}
	// Room: the prompt row, the last command's row, a blank line.
	room := height - 1 - 1 - len(top) - 1
	// The tables come first: the servers and a few cameras.
	need := 1
	if st != nil {
		need = 1 + len(st.Servers) + 3 + min(len(st.Cameras), 6)
	}
	for _, h := range d.Hints {
		if room-1 < need {
			break
		}
		top = append(top, p(dim, fit(h, width)))
		room--
	}
	top = append(top, "")

	switch {
	case d.Err != nil:
		body = append(body, fit(d.Err.Error(), width))
	case st != nil:
		body = devTables(st, width, room, o, p)
	}
	lines := append(top, body...)
	for len(lines) < height-2 {
		lines = append(lines, "")
	}
	last := ""
	if d.Last != "" {
		last = fit("> "+d.Last, width)
	}
	return append(lines[:height-2], last)
}

// devTables is the servers and cameras in room lines of width.
func devTables(st *api.State, width, room int, o Options, p func(color, s string) string) []string {
	var out []string
	if st.Message != "" {
		out = append(out, p(yellow, fit(st.Message, width)))
	}
	if st.ConfigError != "" {
		out = append(out, p(red, fit("Config error: "+st.ConfigError, width)))
	}
	servers := &table{header: []string{"SERVER", "ROLE", "HEALTH", "REC", "CPU", "MEMORY", "STORAGE"}}
	for _, s := range st.Servers {
		up := s.Health == api.HealthAlive || s.Health == api.HealthSuspect
		rec, cpu, mem, stor := "-", "-", "-", "-"
		if up && s.Kind != "witness" && s.Kind != "virtual" {
			rec = fmt.Sprint(s.Recording)
		}
		if up {
			cpu = fmt.Sprintf("%.1f%%", s.CPUPercent)
			mem = spec.FormatSize(float64(s.MemoryBytes))
			var used int64
			for _, v := range s.Storage {
				used += v.UsedBytes
			}
			if len(s.Storage) > 0 {
				stor = spec.FormatSize(float64(used)) + " used"
			}
		}
		health := s.Health
		if !s.Since.IsZero() && s.Health != api.HealthAlive {
			health += " " + Ago(o.Now.Sub(s.Since))
		}
		name := s.Name
		if s.Kind != "" && s.Kind != "recording" {
			name += " (" + string(s.Kind) + ")"
		}
		servers.add([]string{name, s.Role, p(healthColor(s.Health), health), rec, cpu, mem, stor})
	}
	out = append(out, servers.lines(width)...)
	if len(st.Cameras) == 0 {
		return out
	}

	summary := stateCounts(st.Cameras, p)
	out = append(out, "", fit(fmt.Sprintf("Cameras (%d): %s", len(st.Cameras), strings.Join(summary, ", ")), width))

	cams := slices.Clone(st.Cameras)
	slices.SortStableFunc(cams, func(a, b api.CameraState) int { return statePos(a.State) - statePos(b.State) })
	rows := room - len(out) - 1 // the header
	var rest []api.CameraState
	if rows < len(cams) {
		rows = max(rows-1, 0) // a line to summarise the rest
		cams, rest = cams[:rows], cams[rows:]
	}
	t := &table{header: []string{"CAMERA", "STATE", "RECORDED BY", "LAST GAP"}}
	for _, c := range cams {
		by := recorders(c.Recorders)
		if len(c.Recorders) == 0 && c.Reason != "" {
			by = "- (" + c.Reason + ")"
		}
		t.add([]string{c.Name, p(stateColor(c.State), c.State), by, gap(c.LastGap, o.Now)})
	}
	if len(cams) > 0 {
		out = append(out, t.lines(width)...)
	}
	if len(rest) > 0 {
		n := make([]string, len(rest))
		for i, c := range rest {
			n[i] = c.Name
		}
		out = append(out, fit(fmt.Sprintf("… %d more (vigil status -all): %s", len(rest), names(n)), width))
	}
	return out
}

// lines is the table laid out in width: while it is too wide, its widest
// column loses a character (cells cut with "…"); a line still too wide is
// cut too.
func (t *table) lines(width int) []string {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], visible(c))
		}
	}
	for {
		total, widest := 2*(len(widths)-1), 0
		for i, w := range widths {
			total += w
			if w > widths[widest] {
				widest = i
			}
		}
		if total <= width || widths[widest] <= 8 {
			break
		}
		widths[widest]--
	}
	cut := &table{header: t.header}
	for _, r := range t.rows {
		c := make([]string, len(r))
		for i, cell := range r {
			c[i] = fit(cell, widths[i])
		}
		cut.add(c)
	}
	var b strings.Builder
	cut.write(&b)
	out := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for i, l := range out {
		out[i] = fit(l, width)
	}
	return out
}

// fit cuts s to width visible characters, ending in "…" when cut; colour
// sequences are kept and closed.
func fit(s string, width int) string {
	if visible(s) <= width {
		return s
	}
	var b strings.Builder
	n, colored := 0, false
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				break
			}
			b.WriteString(s[i : i+j+1])
			colored = s[i:i+j+1] != reset
			i += j + 1
			continue
		}
		if n == width-1 {
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		n++
		i += size
	}
	b.WriteString("…")
	if colored {
		b.WriteString(reset)
	}
	return b.String()
}
