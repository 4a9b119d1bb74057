package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

func init() {
	register("recordings", "List a camera's recordings and gaps across the site", runRecordings)
}

// periodFlags are the -since, -start and -end flags of the footage commands.
type periodFlags struct {
	since, start, end string
}

func (p *periodFlags) register(fs *flag.FlagSet, defSince string) {
	fs.StringVar(&p.since, "since", defSince, "the period ending now: a duration such as 90m, 24h or 7d")
	fs.StringVar(&p.start, "start", "", "start of the period (RFC 3339, e.g. 2026-12-01T21:00:00Z or 2026-12-01T22:00:00+01:00)")
	fs.StringVar(&p.end, "end", "", "end of the period (RFC 3339; default now)")
}

// resolve turns the flags into a period; -start wins over -since.
func (p *periodFlags) resolve(now time.Time) (start, end time.Time, err error) {
	end = now
	if p.end != "" {
		if end, err = time.Parse(time.RFC3339Nano, p.end); err != nil {
			return start, end, fmt.Errorf("-end %q is not a time like 2026-12-01T21:00:00Z (RFC 3339)", p.end)
		}
	}
	if p.start == "" {
		// The durations of the configuration (hcl owns them: 7d, 2w), as
		// vigil events -since takes them.
		since, err := spec.ParseDuration(p.since)
		if err != nil {
			return start, end, fmt.Errorf("-since: %v", err)
		}
		if since <= 0 {
			return start, end, fmt.Errorf("-since must be positive, not %s", p.since)
		}
		return end.Add(-since), end, nil
	}
	if start, err = time.Parse(time.RFC3339Nano, p.start); err != nil {
		return start, end, fmt.Errorf("-start %q is not a time like 2026-12-01T21:00:00Z (RFC 3339)", p.start)
	}
	if !start.Before(end) {
		return start, end, fmt.Errorf("-start %s is not before -end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return start, end, nil
}

func runRecordings(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("recordings", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	asJSON := fs.Bool("json", false, "print the answer of GET /v1/recordings as JSON")
	var p periodFlags
	p.register(fs, "24h")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil recordings CAMERA [-since 24h | -start T [-end T]] [-json] [-address URL]\n\n"+
			"Lists a camera's recordings over a period across every server of the site: the\n"+
			"spans of recording (and the servers holding them) and the gaps with their\n"+
			"causes, under a one-line bar of the period, in the site's time zone.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	camera, code, ok := parseCameraArgs(fs, args)
	if !ok {
		return code
	}
	if camera == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	start, end, err := p.resolve(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "vigil recordings: %v\n", err)
		return 2
	}
	rec, err := newClient(*address, api.TokenFromEnv()).Recordings(context.Background(), camera, start, end)
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if *asJSON {
		return writeJSON(stdout, stderr, rec)
	}
	renderRecordings(stdout, rec, time.Now())
	return 0
}

// parseCameraArgs parses a command's flags given before or after its one
// CAMERA argument (empty when none is given); when ok is false the command
// returns code (see parseFlags).
func parseCameraArgs(fs *flag.FlagSet, args []string) (camera string, code int, ok bool) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		camera, args = args[0], args[1:]
	}
	if code, ok := parseFlags(fs, args); !ok {
		return "", code, false
	}
	if camera == "" && fs.NArg() > 0 {
		camera = fs.Arg(0)
		if code, ok := parseFlags(fs, fs.Args()[1:]); !ok {
			return "", code, false
		}
	}
	return camera, exitOK, true
}

// barWidth is the number of columns of the period bar.
const barWidth = 60

// renderRecordings prints the header, the bar and the table of spans and
// gaps, times in the site's zone.
func renderRecordings(w io.Writer, r *api.Recordings, now time.Time) {
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	start, end := r.Start.In(loc), r.End.In(loc)
	layout := "15:04:05"
	if start.YearDay() != end.YearDay() || start.Year() != end.Year() {
		layout = "Jan 2 15:04:05"
	}
	fmt.Fprintf(w, "Camera %s, %s to %s (%s, UTC%s)\n", r.Camera,
		start.Format("2006-01-02 15:04:05"), end.Format("2006-01-02 15:04:05"), r.TimeZone, start.Format("-07:00"))
	if !r.Complete {
		fmt.Fprintf(w, "Incomplete: no answer from %s, which may hold footage of this camera\n", strings.Join(r.MissingServers, ", "))
	}
	var recorded time.Duration
	var bytes int64
	for _, s := range r.Spans {
		recorded += s.End.Sub(s.Start)
		bytes += s.Bytes
	}
	fmt.Fprintf(w, "Recorded %s of %s in %d span(s), %d gap(s), %s\n\n", fmtDuration(recorded),
		fmtDuration(minTime(r.End, now).Sub(r.Start)), len(r.Spans), len(r.Gaps), spec.FormatSize(float64(bytes)))
	fmt.Fprintf(w, "%s %s %s\n", start.Format(layout), bar(r, now), end.Format(layout))
	fmt.Fprintf(w, "%s █ recorded  ▄ partly  · gap\n\n", strings.Repeat(" ", len(start.Format(layout))))

	type row struct {
		start, end time.Time
		what, size string
	}
	var rows []row
	for _, s := range r.Spans {
		rows = append(rows, row{s.Start, s.End, "recorded on " + strings.Join(s.Servers, ", "), spec.FormatSize(float64(s.Bytes))})
	}
	for _, g := range r.Gaps {
		rows = append(rows, row{g.Start, g.End, "gap: " + string(g.Cause), ""})
	}
	slices.SortFunc(rows, func(x, y row) int { return x.start.Compare(y.start) })
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  START\tEND\tLENGTH\tWHAT\tSIZE\n")
	for _, x := range rows {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", x.start.In(loc).Format(layout), x.end.In(loc).Format(layout), fmtDuration(x.end.Sub(x.start)), x.what, x.size)
	}
	tw.Flush()
}

// bar draws the period in barWidth columns: recorded, partly recorded,
// not recorded, and blank for the future.
func bar(r *api.Recordings, now time.Time) string {
	var b strings.Builder
	step := r.End.Sub(r.Start) / barWidth
	for i := range barWidth {
		from := r.Start.Add(time.Duration(i) * step)
		to := from.Add(step)
		if !from.Before(now) {
			b.WriteByte(' ')
			continue
		}
		to = minTime(to, now)
		var covered time.Duration
		for _, s := range r.Spans {
			if o := minTime(s.End, to).Sub(maxTime(s.Start, from)); o > 0 {
				covered += o
			}
		}
		switch {
		case covered >= to.Sub(from):
			b.WriteString("█")
		case covered > 0:
			b.WriteString("▄")
		default:
			b.WriteString("·")
		}
	}
	return b.String()
}

// fmtDuration rounds a duration for people: 1h2m3s, 2.5s, 40ms.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
