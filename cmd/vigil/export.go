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
	start := fs.String("start", "", "start of the period (RFC 3339); the MP4 starts at the key frame at or before it")
	end := fs.String("end", "", "end of the period (RFC 3339)")
	out := fs.String("o", "", "write the MP4 to `FILE` (default CAMERA-START.mp4) and its signed manifest to FILE.json")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil export CAMERA -start T -end T [-o FILE] [-address URL]\n"+
			"       vigil export -public-key [-address URL]\n\n"+
			"Exports a camera's period, across every server that recorded it, as one MP4 that\n"+
			"plays anywhere (moov first), and beside it FILE.json: the sources, the gaps and\n"+
			"their causes, who exported it and when, signed with the site's export key.\n"+
			"vigil verify FILE checks both. Needs VIGIL_TOKEN.\n\n"+
			"-public-key prints the public half of the site's export key, which signs every\n"+
			"export. Keep it apart from exported files and give it to whoever checks them:\n"+
			"vigil verify -public-key KEY FILE proves that the site made FILE.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	camera, code, ok := parseCameraArgs(fs, args)
	if !ok {
		return code
	}
	if fs.NArg() != 0 || (*publicKey == (camera != "")) {
		fs.Usage()
		return 2
	}
	if camera != "" {
		return exportFile(*address, camera, *start, *end, *out, stdout, stderr)
	}
	k, err := newClient(*address, api.TokenFromEnv()).ExportPublicKey(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, k.PublicKey)
	return 0
}
