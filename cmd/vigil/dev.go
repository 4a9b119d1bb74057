package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	statusviews "vigil/cmd/vigil/internal/views"
	"vigil/dev/devsite"
	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

func init() {
	register("dev", "Run a whole site in one process with simulated cameras", runDev)
	for _, verb := range devsite.Verbs {
		register("dev "+verb, strings.ToUpper(verb[:1])+verb[1:]+" a server of the site that vigil dev runs", func(args []string, stdout, stderr io.Writer) int {
			return runDevControl(verb, args, stdout, stderr)
		})
	}
}

// defaultDevControl is where vigil dev listens for `vigil dev stop SERVER`.
const defaultDevControl = "127.0.0.1:53539"

// devStdin is where vigil dev reads typed commands; tests replace it.
var devStdin io.Reader = os.Stdin

// devArgs are vigil dev's flags as typed values.
type devArgs struct {
	path     string
	site     string
	dataDir  string
	keep     bool
	control  string
	vars     varFlags
	varFiles listFlags
}

func parseDevArgs(args []string, stderr io.Writer) (devArgs, int, bool) {
	a := devArgs{vars: varFlags{}}
	fs := newFlags("dev", stderr)
	fs.StringVar(&a.site, "site", "", "the `NAME` of the site to run when the configuration declares several")
	fs.StringVar(&a.dataDir, "data", "", "keep the servers' data, recordings and token in `DIR` (default: a new temporary directory); run again with the same DIR to continue the site as it was left, without applying PATH over it")
	fs.BoolVar(&a.keep, "keep", false, "keep the temporary data directory on exit")
	fs.StringVar(&a.control, "control", defaultDevControl, "listen on `ADDR` for vigil dev stop|kill|start SERVER")
	fs.Var(a.vars, "var", "set a variable: -var name=value (repeatable)")
	fs.Var(&a.varFiles, "var-file", "read variables from an HCL file of name = value lines (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: vigil dev [-data DIR | -keep] [-site NAME] [-control ADDR] [-var name=value]... [PATH]

Runs the site of the configuration at PATH (default examples/quickstart) in this
process: vigil camsim serving its cameras, and every server as an agent on the
loopback address and port the configuration gives it (127.0.0.x). It applies
the configuration, then shows a live status table until Ctrl-C.

From another terminal, with the VIGIL_ADDR and VIGIL_TOKEN it prints, vigil
plan, apply and status work against it, and
  vigil dev stop SERVER    stop a server gracefully (its cameras move at once)
  vigil dev kill SERVER    stop it as a crash would (they move after a few keepalives)
  vigil dev start SERVER   start it again (failback brings its cameras back)
The same commands can be typed into vigil dev itself: stop srv-2, then Enter.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return a, code, false
	}
	switch fs.NArg() {
	case 0:
		a.path = filepath.Join("examples", "quickstart")
	case 1:
		a.path = fs.Arg(0)
		// A bare word that names no file is a mistyped subcommand, not a
		// missing configuration.
		if _, err := os.Stat(a.path); err != nil && !strings.ContainsAny(a.path, "/.") {
			fmt.Fprintf(stderr, "vigil dev: unknown subcommand %q.%s The subcommands are %s; a configuration PATH must exist.\n",
				a.path, didYouMean(a.path, devsite.Verbs), strings.Join(devsite.Verbs, ", "))
			return a, exitUsage, false
		}
	default:
		fmt.Fprintf(stderr, "vigil dev: one configuration path at most, got %d\n", fs.NArg())
		return a, 2, false
	}
	if a.keep && a.dataDir != "" {
		fmt.Fprintf(stderr, "vigil dev: -keep is for the temporary directory; -data DIR is always kept\n")
		return a, 2, false
	}
	return a, 0, true
}

func runDev(args []string, stdout, stderr io.Writer) int {
	a, code, ok := parseDevArgs(args, stderr)
	if !ok {
		return code
	}
	if _, err := os.Stat(a.path); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		if a.path == filepath.Join("examples", "quickstart") {
			fmt.Fprintf(stderr, "Run vigil dev from the root of the vigil repository, or name a configuration: vigil dev PATH\n")
		}
		return 1
	}
	cfg, diags := hcl.Load([]string{a.path}, loadOptions(a.vars, a.varFiles))
	printDiagnostics(stderr, diags, cfg)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "The configuration is invalid; nothing was started.\n")
		return 1
	}
	site, err := pickDevSite(cfg, a.site)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	// From here on Ctrl-C stops the site cleanly instead of killing it.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	dir, temp := a.dataDir, a.dataDir == ""
	// A directory this run creates is removed again when the start fails,
	// so that a failed start leaves nothing behind.
	created := temp
	if temp {
		d, err := os.MkdirTemp("", "vigil-dev-")
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitError
		}
		dir = d
	} else {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			created = true
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitError
		}
	}
	var s *devsite.Site
	var logFile *os.File
	started := false
	defer func() {
		if !started {
			if s != nil {
				s.Close()
			}
			if logFile != nil {
				logFile.Close()
			}
			if created {
				os.RemoveAll(dir)
			}
		}
	}()
	// The agents' log goes to a file next to their data: the terminal
	// belongs to the status table.
	logPath := filepath.Join(dir, "agents.log")
	logFile, err = os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	s, err = devsite.Start(site, devsite.Options{Dir: dir, Version: version, Logger: slog.New(slog.NewTextHandler(logFile, nil))})
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	// Listened on once the site's own addresses are known to be free, so
	// that a second vigil dev names the site's ports first.
	ctl, err := net.Listen("tcp", a.control)
	if err != nil {
		fmt.Fprintf(stderr, "Error: the control endpoint cannot listen on %s: %v\nIs another vigil dev running? (-control ADDR picks another address)\n", a.control, err)
		return exitError
	}
	defer ctl.Close()

	remote := make(chan string, 8)
	notify := func(msg string) {
		select {
		case remote <- msg:
		default: // the screen shows the latest anyway
		}
	}
	ctlTLS, err := s.ControlTLS(ctl.Addr().String())
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	ctlSrv := &http.Server{Handler: s.ControlHandler(notify), ReadHeaderTimeout: 5 * time.Second, TLSConfig: ctlTLS}
	go ctlSrv.ServeTLS(ctl, "", "")
	defer ctlSrv.Close()

	cmd := devCommandName()
	banner := statusviews.DevStart{Site: site.Name, Path: a.path, Unserved: s.Unserved, Dir: s.Dir, AgentLog: logPath}
	if s.Cams != nil {
		banner.Camsim, banner.Paths = s.CamsimAddr, len(s.Cams.Paths())
	}
	for _, n := range s.Names() {
		banner.Servers = append(banner.Servers, [2]string{n, s.Addr(n)})
	}
	statusviews.DevStartBanner(stdout, banner)
	if err := devBringUp(ctx, s, site, cfg.Sensitive, a.path, stdout); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	started = true
	defer func() {
		fmt.Fprintf(stdout, "\nStopping the agents and camsim...\n")
		s.Close()
		logFile.Close()
		devFarewell(stdout, s, site, dir, temp && !a.keep)
	}()
	screen := devScreen(s, a, cmd)
	fmt.Fprintf(stdout, "\n%s\n", strings.Join(append([]string{screen.Export}, screen.Hints...), "\n"))

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(devStdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	live := liveTerminal(stdout)
	color := isTerminal(stdout)
	interval := 2 * time.Second
	if live {
		interval = time.Second
		time.Sleep(2 * time.Second) // time to read the addresses before the table takes the screen
		fmt.Fprint(stdout, "\x1b[2J")
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var lastLine string
	var lastAt time.Time
	typed := true // a line was typed: the prompt row is drawn again
	for {
		st, err := s.State(ctx)
		if live {
			screen.State, screen.Err = st, err
			w, h := termSize(stdout)
			drawDevScreen(stdout, screen.Lines(w, h, statusviews.Options{Color: color}), h, typed)
			typed = false
		} else {
			line := statusviews.DevSummary(st, err)
			if line != lastLine || time.Since(lastAt) > 30*time.Second {
				fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), line)
				lastLine, lastAt = line, time.Now()
			}
		}
		var out string
		select {
		case <-ctx.Done():
			return exitOK
		case l := <-lines:
			var quit bool
			out, quit = devCommand(s, l)
			if quit {
				return exitOK
			}
			if out != "" && strings.TrimSpace(l) != "" {
				out = strings.TrimSpace(l) + ": " + out // the command typed, echoed with its answer
			}
			typed = true
		case out = <-remote:
		case <-tick.C:
		}
		if out != "" {
			screen.Last = out
			if !live {
				fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), out)
			}
		}
	}
}

// devBringUp applies the configuration to a new site. A site continued
// from its data directory (vigil dev -data DIR, run again) keeps its state,
// with whatever the operator applied since: the configuration is not
// applied over it, and the difference is only reported.
func devBringUp(ctx context.Context, s *devsite.Site, site *spec.Site, sensitive []string, path string, stdout io.Writer) error {
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !s.Applied {
		fmt.Fprintf(stdout, "Applying %s...\n", path)
		p, rev, err := s.Apply(actx, site, planner.Options{Sensitive: sensitive})
		if err != nil {
			return fmt.Errorf("applying the configuration: %w", err)
		}
		if err := s.MarkApplied(); err != nil {
			return err
		}
		sum := p.Summary
		fmt.Fprintf(stdout, "Site %s is at revision %d: %d added, %d changed, %d destroyed.\n", site.Name, rev, sum.Add, sum.Change, sum.Destroy)
		return nil
	}
	// Raft replays the site's log once a master is elected.
	st, err := s.WaitState(actx, func(st *api.State) bool { return st.Master != "" && st.Revision > 0 })
	if err != nil {
		return fmt.Errorf("the site in %s did not come back with its configuration: %w", s.Dir, err)
	}
	fmt.Fprintf(stdout, "Continuing site %s from %s at revision %d, as last applied, with the same token.\n", site.Name, s.Dir, st.Revision)
	p, err := planner.Plan(s.Desired(site), st, planner.Options{Sensitive: sensitive})
	switch {
	case err != nil:
		fmt.Fprintf(stdout, "%s was not applied; planning it against the site failed: %v\n", path, err)
	case p.HasChanges():
		sum := p.Summary
		fmt.Fprintf(stdout, "%s was not applied over it: it differs from the site (%d to add, %d to change, %d to destroy); vigil plan %s shows how, vigil apply %s applies it.\n",
			path, sum.Add, sum.Change, sum.Destroy, path, path)
	default:
		fmt.Fprintf(stdout, "%s matches the site.\n", path)
	}
	return nil
}

// drawDevScreen redraws the screen above the prompt row without moving the
// cursor, so that what the operator is typing on the prompt row stays as
// it is; after a line was typed (the terminal moved the cursor down and may
// have scrolled) the prompt row is drawn again, empty.
func drawDevScreen(w io.Writer, lines []string, height int, typed bool) {
	var b strings.Builder
	if !typed {
		b.WriteString("\x1b7") // save the cursor
	}
	b.WriteString("\x1b[H")
	for _, l := range lines {
		b.WriteString(l + "\x1b[K\r\n")
	}
	if typed {
		fmt.Fprintf(&b, "\x1b[%d;1H\x1b[Jvigil dev> ", height)
	} else {
		b.WriteString("\x1b8") // back to where the operator is typing
	}
	io.WriteString(w, b.String())
}

// termSize is the terminal's size in cells, 80×24 when unknown.
func termSize(w io.Writer) (width, height int) {
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 && ws.Row > 0 {
			return int(ws.Col), int(ws.Row)
		}
	}
	return 80, 24
}

// pickDevSite chooses the site to run.
func pickDevSite(cfg *hcl.Config, name string) (*spec.Site, error) {
	var names []string
	for _, s := range cfg.Sites {
		if name == s.Name || name == "" && len(cfg.Sites) == 1 {
			return s, nil
		}
		names = append(names, s.Name)
	}
	switch {
	case len(names) == 0:
		return nil, errors.New("the configuration declares no site")
	case name == "":
		return nil, fmt.Errorf("the configuration declares %d sites (%s): choose one with -site NAME", len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("the configuration has no site %q; its sites: %s", name, strings.Join(names, ", "))
}

// devCommand runs a line typed into vigil dev.
func devCommand(s *devsite.Site, line string) (out string, quit bool) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", false
	}
	switch f[0] {
	case "quit", "exit", "q":
		return "", true
	case "help", "?":
		return "commands: stop SERVER, kill SERVER, start SERVER, quit (servers: " + strings.Join(s.Names(), ", ") + ")", false
	}
	if len(f) != 2 {
		return fmt.Sprintf("%q: type a command and a server, e.g. stop %s (or help)", line, s.Names()[0]), false
	}
	msg, err := s.Do(f[0], f[1])
	if err != nil {
		return "error: " + err.Error(), false
	}
	return msg, false
}

// devScreen is the screen of the running site without its state: the
// export line and how to use the site.
func devScreen(s *devsite.Site, a devArgs, cmd string) statusviews.DevScreen {
	servers := s.Names()
	other := servers[min(1, len(servers)-1)] // srv-2 in the quickstart, as in the README
	ctl := ""
	if a.control != defaultDevControl {
		ctl = " -control " + a.control
	}
	buildHint := ""
	if underGoRun() {
		buildHint = "bin/vigil: make build in this directory (it reuses this compile: seconds)"
	}
	return statusviews.DevScreen{
		Export: fmt.Sprintf("export VIGIL_ADDR=%s VIGIL_TOKEN=%s VIGIL_CACERT=%s", s.Addr(servers[0]), s.Token, s.CAFile),
		Hints: slices.DeleteFunc([]string{
			buildHint,
			fmt.Sprintf("In another terminal: %s status · %s plan|apply %s", cmd, cmd, a.path),
			fmt.Sprintf("Console: %s/ in a browser (any server's address serves it; its CA: %s); log in with the VIGIL_TOKEN above as its API token", s.Addr(servers[0]), s.CAFile),
			fmt.Sprintf("%s dev stop|kill|start%s %s · or type here: stop %s, help, quit", cmd, ctl, other, other),
			fmt.Sprintf("Data in %s · Ctrl-C stops everything", s.Dir),
		}, func(h string) bool { return h == "" }),
	}
}

// underGoRun reports whether this vigil is a temporary binary of `go run`.
func underGoRun() bool { return strings.Contains(os.Args[0], "go-build") }

// devCommandName is how the hints name vigil: under `go run` (a temporary
// binary, and exit codes hidden) the bin/vigil that make build gives, as
// the README's walkthrough uses it.
func devCommandName() string {
	if underGoRun() {
		return "bin/vigil"
	}
	return "vigil"
}

// liveTerminal reports whether w is a terminal that can be redrawn.
func liveTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && statusviews.Terminal(f)
}

// devFarewell says where the recordings are, or that they were removed.
func devFarewell(w io.Writer, s *devsite.Site, site *spec.Site, dir string, remove bool) {
	if remove {
		os.RemoveAll(dir)
		statusviews.DevFarewell(w, dir, nil)
		return
	}
	kept := [][2]string{}
	for _, srv := range site.Servers {
		if !s.Has(srv.Name) {
			continue
		}
		paths := []string{"recordings"}
		if len(srv.Storage) > 0 {
			paths = paths[:0]
			for _, st := range srv.Storage {
				paths = append(paths, st.Path)
			}
		}
		for _, p := range paths {
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, srv.Name, p)
			}
			kept = append(kept, [2]string{srv.Name, p})
		}
	}
	statusviews.DevFarewell(w, dir, kept)
}

// runDevControl is `vigil dev stop|kill|start SERVER`: it asks the running
// vigil dev to act on one of its servers.
func runDevControl(verb string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dev "+verb, stderr)
	control := fs.String("control", defaultDevControl, "the control `ADDR` of the running vigil dev")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil dev %s [-control ADDR] SERVER\n\nAsks the vigil dev running in another terminal to %s one of its servers.\nThe token comes from VIGIL_TOKEN and the site's CA from VIGIL_CACERT, as vigil dev printed them.\n\nFlags:\n", verb, verb)
		fs.PrintDefaults()
	}
	server, code, ok := parseOneArg(fs, args)
	if !ok {
		return code
	}
	token := api.TokenFromEnv()
	if token == "" {
		fmt.Fprintf(stderr, "Error: VIGIL_TOKEN is not set: run the export line that vigil dev printed first\n")
		return 1
	}
	msg, err := devsite.Control(context.Background(), *control, token, verb, server, trustedCA.Load())
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, msg)
	return 0
}
