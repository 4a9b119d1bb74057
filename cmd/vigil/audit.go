package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"vigil/cmd/vigil/internal/views"
	"vigil/runtime/api"
)

func init() {
	register("audit", "The site's audit log: who applied, moved the master, exported, watched, and who was refused", runAudit)
}

func runAudit(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (env VIGIL_ADDR)")
	asJSON := fs.Bool("json", false, "print entries as JSON lines")
	since := fs.String("since", "7d", "entries since this long ago (2h, 30d) or this time (RFC 3339)")
	until := fs.String("until", "", "entries until this time (RFC 3339) or this long ago")
	user := fs.String("user", "", "only this user's (or token's) entries")
	kind := fs.String("kind", "", "kinds to show: glob patterns, comma-separated ("+strings.Join(api.AuditKinds, ", ")+")")
	limit := fs.Int("limit", 0, "at most this many entries, the newest (0: the agent's default, 10000)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil audit [-address URL] [-since 7d] [-until T] [-user NAME] [-kind K] [-limit N] [-json]\n\n"+
			"Prints the site's audit log, kept in the replicated state: applies, master transfers,\nexports, playback and live sessions, failed logins and refused requests. Needs an\nadmin token (VIGIL_TOKEN).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil audit: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	now := time.Now()
	f := api.AuditFilter{User: *user, Kind: *kind, Limit: *limit}
	var err error
	if f.Since, err = api.ParseTime(*since, now); err != nil {
		fmt.Fprintf(stderr, "vigil audit: -since: %v\n", err)
		return exitUsage
	}
	if f.Until, err = api.ParseTime(*until, now); err != nil {
		fmt.Fprintf(stderr, "vigil audit: -until: %v\n", err)
		return exitUsage
	}
	if *limit < 0 {
		fmt.Fprintf(stderr, "vigil audit: -limit %d: give a positive number, or 0 for the agent's default\n", *limit)
		return exitUsage
	}
	if f.Kind != "" && (!api.ValidKindPattern(f.Kind) || !slices.ContainsFunc(api.AuditKinds, func(k string) bool { return api.MatchKind(f.Kind, k) })) {
		fmt.Fprintf(stderr, "vigil audit: -kind %q matches no kind of audit entry (%s)\n", f.Kind, strings.Join(api.AuditKinds, ", "))
		return exitUsage
	}
	log, err := newClient(*address, api.TokenFromEnv()).Audit(context.Background(), f)
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if log.Omitted > 0 {
		fmt.Fprintf(stderr, "Warning: %d older entries left out; narrow -since or raise -limit\n", log.Omitted)
	}
	if log.Bounded > 0 {
		fmt.Fprintf(stderr, "Warning: the site dropped %d entries, the newest from %s, to keep its audit log within its size bound\n",
			log.Bounded, log.BoundedUntil.Local().Format(time.DateTime))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range log.Entries {
			enc.Encode(e)
		}
		return exitOK
	}
	if len(log.Entries) == 0 {
		fmt.Fprintf(stdout, "No audit entries match (the site keeps them for %s).\n", log.Retention)
		return exitOK
	}
	views.Audit(stdout, log.Entries, auditZone)
	return exitOK
}

// auditZone is the zone vigil audit shows its times in: the machine's local
// zone. A test sets it instead of time.Local, which every running server's
// time.Now reads.
var auditZone = time.Local
