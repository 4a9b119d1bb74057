package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"vigil/hcl/spec"
	"vigil/runtime/access"
)

func init() {
	register("token new", "Make an API token and the token block that admits it", runTokenNew)
}

func runTokenNew(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("token new", stderr)
	role := fs.String("role", string(access.Viewer), "the token's role: "+strings.Join(spec.Roles, ", "))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil token new [-role ROLE] NAME\n\n"+
			"Prints a new random API token, once, and the token block with its SHA-256\n"+
			"hash to paste into the configuration: in a site block for that site only,\n"+
			"or at the top level for every site. The agents keep only the hash; give\n"+
			"the token to its user as VIGIL_TOKEN (or to Prometheus as its bearer token).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	name := fs.Arg(0)
	if !spec.ValidName(name) {
		fmt.Fprintf(stderr, "Error: %q is not a valid token name: use 1 to 63 letters, digits, dots, dashes and underscores, starting with a letter or digit.\n", name)
		return exitUsage
	}
	if !slices.Contains(spec.Roles, *role) {
		fmt.Fprintf(stderr, "Error: -role %q is not one of %s.\n", *role, strings.Join(spec.Roles, ", "))
		return exitUsage
	}
	token, hash, err := access.NewToken()
	if err != nil {
		return fail(stdout, stderr, false, err)
	}
	fmt.Fprintf(stdout, "Token %q (shown only now; the configuration keeps its hash):\n\n  %s\n\n", name, token)
	fmt.Fprintf(stdout, "Paste into a site block (that site only) or at the top level (every site):\n\n")
	fmt.Fprintf(stdout, "token %q {\n  role = %q\n  hash = %q\n}\n", name, *role, hash)
	return exitOK
}
