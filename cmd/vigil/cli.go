package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"vigil/cmd/vigil/internal/views"
	"vigil/hcl"
	"vigil/hcl/spec"
	pviews "vigil/planner/views"
)

// Exit codes shared by every command (plan -detailed-exitcode and fmt -check
// add their own): 2 is kept for a command line that cannot be understood, so
// that a script tells "vigil said no" from "vigil was called wrong".
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// run dispatches one command line: global flags, help, version, then the
// command of the registry.
func run(args []string, stdout, stderr io.Writer) int {
	args, g, err := stripGlobalFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitUsage
	}
	if g.noColor {
		views.NoColor = true
	}
	ca, err := loadTrustedCA(g.caCert)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	trustedCA.Store(ca)
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "help":
		return runHelp(args[1:], stdout, stderr)
	case "-version", "--version":
		return commands["version"].run(args[1:], stdout, stderr)
	case "__complete":
		return runComplete(args[1:], stdout)
	}
	name, rest, code := resolve(args, stdout, stderr)
	if name == "" {
		return code
	}
	if wantsHelp(rest) {
		fmt.Fprint(stdout, helpText(name))
		return exitOK
	}
	return commands[name].run(rest, stdout, stderr)
}

// globalFlags are the flags every command has, anywhere on the line.
type globalFlags struct {
	noColor bool
	caCert  string // -ca-cert FILE
}

// stripGlobalFlags takes -no-color and -ca-cert FILE out of the arguments
// (anywhere before "--"), so that every command has them.
func stripGlobalFlags(args []string) (rest []string, g globalFlags, err error) {
	rest = make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(rest, args[i:]...), g, nil
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			name = ""
		}
		switch name {
		case "no-color", "-no-color":
			g.noColor = true
		case "ca-cert", "-ca-cert":
			if !hasValue {
				if i+1 == len(args) {
					return nil, g, errors.New("flag needs an argument: -ca-cert FILE (a PEM file of the CA to trust, as VIGIL_CACERT)")
				}
				i++
				value = args[i]
			}
			g.caCert = value
		default:
			rest = append(rest, a)
		}
	}
	return rest, g, nil
}

// wantsHelp reports whether a command's arguments ask for its help: -h,
// -help or --help anywhere before "--", also after positional arguments
// (where the flag package would take it for one).
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// resolve finds the command that args name, the longest name first ("dev
// stop" before "dev"). For a group without a command of its own (balance,
// master) it lists the subcommands; for a word that is no command it says
// so, with a suggestion. name is "" when the line is handled (code).
func resolve(args []string, stdout, stderr io.Writer) (name string, rest []string, code int) {
	word := args[0]
	if len(args) > 1 {
		if _, ok := commands[word+" "+args[1]]; ok {
			return word + " " + args[1], args[2:], exitOK
		}
	}
	if _, ok := commands[word]; ok {
		return word, args[1:], exitOK
	}
	subs := subcommands(word)
	if len(subs) == 0 {
		fmt.Fprintf(stderr, "vigil: unknown command %q.%s\nRun 'vigil -h' for the list of commands.\n", word, didYouMean(word, topNames()))
		return "", nil, exitUsage
	}
	// A group: vigil balance, vigil balance -h, vigil balance frobnicate.
	if len(args) == 1 || wantsHelp(args[1:2]) {
		groupHelp(word, stdout)
		return "", nil, exitOK
	}
	if w := args[1]; !strings.HasPrefix(w, "-") {
		fmt.Fprintf(stderr, "vigil %s: unknown subcommand %q.%s\n\n", word, w, didYouMean(w, lastWords(subs)))
	} else {
		fmt.Fprintf(stderr, "vigil %s: give a subcommand before flags.\n\n", word)
	}
	groupHelp(word, stderr)
	return "", nil, exitUsage
}

// groupHelp lists the subcommands of group on w.
func groupHelp(group string, w io.Writer) {
	fmt.Fprintf(w, "Usage: vigil %s <subcommand> [flags] [args]\n\nSubcommands:\n", group)
	listCommands(w, subcommands(group))
	fmt.Fprintf(w, "\nRun 'vigil %s <subcommand> -h' for a subcommand's flags.\n", group)
}

// didYouMean suggests the closest of names to a mistyped word (the rule
// hcl's references use), or says nothing.
func didYouMean(word string, names []string) string {
	if s := hcl.Suggest(word, names); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// topNames are the first words of the registry's commands and of the
// built-in ones.
func topNames() []string {
	seen := map[string]bool{"help": true, "version": true}
	for n := range commands {
		w, _, _ := strings.Cut(n, " ")
		seen[w] = true
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// subcommands lists the registered commands under group ("dev stop" for
// "dev"), sorted.
func subcommands(group string) []string {
	var out []string
	for n := range commands {
		if strings.HasPrefix(n, group+" ") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// lastWords are the subcommands' own names ("stop" of "dev stop").
func lastWords(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n[strings.LastIndex(n, " ")+1:]
	}
	return out
}

func listCommands(w io.Writer, names []string) {
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].synopsis)
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: vigil [-no-color] [-ca-cert FILE] <command> [flags] [args]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	listCommands(w, names)
	fmt.Fprintf(w, "\nRun 'vigil <command> -h' (or 'vigil help <command>') for a command's flags.\n"+
		"-no-color, anywhere on the line, turns colours off, as the NO_COLOR environment variable does.\n"+
		"-ca-cert FILE, anywhere on the line, trusts the CA certificates of FILE for HTTPS, as VIGIL_CACERT does.\n")
}

// runHelp is `vigil help [COMMAND...]`.
func runHelp(args []string, stdout, stderr io.Writer) int {
	// Help on help (vigil help -h, vigil help help) is the list of commands.
	if len(args) == 0 || args[0] == "help" || wantsHelp(args[:1]) {
		usage(stdout)
		return exitOK
	}
	name, _, code := resolve(args, stdout, stderr)
	if name == "" {
		return code
	}
	fmt.Fprint(stdout, helpText(name))
	return exitOK
}

// helpText is a command's help: what its flag set prints for -h, its
// subcommands, and the global flags. `vigil help CMD` and `vigil CMD -h`
// both print it.
func helpText(name string) string {
	var b bytes.Buffer
	commands[name].run([]string{"-h"}, &b, &b)
	if b.Len() == 0 {
		fmt.Fprintf(&b, "Usage: vigil %s\n\n%s.\n", name, commands[name].synopsis)
	}
	if subs := subcommands(name); len(subs) > 0 {
		fmt.Fprintf(&b, "\nSubcommands:\n")
		listCommands(&b, subs)
	}
	fmt.Fprintf(&b, "\nGlobal flags:\n  -ca-cert FILE\n    \ttrust the CA certificates of FILE for HTTPS (as VIGIL_CACERT; vigil ca writes the site's)\n  -no-color\n    \tno colours in the output (as NO_COLOR=1)\n")
	return b.String()
}

// newFlags is a command's flag set: errors and the usage of a misuse go to
// stderr. Parse it with parseFlags.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses a command's flags. When ok is false the command returns
// code: 0 after -h (the usage went to the flag set's output, which run
// points at stdout), 2 after a flag it does not know or a bad value.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	return exitOK, true
}

// flagRE matches a flag's line in flag.PrintDefaults' output.
var flagRE = regexp.MustCompile(`(?m)^  -([A-Za-z][\w.-]*)(?: \S+)?(?:\t|$)`)

// commandFlags lists the flags a command's help shows, for completion.
func commandFlags(name string) []string {
	var out []string
	for _, m := range flagRE.FindAllStringSubmatch(helpText(name), -1) {
		out = append(out, "-"+m[1])
	}
	return out
}

// fail reports why a command failed and returns exitError: with -json, as
// the error document on stdout, the one shape of every -json command
// ({"format_version", "error", "diagnostics"}; planner/views owns it); else
// "Error: ..." on stderr.
func fail(stdout, stderr io.Writer, asJSON bool, err error, diags ...spec.Diagnostic) int {
	if asJSON {
		pviews.JSONError(stdout, err.Error(), diags)
	} else {
		fmt.Fprintf(stderr, "Error: %v\n", err)
	}
	return exitError
}

// parseOneArg is parseFlags for a command that takes exactly one argument
// (a server, a notifier, a file): without it, or with more, the usage goes
// to stderr and the command exits 2.
func parseOneArg(fs *flag.FlagSet, args []string) (arg string, code int, ok bool) {
	if code, ok := parseFlags(fs, args); !ok {
		return "", code, false
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return "", exitUsage, false
	}
	return fs.Arg(0), exitOK, true
}
