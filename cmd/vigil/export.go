package main

import (
	"context"
	"fmt"
	"io"

	"vigil/runtime/api"
)

func init() {
	register("export", "Export a camera's footage as a signed MP4, or print the site's public export key", runExport)
}

func runExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("export", stderr)
	address := fs.String("address", api.AddressFromEnv(), "agent API address (any agent of the site; env VIGIL_ADDR)")
	publicKey := fs.Bool("public-key", false, "print the public half of the site's export key (64 hex digits) and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil export -public-key [-address URL]\n\n"+
			"-public-key prints the public half of the site's export key, which signs every\n"+
			"export. Keep it apart from exported files and give it to whoever checks them:\n"+
			"vigil verify -public-key KEY FILE proves that the site made FILE.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !*publicKey || fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	k, err := api.NewClient(*address, "").ExportPublicKey(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, k.PublicKey)
	return 0
}
