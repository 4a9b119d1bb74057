package views

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/balance"
)

// BalanceReport writes vigil balance report for an operator: a summary, the
// servers, the moves and the cameras, in aligned columns.
func BalanceReport(w io.Writer, r *api.BalanceReport) {
	state := "disabled"
	if r.Enabled {
		state = "enabled"
	}
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	window := "closed"
	switch {
	case r.InWindow:
		window = "open until " + r.WindowEnds.In(loc).Format("Mon 2 Jan 15:04 MST")
	case !r.NextWindow.IsZero():
		window = "closed, opens " + r.NextWindow.In(loc).Format("Mon 2 Jan 15:04 MST")
	}
	fmt.Fprintf(w, "Balancing %s; window %s (%s): %s\n", state, r.Window, r.TimeZone, window)
	fmt.Fprintf(w, "Statistics: %d days, %s to %s (%d with data); mean %s, tolerance %g%% (%s)\n",
		r.Days, r.From, r.To, r.DaysWithData, balance.FormatRate(r.MeanBytesPerDay), r.TolerancePercent,
		balance.FormatRate(r.MeanBytesPerDay*r.TolerancePercent/100))
	fmt.Fprintf(w, "%s\n", r.Message)

	fmt.Fprintf(w, "\nServers\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  NAME\tKIND\tCAMERAS\tRECORDED\tAFTER MOVES\tNOTE\n")
	for _, s := range r.Servers {
		note := ""
		if !s.Balanced {
			note = "not balanced: " + s.Why
		}
		if s.MaxCameras > 0 {
			note = joinNote(note, fmt.Sprintf("max %d cameras", s.MaxCameras))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s, %s\t%s\n", s.Name, s.Kind, s.Cameras,
			balance.FormatRate(s.BytesPerDay), balance.FormatRate(s.BytesPerDayAfter), Plural(s.CamerasAfter, "camera", "cameras"), note)
	}
	tw.Flush()

	if len(r.Moves) == 0 {
		fmt.Fprintf(w, "\nMoves: none\n")
	} else {
		fmt.Fprintf(w, "\nMoves\n")
		tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  CAMERA\tFROM\tTO\tRECORDED\tWHY\n")
		for _, m := range r.Moves {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", m.Camera, m.From, m.To, balance.FormatRate(m.BytesPerDay), m.Reason)
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nCameras\n")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  NAME\tSERVER\tPRIMARY\tRECORDED\tMAY MOVE\tLAST MOVE\n")
	for _, c := range r.Cameras {
		may := "yes"
		if !c.Movable {
			may = "no: " + c.Why
		}
		last := "-"
		if !c.LastMove.IsZero() {
			last = c.LastMove.In(loc).Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.Server, c.Primary, balance.FormatRate(c.BytesPerDay), may, last)
	}
	tw.Flush()
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// Plural is "1 camera", "2 cameras".
func Plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
