// Command vigil is the one binary of vigil: the operator's tool (validate, fmt,
// plan, apply, status), the agent daemon, the camera simulator and the
// single-process demo. Each subcommand lives in its own file, parses its flags
// into typed arguments, calls into the packages that hold the logic, and
// renders the result.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand. run gets the arguments after the subcommand's
// name and returns the process exit code.
type command struct {
	synopsis string
	run      func(args []string, stdout, stderr io.Writer) int
}

// commands is filled by each subcommand's file in its init function, so that
// adding a command touches only its own file.
var commands = map[string]command{}

func register(name, synopsis string, run func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{synopsis: synopsis, run: run}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	if args[0] == "version" || args[0] == "-version" || args[0] == "--version" {
		fmt.Fprintf(stdout, "vigil %s\n", version)
		return 0
	}
	// Two-word commands such as "master transfer" and "balance report".
	if len(args) > 1 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c.run(args[2:], stdout, stderr)
		}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "vigil: unknown command %q\n\n", strings.Join(args[:1], " "))
		usage(stderr)
		return 1
	}
	return c.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: vigil <command> [flags] [args]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].synopsis)
	}
	fmt.Fprintf(w, "\nRun 'vigil <command> -h' for a command's flags.\n")
}
