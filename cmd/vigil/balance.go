package main

import (
	"context"
	"fmt"
	"io"

	"vigil/cmd/vigil/internal/views"
	"vigil/runtime/api"
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
	rep, err := newClient(*address, api.TokenFromEnv()).BalanceReport(context.Background(), *days)
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if *asJSON {
		return writeJSON(stdout, stderr, rep)
	}
	views.BalanceReport(stdout, rep)
	return 0
}
