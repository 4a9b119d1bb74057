package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
)

func init() {
	register("completion", "Print the shell completion script for bash or zsh", runCompletion)
	register("version", "Print the version of vigil", runVersion)
}

// The scripts ask the binary itself what to complete (vigil __complete
// WORDS...), so that they follow the commands and flags of the vigil that
// is installed; where it offers nothing (a path, a value), the shell
// completes file names.
const bashCompletion = `# bash completion for vigil. Load it with:
#   source <(vigil completion bash)
# or install it: vigil completion bash > /etc/bash_completion.d/vigil
_vigil() {
	local IFS=$'\n'
	COMPREPLY=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o default -F _vigil vigil
`

const zshCompletion = `#compdef vigil
# zsh completion for vigil. Put it in a directory of $fpath as _vigil:
#   vigil completion zsh > "${fpath[1]}/_vigil"
# or, after compinit: source <(vigil completion zsh)
_vigil() {
	local -a candidates
	candidates=("${(@f)$("${words[1]}" __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	if [[ -n "${candidates[1]}" ]]; then
		compadd -a candidates
	else
		_files
	fi
}
if [[ "${funcstack[1]}" == "_vigil" ]]; then
	_vigil "$@"
else
	compdef _vigil vigil
fi
`

var completionScripts = map[string]string{"bash": bashCompletion, "zsh": zshCompletion}

func runCompletion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("completion", stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil completion bash|zsh\n\n"+
			"Prints the script that makes the shell complete vigil's commands, subcommands and\n"+
			"flags (and file names elsewhere):\n"+
			"  bash: source <(vigil completion bash)   (or save it in /etc/bash_completion.d/vigil)\n"+
			"  zsh:  vigil completion zsh > \"${fpath[1]}/_vigil\"   (or source it after compinit)\n")
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 || completionScripts[fs.Arg(0)] == "" {
		fmt.Fprintf(stderr, "vigil completion: name a shell: bash or zsh\n\n")
		fs.Usage()
		return exitUsage
	}
	fmt.Fprint(stdout, completionScripts[fs.Arg(0)])
	return exitOK
}

// runComplete is `vigil __complete WORD... CURRENT`, which the completion
// scripts call: it prints the candidates for CURRENT, one a line, read from
// the command registry and each command's flags.
func runComplete(words []string, w io.Writer) int {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	var cands []string
	switch {
	case len(before) == 0:
		cands = topNames()
	case before[0] == "help" && len(before) == 1:
		cands = topNames()
	case before[0] == "help" && len(before) == 2:
		cands = lastWords(subcommands(before[1]))
	default:
		name := ""
		if len(before) > 1 && commands[before[0]+" "+before[1]].run != nil {
			name = before[0] + " " + before[1]
		} else if commands[before[0]].run != nil {
			name = before[0]
		}
		switch {
		case strings.HasPrefix(cur, "-") && name != "":
			cands = commandFlags(name)
		case len(before) == 1 && name == "completion":
			cands = []string{"bash", "zsh"}
		case len(before) == 1:
			cands = lastWords(subcommands(before[0]))
		}
	}
	for _, c := range cands {
		if strings.HasPrefix(c, cur) {
			fmt.Fprintln(w, c)
		}
	}
	return exitOK
}

// versionInfo is what `vigil version -json` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	asJSON := fs.Bool("json", false, "print the version as JSON: {\"version\", \"go\", \"platform\"}")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil version [-json]   (or vigil -version)\n\nPrints the version of this vigil binary.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil version: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	v := versionInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if *asJSON {
		return writeJSON(stdout, stderr, v)
	}
	fmt.Fprintf(stdout, "vigil %s (%s, %s)\n", v.Version, v.Go, v.Platform)
	return exitOK
}
