package views

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"vigil/runtime/api"
)

// Audit prints audit entries as a table, times in loc: when, what kind,
// who, from where, through which server, and what.
func Audit(w io.Writer, es []api.AuditEntry, loc *time.Location) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tUSER\tFROM\tSERVER\tWHAT")
	for _, e := range es {
		from := e.Address
		if from == "" {
			from = "-"
		}
		user := e.User
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.In(loc).Format("2006-01-02 15:04:05"),
			clean(e.Kind), clean(user), clean(from), clean(e.Server), clean(auditWhat(e, loc)))
	}
	tw.Flush()
}

// auditWhat is the entry's own part, in one line.
func auditWhat(e api.AuditEntry, loc *time.Location) string {
	var parts []string
	switch e.Kind {
	case api.AuditApply:
		parts = append(parts, fmt.Sprintf("revision %d (planned against %d)", e.Revision, e.BaseRevision))
		if e.Checksum != "" {
			parts = append(parts, "spec "+e.Checksum)
		}
	case api.AuditMasterTransfer:
		parts = append(parts, "master role to "+e.Target)
	case api.AuditExport, api.AuditPlayback, api.AuditLive:
		what := e.Camera
		if !e.Start.IsZero() {
			what += " " + period(e.Start, e.End, loc)
		}
		parts = append(parts, what)
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Count > 0 && e.Last.After(e.Time) {
		parts = append(parts, fmt.Sprintf("(%d times, until %s)", e.Count, e.Last.In(loc).Format("15:04:05")))
	}
	return strings.Join(parts, "; ")
}

// period is "2026-12-04 10:00:00 to 10:05:00", the end's date shown only
// when it differs.
func period(start, end time.Time, loc *time.Location) string {
	s, e := start.In(loc), end.In(loc)
	layout := "15:04:05"
	if s.Format(time.DateOnly) != e.Format(time.DateOnly) {
		layout = time.DateTime
	}
	return s.Format(time.DateTime) + " to " + e.Format(layout)
}
