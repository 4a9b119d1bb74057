package views

import (
	"fmt"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/planner"
)

// holds lists each hold with the footage it keeps.
func (t *text) holds(hs []planner.HoldReport) {
	if len(hs) == 0 {
		return
	}
	t.printf("\n%s\n", t.paint(bold, "Holds (footage that retention keeps on every server):"))
	for _, h := range hs {
		until := ", until removed"
		if !h.Until.IsZero() {
			until = ", until " + h.Until.Format(time.RFC3339)
		}
		t.printf("  - %s: %s from %s to %s%s\n", h.Name, strings.Join(h.Cameras, ", "), h.From.Format(time.RFC3339), h.To.Format(time.RFC3339), until)
		if h.Reason != "" {
			t.printf("      reason: %s\n", h.Reason)
		}
		f := h.Footage
		switch {
		case !h.Active:
			t.printf("      ended: keeps nothing\n")
		case f == nil:
			t.printf("      footage: not known here (vigil plan asks the site)\n")
		case f.Segments == 0 && !h.Started:
			t.printf("      keeps: nothing yet: the period is to come%s\n", unanswered(f))
		case f.Segments == 0:
			t.printf("      keeps: no footage%s\n", unanswered(f))
		default:
			var on []string
			for _, s := range f.Servers {
				on = append(on, fmt.Sprintf("%s %s", s.Server, spec.FormatSize(float64(s.Bytes))))
			}
			t.printf("      keeps: %s in %s of %s, on %s%s\n", spec.FormatSize(float64(f.Bytes)), plural(f.Segments, "segment", "segments"),
				names(f.Cameras), strings.Join(on, ", "), unanswered(f))
		}
	}
}

func unanswered(f *planner.KeptFootage) string {
	if f.Complete {
		return ""
	}
	return fmt.Sprintf(" (unknown on %s, which did not answer)", strings.Join(f.Unanswered, ", "))
}

func (t *text) warnings(ws []planner.Problem) { t.problemList("Warning:", bold+yellow, ws) }
