package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"vigil/cmd/vigil/internal/views"
	"vigil/runtime/api"
)

func init() {
	register("events", "Follow the events of an agent (takeovers, failures, applies)", runEvents)
}

func runEvents(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("events", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (env VIGIL_ADDR)")
	asJSON := fs.Bool("json", false, "print events as JSON lines (the stream of GET /v1/events)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil events [-address URL] [-json]\n\nPrints the agent's recent events, then follows new ones until interrupted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil events: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	events, err := api.NewClient(*address, api.TokenFromEnv()).Events(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	color := isTerminal(stdout)
	enc := json.NewEncoder(stdout)
	for ev := range events {
		if *asJSON {
			enc.Encode(ev)
			continue
		}
		views.Event(stdout, ev, color)
	}
	if ctx.Err() == nil {
		fmt.Fprintf(stderr, "Error: the agent at %s closed the event stream\n", *address)
		return 1
	}
	return 0
}
