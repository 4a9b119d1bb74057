package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"vigil/cmd/vigil/internal/views"
	"vigil/runtime/api"
)

func init() {
	register("status", "Show the servers and cameras of a live site", runStatus)
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	asJSON := fs.Bool("json", false, "print the state as JSON (the answer of GET /v1/state)")
	all := fs.Bool("all", false, "list every camera, even cameras recording normally on a large site")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vigil status [-address URL] [-json] [-all]\n\nShows the site as the agent at -address sees it: servers (role, health, cameras\nrecording, CPU, memory, storage) and cameras (state, where recorded, last gap),\ncameras that need attention first.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil status: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	c := api.NewClient(*address, api.TokenFromEnv())
	st, err := c.State(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		return 0
	}
	color := false
	if f, ok := stdout.(*os.File); ok {
		color = views.ColorFor(f)
	}
	views.Status(stdout, st, views.Options{Color: color, All: *all})
	return 0
}
