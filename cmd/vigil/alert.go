package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"vigil/runtime/api"
)

func init() {
	register("alert test", "Send a test notification to a notifier and show what its server answered", runAlertTest)
}

func runAlertTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("alert test", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	asJSON := fs.Bool("json", false, `print the result as JSON: {"notifier", "destination", "answer"}, or the error`)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil alert test [-address URL] [-json] NOTIFIER\n\nThe agent sends a test message to NOTIFIER, a notifier of the committed\nconfiguration, and this prints what the mail server, webhook or MQTT broker\nanswered. Needs the API token in VIGIL_TOKEN.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	notifier, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	token := api.TokenFromEnv()
	if token == "" {
		return fail(stdout, stderr, *asJSON, errors.New("VIGIL_TOKEN is not set: sending a test notification needs the API token of the agent configuration"))
	}
	resp, err := newClient(*address, token).AlertTest(context.Background(), notifier)
	if err != nil {
		return fail(stdout, stderr, *asJSON, err)
	}
	if *asJSON {
		return writeJSON(stdout, stderr, resp)
	}
	fmt.Fprintf(stdout, "Sent a test notification to %s (%s).\nThe server answered: %s\n", resp.Notifier, resp.Destination, resp.Answer)
	return exitOK
}
