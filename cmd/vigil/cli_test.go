package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func runArgs(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func registered() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestEveryCommandHelp: for every command of the registry, -h, -help and
// --help print its usage on stdout and exit 0, `vigil help CMD` prints the
// same, and a flag it does not know exits 2 with the usage on stderr.
func TestEveryCommandHelp(t *testing.T) {
	for _, name := range registered() {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			words := strings.Fields(name)
			code, help, errs := runArgs(append(words, "-h")...)
			if code != 0 || errs != "" {
				t.Fatalf("vigil %s -h: exit %d, stderr %q; want 0 and nothing", name, code, errs)
			}
			if !strings.HasPrefix(help, "Usage: vigil "+name) {
				t.Errorf("vigil %s -h does not start with its usage line:\n%s", name, help)
			}
			if !strings.Contains(help, "-no-color") {
				t.Errorf("vigil %s -h does not list the global -no-color", name)
			}
			for _, h := range []string{"-help", "--help"} {
				if code, out, _ := runArgs(append(words, h)...); code != 0 || out != help {
					t.Errorf("vigil %s %s: exit %d, and its text differs from -h", name, h, code)
				}
			}
			if code, out, _ := runArgs(append([]string{"help"}, words...)...); code != 0 || out != help {
				t.Errorf("vigil help %s: exit %d; want 0 and the text of -h:\n%s", name, code, out)
			}
			// After a positional argument, -h still asks for help.
			if code, out, _ := runArgs(append(words, "some-arg", "-h")...); code != 0 || out != help {
				t.Errorf("vigil %s some-arg -h: exit %d; want its help", name, code)
			}
			code, out, errs := runArgs(append(words, "-no-such-flag")...)
			if code != exitUsage || out != "" || !strings.Contains(errs, "-no-such-flag") || !strings.Contains(errs, "Usage: vigil "+name) {
				t.Errorf("vigil %s -no-such-flag: exit %d, stdout %q, stderr %q; want 2, the error and the usage on stderr", name, code, out, errs)
			}
		})
	}
}

func TestTopLevel(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		stdout     string // a substring of stdout; "" for empty
		stderr     string // a substring of stderr; "" for empty
		wantStdout bool
	}{
		{args: nil, code: 0, stdout: "Commands:"},
		{args: []string{"-h"}, code: 0, stdout: "Commands:"},
		{args: []string{"--help"}, code: 0, stdout: "Commands:"},
		{args: []string{"help"}, code: 0, stdout: "Commands:"},
		{args: []string{"stauts"}, code: 2, stderr: `unknown command "stauts". Did you mean "status"?`},
		{args: []string{"aply", "-auto-approve"}, code: 2, stderr: `Did you mean "apply"?`},
		{args: []string{"zzzzzz"}, code: 2, stderr: `unknown command "zzzzzz".` + "\n"},
		{args: []string{"help", "-h"}, code: 0, stdout: "Commands:"},
		{args: []string{"help", "--help"}, code: 0, stdout: "Commands:"},
		{args: []string{"help", "help"}, code: 0, stdout: "Commands:"},
		{args: []string{"help", "stauts"}, code: 2, stderr: `Did you mean "status"?`},
		{args: []string{"balance"}, code: 0, stdout: "balance report "},
		{args: []string{"balance", "-h"}, code: 0, stdout: "balance report "},
		{args: []string{"help", "balance"}, code: 0, stdout: "balance report "},
		{args: []string{"master"}, code: 0, stdout: "master transfer "},
		{args: []string{"master", "trasnfer", "srv-1"}, code: 2, stderr: `unknown subcommand "trasnfer". Did you mean "transfer"?`},
		{args: []string{"balance", "-days", "3"}, code: 2, stderr: "give a subcommand before flags"},
		{args: []string{"version"}, code: 0, stdout: "vigil dev ("},
		{args: []string{"-version"}, code: 0, stdout: "vigil dev ("},
		{args: []string{"--version"}, code: 0, stdout: "vigil dev ("},
		{args: []string{"version", "extra"}, code: 2, stderr: "unexpected argument"},
		{args: []string{"completion"}, code: 2, stderr: "name a shell"},
		{args: []string{"completion", "fish"}, code: 2, stderr: "name a shell"},
		{args: []string{"completion", "bash"}, code: 0, stdout: "complete -o default -F _vigil vigil"},
		{args: []string{"completion", "zsh"}, code: 0, stdout: "#compdef vigil"},
		{args: []string{"help", "dev"}, code: 0, stdout: "Subcommands:\n  dev kill"},
		{args: []string{"apply", "-json", "../../examples/quickstart"}, code: 2, stderr: "-json needs -auto-approve"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			code, out, errs := runArgs(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errs)
			}
			if tt.stdout == "" && out != "" || !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout %q, want it to hold %q", out, tt.stdout)
			}
			if tt.stderr == "" && errs != "" || !strings.Contains(errs, tt.stderr) {
				t.Errorf("stderr %q, want it to hold %q", errs, tt.stderr)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, _ := runArgs("version", "-json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] != "dev" || v["go"] == "" || v["platform"] == "" {
		t.Fatalf("vigil version -json: exit %d, %s", code, out)
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"sta"}, []string{"status"}},
		{[]string{"ba"}, []string{"balance"}},
		{[]string{"balance", ""}, []string{"report"}},
		{[]string{"dev", "st"}, []string{"start", "stop"}},
		{[]string{"plan", "-de"}, []string{"-detailed-exitcode"}},
		{[]string{"balance", "report", "-j"}, []string{"-json"}},
		{[]string{"status", "-no-"}, []string{"-no-color"}},
		{[]string{"completion", ""}, []string{"bash", "zsh"}},
		{[]string{"help", "vers"}, []string{"version"}},
		{[]string{"help", "master", ""}, []string{"transfer"}},
		{[]string{"validate", "exam"}, nil}, // a path: the shell completes files
	}
	for _, tt := range tests {
		var out bytes.Buffer
		runComplete(tt.words, &out)
		got := strings.Fields(out.String())
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("__complete %q = %q, want %q", tt.words, got, tt.want)
		}
	}
}

// TestCompletionSeesEveryCommand: the completion of the first word offers
// every command of the registry, so that a new command is completed without
// touching the completion code.
func TestCompletionSeesEveryCommand(t *testing.T) {
	var out bytes.Buffer
	runComplete([]string{""}, &out)
	offered := map[string]bool{}
	for _, w := range strings.Fields(out.String()) {
		offered[w] = true
	}
	for _, n := range registered() {
		if w, _, _ := strings.Cut(n, " "); !offered[w] {
			t.Errorf("the completion does not offer %q", w)
		}
	}
}

// TestExitCodes: 2 for a command line that cannot be understood, 1 for a
// command that fails, per command.
func TestExitCodes(t *testing.T) {
	down := "http://127.0.0.1:1"
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"plan", "a", "b"}, 2},
		{[]string{"plan", "-address", down, "-site", "x", "."}, 2},
		{[]string{"plan", "-address", down, "../../examples/quickstart"}, 1},
		{[]string{"apply", "a", "b"}, 2},
		{[]string{"apply", "-auto-approve", "-address", down, "../../examples/quickstart"}, 1},
		{[]string{"status", "-config", "x", "10.0.0.1"}, 2},
		{[]string{"status", "-address", down}, 1},
		{[]string{"status", "-address", down, "cam5"}, 1},
		{[]string{"events", "extra"}, 2},
		{[]string{"events", "-since", "yesterday-ish"}, 2},
		{[]string{"events", "-address", down, "-follow=false"}, 1},
		{[]string{"balance", "report", "extra"}, 2},
		{[]string{"balance", "report", "-days", "-1"}, 2},
		{[]string{"balance", "report", "-address", down}, 1},
		{[]string{"master", "transfer"}, 2},
		{[]string{"master", "transfer", "-address", down, "a", "b"}, 2},
		{[]string{"drain"}, 2},
		{[]string{"drain", "-address", down, "a", "b"}, 2},
		{[]string{"drain", "-address", down, "a"}, 1},
		{[]string{"dev", "a", "b"}, 2},
		{[]string{"dev", "frobnicate"}, 2},
		{[]string{"dev", "stop"}, 2},
		{[]string{"camsim", "extra"}, 2},
		{[]string{"agent"}, 2},
		{[]string{"agent", "-config", "testdata/no-such-agent.hcl"}, 1},
		{[]string{"validate", "testdata/no-such-dir"}, 1},
		{[]string{"fmt", "testdata/no-such-dir"}, 1},
		{[]string{"recordings"}, 2},
		{[]string{"recordings", "-address", down, "cam1"}, 1},
		{[]string{"version", "extra"}, 2},
		{[]string{"completion"}, 2},
	} {
		if code, out, errs := runArgs(tt.args...); code != tt.code {
			t.Errorf("vigil %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(tt.args, " "), code, tt.code, out, errs)
		}
	}
}

// TestMain lets the test binary stand in for vigil (VIGIL_TEST_MAIN=1), so
// that the completion scripts can call it.
func TestMain(m *testing.M) {
	if os.Getenv("VIGIL_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// TestCompletionScripts runs the bash completion script in bash as a shell
// would, and checks that zsh parses the zsh script.
func TestCompletionScripts(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "vigil.bash")
	if code, out, _ := runArgs("completion", "bash"); code != 0 || os.WriteFile(script, []byte(out), 0o644) != nil {
		t.Fatal("vigil completion bash")
	}
	for _, tt := range []struct{ line, want string }{
		{"bal", "balance"},
		{"balance r", "report"},
		{"plan -detail", "-detailed-exitcode"},
		{"dev st", "start stop"},
	} {
		words := strings.Fields(tt.line)
		prog := fmt.Sprintf(`source %q; COMP_WORDS=(%q %s); COMP_CWORD=%d; _vigil; echo "${COMPREPLY[@]}"`, script, self, strings.Join(words, " "), len(words))
		cmd := exec.Command(bash, "-c", prog)
		cmd.Env = append(os.Environ(), "VIGIL_TEST_MAIN=1")
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != tt.want {
			t.Errorf("bash completion of %q: %q (%v), want %q", tt.line, got, err, tt.want)
		}
	}
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Log("zsh not installed: its script is not checked")
		return
	}
	zscript := filepath.Join(t.TempDir(), "_vigil")
	_, out, _ := runArgs("completion", "zsh")
	if err := os.WriteFile(zscript, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zsh, "-n", zscript).CombinedOutput(); err != nil {
		t.Errorf("zsh -n: %v\n%s", err, out)
	}
}

// TestREADMECommandTable: every command of the registry has a row in the
// README's command table, so that a new command cannot go unlisted.
func TestREADMECommandTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Commands")
	end := strings.Index(readme[max(start, 0):], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no Commands section")
	}
	var rows []string
	for _, l := range strings.Split(readme[start:start+end], "\n") {
		if strings.HasPrefix(l, "| `vigil ") {
			rows = append(rows, l)
		}
	}
	listed := func(name string) bool {
		group, sub, _ := strings.Cut(name, " ")
		for _, r := range rows {
			// A row of its own, or its group's row naming it (vigil dev
			// stop|kill|start SERVER).
			if strings.Contains(r, "`vigil "+name) || sub != "" && strings.Contains(r, "`vigil "+group+" ") && strings.Contains(r, sub) {
				return true
			}
		}
		return false
	}
	for _, name := range registered() {
		if !listed(name) {
			t.Errorf("the README's command table has no row for vigil %s", name)
		}
	}
}

// -ca-cert FILE is a global flag, anywhere on the line, and VIGIL_CACERT
// stands for it: a file that is missing or holds no certificate is said,
// before the command talks to any agent.
func TestCACertFlag(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "not-a-cert.pem")
	os.WriteFile(bad, []byte("hello"), 0o600)
	for _, tt := range []struct {
		env  string
		args []string
		want string
	}{
		{"", []string{"status", "-ca-cert", "testdata/no-such-ca.pem"}, "-ca-cert: reading the CA certificate"},
		{"", []string{"-ca-cert=" + bad, "status"}, "holds no PEM certificate"},
		{bad, []string{"status"}, "VIGIL_CACERT: " + bad + " holds no PEM certificate"},
		{"", []string{"status", "-ca-cert"}, "flag needs an argument: -ca-cert"},
	} {
		t.Setenv("VIGIL_CACERT", tt.env)
		if code, _, errs := runArgs(tt.args...); code == 0 || !strings.Contains(errs, tt.want) {
			t.Errorf("VIGIL_CACERT=%q vigil %s: exit %d, stderr %q; want an error with %q", tt.env, strings.Join(tt.args, " "), code, errs, tt.want)
		}
	}
}
