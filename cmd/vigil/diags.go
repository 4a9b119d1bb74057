package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"

	"vigil/cmd/vigil/internal/views"
	"vigil/hcl"
	"vigil/runtime/assign"
)

// varFlags collects repeated -var name=value flags.
type varFlags map[string]string

func (v varFlags) String() string { return "" }

func (v varFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not name=value", s)
	}
	v[name] = value
	return nil
}

// listFlags collects a repeated string flag.
type listFlags []string

func (l *listFlags) String() string { return strings.Join(*l, ",") }

func (l *listFlags) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// loadOptions are hcl.Load's options for the variables of the flags, with
// the N+1 check behind the capacity warning: the assignment the agents run.
func loadOptions(vars varFlags, varFiles listFlags) hcl.LoadOptions {
	return hcl.LoadOptions{Vars: vars, VarFiles: varFiles, Capacity: assign.Uncovered}
}

// tuneGC trades memory for time in the short-lived commands that load a
// configuration: evaluation allocates many small short-lived values, and
// with Go's default GC target loading 10,000 cameras spent about a third of
// its time collecting. A soft memory limit keeps the peak bounded.
// GOGC and GOMEMLIMIT, when set, win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(80 << 20)
	}
}

// isTerminal reports whether w is a terminal that should get colours (see
// views.ColorFor; the NO_COLOR convention turns them off).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && views.ColorFor(f)
}

// printDiagnostics renders diagnostics Terraform-style on w, coloured when
// w is a terminal, with sensitive values scrubbed.
func printDiagnostics(w io.Writer, diags hhcl.Diagnostics, cfg *hcl.Config) {
	var files map[string][]byte
	var sensitive []string
	if cfg != nil {
		files, sensitive = cfg.Files, cfg.Sensitive
	}
	_ = hcl.WriteDiagnostics(w, diags, files, isTerminal(w), sensitive)
}

func countDiagnostics(diags hhcl.Diagnostics) (errors, warnings int) {
	for _, d := range diags {
		if d.Severity == hhcl.DiagWarning {
			warnings++
		} else {
			errors++
		}
	}
	return errors, warnings
}

// plural is views.Plural, short for the commands.
func plural(n int, one, many string) string { return views.Plural(n, one, many) }
