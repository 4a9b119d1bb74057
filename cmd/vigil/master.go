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
	asJSON := fs.Bool("json", false, `print the result as JSON: {"master": SERVER}, or the error`)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil master transfer [-address URL] [-json] SERVER\n\nMakes SERVER the site's master (raft leadership transfer). Needs the API token\nin VIGIL_TOKEN. Recording is not interrupted.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	server, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	token := api.TokenFromEnv()
	if token == "" {
		return fail(stdout, stderr, *asJSON, errors.New("VIGIL_TOKEN is not set: moving the master role needs the API token of the agent configuration"))
	}
	c := newClient(*address, token)
	master, err := c.TransferMaster(context.Background(), server)
	if errors.Is(err, api.ErrNotFound) {
		err = fmt.Errorf("%s is not a server of this site: %w", server, err)
	}
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if *asJSON {
		return writeJSON(stdout, stderr, struct {
			Master string `json:"master"`
		}{master})
	}
	fmt.Fprintf(stdout, "%s is the master.\n", master)
	return exitOK
}
