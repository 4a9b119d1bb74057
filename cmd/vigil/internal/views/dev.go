package views

import (
	"fmt"
	"io"
	"strings"

	"vigil/dev/devsite"
	"vigil/runtime/api"
)

// DevStart is what vigil dev runs, shown before the site is applied.
type DevStart struct {
	Site, Path string
	// Camsim is camsim's address ("" when no camera is simulated), Paths
	// the number of paths it serves, of which the last devsite.SparePaths
	// are spare.
	Camsim   string
	Paths    int
	Unserved []devsite.Unserved
	// Servers are the servers' names and API addresses, in order.
	Servers       [][2]string
	Dir, AgentLog string
}

// DevStartBanner writes where everything of a starting vigil dev is.
func DevStartBanner(w io.Writer, d DevStart) {
	fmt.Fprintf(w, "Starting site %s from %s:\n", d.Site, d.Path)
	if d.Camsim != "" {
		fmt.Fprintf(w, "  camsim     rtsp://%s/cam1 ... /cam%d (/cam%d and up are spare, for cameras you add)\n", d.Camsim, d.Paths, d.Paths-devsite.SparePaths+1)
	}
	for i, u := range d.Unserved {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more cameras that are not simulated\n", len(d.Unserved)-i)
			break
		}
		fmt.Fprintf(w, "  camera %s (%s) is not simulated: %s\n", u.Camera, u.URL, u.Reason)
	}
	for _, s := range d.Servers {
		fmt.Fprintf(w, "  %-10s %s\n", s[0], s[1])
	}
	fmt.Fprintf(w, "  data       %s\n  agent log  %s\n\n", d.Dir, d.AgentLog)
}

// DevSummary is one line of the site's state, for vigil dev's output when
// it is not a terminal.
func DevSummary(st *api.State, err error) string {
	if err != nil {
		return err.Error()
	}
	master := st.Master
	if master == "" {
		master = "none"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "revision %d · master %s ·", st.Revision, master)
	for _, s := range st.Servers {
		fmt.Fprintf(&b, " %s %s %d ·", s.Name, s.Health, s.Recording)
	}
	fmt.Fprintf(&b, " cameras: %s", strings.Join(stateCounts(st.Cameras, painter(false)), ", "))
	return b.String()
}

// DevFarewell says, as vigil dev stops, where the recordings are (kept:
// server and directory pairs), or that they were removed with the
// temporary directory (kept is nil).
func DevFarewell(w io.Writer, dir string, kept [][2]string) {
	if kept == nil {
		fmt.Fprintf(w, "Stopped. The recordings were in a temporary directory, now removed (-keep or -data DIR keeps them).\n")
		return
	}
	fmt.Fprintf(w, "Stopped. The recordings are kept:\n")
	for _, k := range kept {
		fmt.Fprintf(w, "  %-10s %s\n", k[0], k[1])
	}
	fmt.Fprintf(w, "vigil dev -data %s continues this site; rm -rf %s removes it.\n", dir, dir)
}
