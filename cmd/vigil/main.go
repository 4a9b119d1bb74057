// Command vigil is the one binary of vigil: the operator's tool (validate, fmt,
// plan, apply, status), the agent daemon, the camera simulator and the
// single-process demo. Each subcommand lives in its own file, parses its flags
// into typed arguments, calls into the packages that hold the logic, and
// renders the result.
//
// The conventions every command shares live here and in cli.go, and read
// the command registry, so that a command gets them by calling register:
// `vigil help CMD` and `vigil CMD -h` print the same text on stdout and exit
// 0; a group such as `vigil balance` lists its subcommands; a mistyped
// command gets "did you mean"; -no-color turns colours off like NO_COLOR;
// `vigil completion bash|zsh` completes commands and flags.
package main

import (
	"io"
	"os"
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
// adding a command touches only its own file. A name of two words ("balance
// report") is a subcommand of the group named by its first word.
var commands = map[string]command{}

func register(name, synopsis string, run func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{synopsis: synopsis, run: run}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
