package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"vigil/runtime/api"
)

func init() {
	register("master transfer", "Move the site's master role to another server", runMasterTransfer)
}

func runMasterTransfer(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("master transfer", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil master transfer [-address URL] SERVER\n\nMakes SERVER the site's master (raft leadership transfer). Needs the API token\nin VIGIL_TOKEN. Recording is not interrupted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	server := fs.Arg(0)
	token := api.TokenFromEnv()
	if token == "" {
		fmt.Fprintf(stderr, "Error: VIGIL_TOKEN is not set: moving the master role needs the API token of the agent configuration\n")
		return 1
	}
	c := api.NewClient(*address, token)
	master, err := c.TransferMaster(context.Background(), server)
	if err != nil {
		if errors.Is(err, api.ErrNotFound) {
			fmt.Fprintf(stderr, "Error: %s is not a server of this site: %v\n", server, err)
			return 1
		}
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s is the master.\n", master)
	return 0
}
