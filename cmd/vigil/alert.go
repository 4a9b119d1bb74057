package main

import (
	"context"
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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil alert test [-address URL] NOTIFIER\n\nThe agent sends a test message to NOTIFIER, a notifier of the committed\nconfiguration, and this prints what the mail server, webhook or MQTT broker\nanswered. Needs the API token in VIGIL_TOKEN.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	token := api.TokenFromEnv()
	if token == "" {
		fmt.Fprintf(stderr, "Error: VIGIL_TOKEN is not set: sending a test notification needs the API token of the agent configuration\n")
		return 1
	}
	resp, err := api.NewClient(*address, token).AlertTest(context.Background(), fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "Sent a test notification to %s (%s).\nThe server answered: %s\n", resp.Notifier, resp.Destination, resp.Answer)
	return 0
}
