// Package views renders API answers for a person. It holds no logic beyond
// presentation: commands fetch data, views lay it out (the split Terraform
// uses in internal/command/views).
package views

import (
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"vigil/hcl/spec"
	"vigil/runtime/api"
	"vigil/runtime/clock"
)

// Options control rendering.
type Options struct {
	// Color enables ANSI colours; see ColorFor.
	Color bool
	// Now is the reference time for durations ("dead for 2m"); zero means
	// time.Now().
	Now time.Time
	// All lists every camera even when there are many.
	All bool
}

// NoColor is set by the -no-color flag: no colours, as with NO_COLOR.
var NoColor bool

// ColorFor reports whether output to f should be coloured: f is a terminal
// and NO_COLOR is not set.
func ColorFor(f *os.File) bool {
	return !NoColor && os.Getenv("NO_COLOR") == "" && Terminal(f)
}

// Terminal reports whether f is a terminal that understands escape
// sequences (not TERM=dumb).
func Terminal(f *os.File) bool {
	if os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// compactAbove is the number of cameras above which cameras without a
// problem are summarised per server instead of listed one by one.
const compactAbove = 30

const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	bold   = "\x1b[1m"
	dim    = "\x1b[2m"
	reset  = "\x1b[0m"
)

// Status renders the state of a site: a header, the servers, then the
// cameras with problems first. Control characters in its texts are shown
// escaped (in st itself).
func Status(w io.Writer, st *api.State, o Options) {
	cleanAll(reflect.ValueOf(st))
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	p := painter(o.Color)

	head := fmt.Sprintf("Site %s", st.Site)
	if st.Revision == 0 {
		head += " · no spec committed"
	} else {
		head += fmt.Sprintf(" · revision %d", st.Revision)
	}
	master := masterName(st, p)
	head += " · master " + master + " · vigil " + st.Version
	fmt.Fprintln(w, p(bold, head))
	fmt.Fprintf(w, "%s\n", p(dim, "answered by "+st.Answering))
	if st.CAFingerprint != "" {
		fmt.Fprintf(w, "%s\n", p(dim, "site CA SHA-256 "+st.CAFingerprint))
	}
	if st.Message != "" {
		fmt.Fprintf(w, "\n%s\n", p(yellow, st.Message))
	}
	if st.ConfigError != "" {
		fmt.Fprintf(w, "\n%s %s\n", p(red, "Config error:"), st.ConfigError)
	}

	maxCams := map[string]int{}
	if st.Spec != nil {
		for _, s := range st.Spec.Servers {
			maxCams[s.Name] = s.MaxCameras
		}
	}
	fmt.Fprintln(w)
	t := &table{header: []string{"SERVER", "KIND", "ROLE", "HEALTH", "RECORDING", "CPU", "MEMORY", "CLOCK", "STORAGE"}}
	for _, s := range st.Servers {
		up := s.Up()
		rec, cpu, mem, clk, stor := "-", "-", "-", "-", "-"
		if up && s.Kind != "witness" && s.Kind != "virtual" {
			rec = fmt.Sprint(s.Recording)
			if m := maxCams[s.Name]; m > 0 {
				rec += fmt.Sprintf("/%d", m)
			}
		}
		if up {
			cpu = fmt.Sprintf("%.1f%%", s.CPUPercent)
			mem = spec.FormatSize(float64(s.MemoryBytes))
			clk = clockOffset(s, p)
			stor = storage(s.Storage)
		}
		health := s.Health
		if !s.Since.IsZero() && s.Health != api.HealthAlive {
			health += " " + Ago(o.Now.Sub(s.Since))
		}
		role := s.Role
		if role == "master" {
			role = p(bold, role)
		}
		t.add([]string{s.Name, string(s.Kind), role, p(healthColor(s.Health), health), rec, cpu, mem, clk, stor})
	}
	t.write(w)
	for _, s := range st.Servers {
		if s.Message != "" {
			fmt.Fprintf(w, "%s %s\n", p(yellow, s.Name+":"), s.Message)
		}
	}

	if len(st.Cameras) == 0 {
		return
	}
	summary := stateCounts(st.Cameras, p)
	fmt.Fprintf(w, "\n%s %s\n", p(bold, fmt.Sprintf("Cameras (%d):", len(st.Cameras))), strings.Join(summary, ", "))

	cams := slices.Clone(st.Cameras)
	slices.SortStableFunc(cams, func(a, b api.CameraState) int {
		return statePos(a.State) - statePos(b.State)
	})
	compact := !o.All && len(cams) > compactAbove
	t = &table{header: []string{"CAMERA", "STATE", "RECORDED BY", "REASON", "LAST GAP"}}
	healthy := map[string][]string{} // recorder → cameras, when compact
	for _, c := range cams {
		if compact && c.State == api.CameraRecording {
			key := "nobody"
			if len(c.Recorders) > 0 {
				key = c.Recorders[0].Server
			}
			healthy[key] = append(healthy[key], c.Name)
			continue
		}
		reason := c.Reason
		if c.State == api.CameraRecording && onlyPrimaries(c.Recorders) {
			reason = "" // nothing to explain
		}
		t.add([]string{c.Name, p(stateColor(c.State), c.State), recorders(c.Recorders), reason, gap(c.LastGap, o.Now)})
	}
	if len(t.rows) > 0 {
		fmt.Fprintln(w)
		t.write(w)
	}
	if len(healthy) > 0 {
		fmt.Fprintf(w, "\n%s\n", p(green, "Recording normally:"))
		servers := make([]string, 0, len(healthy))
		for s := range healthy {
			servers = append(servers, s)
		}
		slices.Sort(servers)
		for _, s := range servers {
			fmt.Fprintf(w, "  %-12s %4d cameras  %s\n", s, len(healthy[s]), names(healthy[s]))
		}
		fmt.Fprintf(w, "%s\n", p(dim, "(vigil status -all lists every camera)"))
	}
}

// stateCounts is "1 dark", "2 covered", "9 recording": the cameras per
// state, those that need attention first, coloured by p.
func stateCounts(cams []api.CameraState, p func(color, s string) string) []string {
	counts := map[string]int{}
	for _, c := range cams {
		counts[c.State]++
	}
	var out []string
	for _, s := range stateOrder {
		if n := counts[s]; n > 0 {
			out = append(out, p(stateColor(s), fmt.Sprintf("%d %s", n, s)))
		}
	}
	return out
}

// stateOrder puts the states that need attention first.
var stateOrder = []string{api.CameraFailing, api.CameraDark, api.CameraUncovered, api.CameraCovered, api.CameraRecording}

func statePos(s string) int {
	if i := slices.Index(stateOrder, s); i >= 0 {
		return i
	}
	return len(stateOrder)
}

func stateColor(s string) string {
	switch s {
	case api.CameraRecording:
		return green
	case api.CameraCovered:
		return yellow
	}
	return red
}

// masterName is the site's master, or why there is none: no spec committed
// yet, or no quorum (in red).
func masterName(st *api.State, p func(color, s string) string) string {
	switch {
	case st.Master != "":
		return st.Master
	case st.Revision == 0:
		return "none yet"
	}
	return p(red, "none (no quorum)")
}

// clockOffset shows a server's clock offset to the master ("+3 ms",
// "-612 ms"; "-" while unknown), in red beyond clock.MaxOffset.
func clockOffset(s api.ServerState, p func(color, s string) string) string {
	if !s.ClockOffsetKnown {
		return "-"
	}
	ms := int64(math.Round(s.ClockOffsetMS))
	out := fmt.Sprintf("%+d ms", ms)
	if ms == 0 {
		out = "0 ms"
	}
	if d := time.Duration(ms) * time.Millisecond; d > clock.MaxOffset || -d > clock.MaxOffset {
		return p(red, out)
	}
	return out
}

func healthColor(h string) string {
	switch h {
	case api.HealthAlive:
		return green
	case api.HealthSuspect, api.HealthUnknown, api.HealthDraining:
		return yellow
	}
	return red
}

func painter(on bool) func(color, s string) string {
	return func(color, s string) string {
		if !on || s == "" {
			return s
		}
		return color + s + reset
	}
}

func onlyPrimaries(rs []api.Recorder) bool {
	for _, r := range rs {
		if r.Role != "primary" || r.State != "recording" {
			return false
		}
	}
	return len(rs) > 0
}

func recorders(rs []api.Recorder) string {
	if len(rs) == 0 {
		return "-"
	}
	var parts []string
	for _, r := range rs {
		// Role and state in brackets, where known: a recorder being
		// handed over may have neither yet.
		var about []string
		if r.Role != "" {
			about = append(about, r.Role)
		}
		if r.State != "" && r.State != "recording" {
			about = append(about, r.State)
		}
		s := r.Server
		if len(about) > 0 {
			s += " (" + strings.Join(about, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func gap(g *api.Gap, now time.Time) string {
	if g == nil {
		return "-"
	}
	if g.End.IsZero() {
		return fmt.Sprintf("open for %s (%s)", Ago(now.Sub(g.Start)), g.Cause)
	}
	return fmt.Sprintf("%s ago, %s (%s)", Ago(now.Sub(g.End)), g.End.Sub(g.Start).Round(100*time.Millisecond), g.Cause)
}

func storage(vols []api.StorageState) string {
	if len(vols) == 0 {
		return "-"
	}
	var used, held, free int64
	full := false
	for _, v := range vols {
		used += v.UsedBytes
		held += v.HeldBytes
		free += v.FreeBytes
		full = full || v.Full
	}
	s := fmt.Sprintf("%s used, %s free", spec.FormatSize(float64(used)), spec.FormatSize(float64(free)))
	if held > 0 {
		s = fmt.Sprintf("%s used (%s held), %s free", spec.FormatSize(float64(used)), spec.FormatSize(float64(held)), spec.FormatSize(float64(free)))
	}
	if full {
		s += " FULL"
	}
	return s
}

// names lists camera names, shortened to the first and last few.
func names(ns []string) string {
	if len(ns) <= 6 {
		return strings.Join(ns, " ")
	}
	return strings.Join(ns[:3], " ") + " … " + strings.Join(ns[len(ns)-2:], " ")
}

// Ago formats a duration for people: "45s", "3m", "2h05m", "3d".
func Ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// table lays out columns by the visible width of their cells, so that cells
// may hold ANSI colours.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(r []string) { t.rows = append(t.rows, r) }

func (t *table) write(w io.Writer) {
	widths := make([]int, len(t.header))
	for _, r := range append([][]string{t.header}, t.rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], visible(c))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-visible(c)+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
}

// visible is the printed width of s: runes outside ANSI escape sequences.
func visible(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b {
			j := strings.IndexByte(s[i:], 'm')
			if j < 0 {
				break
			}
			i += j + 1
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

// Only narrows a site's state to names (servers, cameras or the site):
// a named server with the cameras it records or is primary for, a named
// camera with the servers that record it or are its primary. The site's
// own name keeps everything.
func Only(st *api.State, names []string) *api.State {
	if slices.Contains(names, st.Site) {
		return st
	}
	named := func(n string) bool { return slices.Contains(names, n) }
	servers, cameras := map[string]bool{}, map[string]bool{}
	for _, c := range st.Cameras {
		if named(c.Server) || slices.ContainsFunc(c.Recorders, func(r api.Recorder) bool { return named(r.Server) }) {
			cameras[c.Name] = true
		}
		if named(c.Name) {
			cameras[c.Name], servers[c.Server] = true, true
			for _, r := range c.Recorders {
				servers[r.Server] = true
			}
		}
	}
	for _, n := range names {
		servers[n] = true
	}
	out := *st
	out.Servers = slices.DeleteFunc(slices.Clone(st.Servers), func(s api.ServerState) bool { return !servers[s.Name] })
	out.Cameras = slices.DeleteFunc(slices.Clone(st.Cameras), func(c api.CameraState) bool { return !cameras[c.Name] })
	return &out
}
