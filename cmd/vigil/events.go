package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"vigil/cmd/vigil/internal/views"
	pviews "vigil/planner/views"
	"vigil/runtime/api"
)

func init() {
	register("events", "The site's event history (takeovers, failures, applies), then new events", runEvents)
}

func runEvents(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("events", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (env VIGIL_ADDR)")
	asJSON := fs.Bool("json", false, "print events as JSON lines (the stream of GET /v1/events)")
	since := fs.String("since", "1h", "events since this long ago (2h, 10d) or this time (RFC 3339)")
	until := fs.String("until", "", "events until this time (RFC 3339) or this long ago; implies -follow=false")
	kind := fs.String("kind", "", "kinds to show: glob patterns, comma-separated (camera.*,server.dead)")
	camera := fs.String("camera", "", "only this camera's events")
	server := fs.String("server", "", "only events of this server")
	follow := fs.Bool("follow", true, "after the history, print new events until interrupted")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil events [-address URL] [-since 2h] [-kind camera.*] [-camera NAME] [-server NAME] [-follow=false] [-json]\n\n"+
			"Prints the events of the whole site (every server the agent reaches, merged by time),\nthen follows new ones until interrupted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil events: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	now := time.Now()
	f := api.EventFilter{Kind: *kind, Camera: *camera, Server: *server}
	var err error
	if f.Since, err = api.ParseTime(*since, now); err != nil {
		fmt.Fprintf(stderr, "vigil events: -since: %v\n", err)
		return 2
	}
	if f.Until, err = api.ParseTime(*until, now); err != nil {
		fmt.Fprintf(stderr, "vigil events: -until: %v\n", err)
		return 2
	}
	if !api.ValidKindPattern(f.Kind) {
		fmt.Fprintf(stderr, "vigil events: -kind %q is not a valid pattern (e.g. camera.*)\n", f.Kind)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	followOn := *follow && f.Until.IsZero()
	s, err := newClient(*address, api.TokenFromEnv()).EventHistory(ctx, f, api.EventOptions{Follow: followOn})
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if len(s.Unanswered) > 0 {
		fmt.Fprintf(stderr, "Warning: no answer from %s: their events are missing\n", strings.Join(s.Unanswered, ", "))
	}
	color := isTerminal(stdout)
	enc := json.NewEncoder(stdout)
	for ev := range s.Events {
		if *asJSON {
			enc.Encode(ev)
			continue
		}
		views.Event(stdout, ev, color)
	}
	if followOn && ctx.Err() == nil {
		err := fmt.Errorf("the agent at %s closed the event stream", *address)
		if *asJSON {
			// One more JSON line, so that the stream stays JSON lines.
			var doc, line bytes.Buffer
			pviews.JSONError(&doc, err.Error(), nil)
			json.Compact(&line, doc.Bytes())
			fmt.Fprintf(stdout, "%s\n", line.Bytes())
			return exitError
		}
		return fail(stdout, stderr, false, err)
	}
	return 0
}
