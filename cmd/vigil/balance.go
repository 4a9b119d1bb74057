package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"vigil/runtime/api"
	"vigil/runtime/balance"
)

func init() {
	register("balance report", "Show recorded bytes per server and camera, and the moves storage balancing would make", runBalanceReport)
}

func runBalanceReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("balance report", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	days := fs.Int("days", 0, "statistics period in days (default: the site's balancing history_days)")
	asJSON := fs.Bool("json", false, "print the report as JSON (the answer of GET /v1/balance/report)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil balance report [-address URL] [-days N] [-json]\n\nShows, per server and per camera, the recorded bytes per day over the last\ndays, the moves storage balancing would make now with the reason of each, and\neach server's load after them. It works whether balancing is enabled or not.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil balance report: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *days < 0 {
		fmt.Fprintf(stderr, "vigil balance report: -days must be positive, not %d\n", *days)
		return 2
	}
	rep, err := api.NewClient(*address, api.TokenFromEnv()).BalanceReport(context.Background(), *days)
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if *asJSON {
		return writeJSON(stdout, stderr, rep)
	}
	renderBalanceReport(stdout, rep)
	return 0
}

// renderBalanceReport writes the report for an operator: a summary, the
// servers, the moves and the cameras, in aligned columns.
func renderBalanceReport(w io.Writer, r *api.BalanceReport) {
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
			balance.FormatRate(s.BytesPerDay), balance.FormatRate(s.BytesPerDayAfter), plural(s.CamerasAfter, "camera", "cameras"), note)
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
