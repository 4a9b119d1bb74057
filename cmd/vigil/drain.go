package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"vigil/runtime/api"
)

func init() {
	register("drain", "Hand a server's cameras to other servers (or back with -undo) without losing a frame", runDrain)
}

func runDrain(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("drain", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	undo := fs.Bool("undo", false, "end the drain: the server takes its cameras back")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the hand-over to finish (0: do not wait)")
	asJSON := fs.Bool("json", false, `print the answer as JSON: {"server", "draining", "staying": [{"camera", "reason"}]}, or the error`)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: vigil drain [-address URL] [-undo] [-wait D] [-json] SERVER

Hands every camera of SERVER to the servers that would take it over if it
failed, make-before-break: each new recorder records before SERVER stops.
The agent keeps running; the drain is committed through the master, so it
outlasts restarts until "vigil drain -undo SERVER". Cameras that cannot go
elsewhere (locked, or no other server with room) stay and are listed.
Needs the API token in VIGIL_TOKEN.

Flags:
`)
		fs.PrintDefaults()
	}
	server, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	token := api.TokenFromEnv()
	if token == "" {
		return fail(stdout, stderr, *asJSON, errors.New("VIGIL_TOKEN is not set: a drain needs the API token of the agent configuration"))
	}
	c := newClient(*address, token)
	ctx := context.Background()
	resp, err := c.Drain(ctx, server, *undo)
	if errors.Is(err, api.ErrNotFound) {
		// The agent's answer says the same again: say it once.
		err = fmt.Errorf("%s is not a server of this site (the committed configuration at %s has no such server)", server, *address)
	}
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if !*asJSON {
		printDrain(stdout, resp)
	}
	if *wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, *wait)
		defer cancel()
		if err := waitHandOver(wctx, c, server, *undo); err != nil {
			return fail(stdout, stderr, *asJSON, err)
		}
	}
	if *asJSON {
		return writeJSON(stdout, stderr, resp)
	}
	if *wait > 0 {
		fmt.Fprintln(stdout, "Hand-over complete.")
	}
	return exitOK
}

func printDrain(w io.Writer, resp *api.DrainResponse) {
	if !resp.Draining {
		fmt.Fprintf(w, "%s is no longer drained: it takes its cameras back, make-before-break.\n", resp.Server)
		return
	}
	fmt.Fprintf(w, "%s is drained: its cameras go to their backups, make-before-break.\n", resp.Server)
	if len(resp.Staying) > 0 {
		fmt.Fprintf(w, "%d cameras cannot be placed elsewhere and stay on %s:\n", len(resp.Staying), resp.Server)
		for _, s := range resp.Staying {
			fmt.Fprintf(w, "  %s: %s\n", s.Camera, s.Reason)
		}
	}
}

// waitHandOver polls the site's state until no server records a camera
// of the hand-over only until its new recorder runs it (role "failback"),
// and the answering agent shows the drain (or its end).
func waitHandOver(ctx context.Context, c *api.Client, server string, undo bool) error {
	for {
		st, err := c.State(ctx)
		if err == nil && handedOver(st, server, undo) {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("cameras still being handed over")
			}
			return fmt.Errorf("the hand-over did not finish in time (%v); see vigil status", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func handedOver(st *api.State, server string, undo bool) bool {
	for _, s := range st.Servers {
		if s.Name == server && (s.Health == api.HealthDraining) == undo {
			return false
		}
	}
	for _, cam := range st.Cameras {
		for _, r := range cam.Recorders {
			if r.Role == "failback" {
				return false
			}
		}
	}
	return true
}
