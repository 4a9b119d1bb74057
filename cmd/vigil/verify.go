package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"vigil/runtime/evidence"
)

func init() {
	register("verify", "Check an exported MP4 against its signed manifest", runVerify)
}

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", stderr)
	trusted := fs.String("public-key", "", "the site's public export key (from vigil export -public-key); the export must be signed with it")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil verify [-public-key KEY] FILE\n\n"+
			"Checks FILE (an exported MP4) against FILE.json: the manifest must be exactly as\n"+
			"signed, its signature valid, and the MP4's SHA-256 the one it names. Exit 0 with\n"+
			"a one-line summary, or 1 naming what does not match.\n\n"+
			"Without -public-key this proves the files are unchanged since they were signed,\n"+
			"not who signed them: pass the site's key, obtained from the site and kept apart\n"+
			"from the file, to prove the export came from that site.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	file, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	// Given the manifest instead of the video, check the pair all the same.
	if mp4, ok := strings.CutSuffix(file, ".json"); ok {
		if _, err := os.Stat(mp4); err == nil {
			file = mp4
		}
	}
	var key ed25519.PublicKey
	if *trusted != "" {
		k, err := evidence.ParsePublicKey(*trusted)
		if err != nil {
			fmt.Fprintf(stderr, "Error: -public-key: %v\n", err)
			return 2
		}
		key = k
	}
	var m *evidence.Manifest
	var err error
	if key != nil {
		m, err = evidence.VerifyFileTrusted(file, key)
	} else {
		m, err = evidence.VerifyFile(file)
	}
	var mm *evidence.MismatchError
	switch {
	case errors.As(err, &mm):
		fmt.Fprintf(stderr, "FAILED: %s:\n", file)
		for _, p := range mm.Problems {
			fmt.Fprintf(stderr, "  - %s\n", p)
		}
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "FAILED: %s: %v\n", file, err)
		return 1
	}
	origin := "integrity only: pass -public-key to check the origin"
	if key != nil {
		origin = "signed by the trusted site key"
	}
	fmt.Fprintf(stdout, "OK: %s: %s (%s)\n", file, m.Summary(), origin)
	return 0
}
