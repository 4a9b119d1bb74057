package views

import (
	"fmt"
	"io"

	"vigil/runtime/api"

	"vigil/hcl/spec"
)

// Event prints one event on a line: time, severity, server, camera and
// message.
func Event(w io.Writer, ev api.Event, color bool) {
	p := painter(color)
	var sev string
	switch ev.Severity {
	case spec.SeverityError:
		sev = p(red, "ERROR")
	case spec.SeverityWarning:
		sev = p(yellow, "WARN ")
	default:
		sev = "INFO "
	}
	where := ev.Server
	if ev.Camera != "" {
		where += "/" + ev.Camera
	}
	fmt.Fprintf(w, "%s %s %-16s %s %s\n", ev.Time.Local().Format("2006-01-02 15:04:05.000"), sev, clean(where), p(dim, clean(ev.Kind)), clean(ev.Message))
}
