package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	statusviews "vigil/cmd/vigil/internal/views"
	"vigil/hcl"
	"vigil/planner"
	"vigil/runtime/api"
	"vigil/runtime/devsite"
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
	fs.StringVar(&a.dataDir, "data", "", "keep the servers' data and recordings in `DIR` (default: a new temporary directory)")
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
	cfg, diags := hcl.Load([]string{a.path}, hcl.LoadOptions{Vars: a.vars, VarFiles: a.varFiles})
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
	if temp {
		d, err := os.MkdirTemp("", "vigil-dev-")
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return 1
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	// The agents' log goes to a file next to their data: the terminal
	// belongs to the status table.
	logPath := filepath.Join(dir, "agents.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	s, err := devsite.Start(site, devsite.Options{Dir: dir, Version: version, Logger: slog.New(slog.NewTextHandler(logFile, nil))})
	if err != nil {
		logFile.Close()
		if temp {
			os.RemoveAll(dir)
		}
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	// Listened on once the site's own addresses are known to be free, so
	// that a second vigil dev names the site's ports first.
	ctl, err := net.Listen("tcp", a.control)
	if err != nil {
		s.Close()
		logFile.Close()
		if temp {
			os.RemoveAll(dir)
		}
		fmt.Fprintf(stderr, "Error: the control endpoint cannot listen on %s: %v\nIs another vigil dev running? (-control ADDR picks another address)\n", a.control, err)
		return 1
	}
	defer ctl.Close()
	defer func() {
		fmt.Fprintf(stdout, "\nStopping the agents and camsim...\n")
		s.Close()
		logFile.Close()
		devFarewell(stdout, s, site, dir, temp && !a.keep)
	}()

	remote := make(chan string, 8)
	notify := func(msg string) {
		select {
		case remote <- msg:
		default: // the screen shows the latest anyway
		}
	}
	ctlSrv := &http.Server{Handler: s.ControlHandler(notify), ReadHeaderTimeout: 5 * time.Second}
	go ctlSrv.Serve(ctl)
	defer ctlSrv.Close()

	cmd := devCommandName()
	fmt.Fprintf(stdout, "Starting site %s from %s:\n", site.Name, a.path)
	if s.Cams != nil {
		n := len(s.Cams.Paths())
		fmt.Fprintf(stdout, "  camsim     rtsp://%s/cam1 ... /cam%d (/cam%d and up are spare, for cameras you add)\n", s.CamsimAddr, n, n-devsite.SparePaths+1)
	}
	for i, u := range s.Unserved {
		if i == 10 {
			fmt.Fprintf(stdout, "  ... and %d more cameras that are not simulated\n", len(s.Unserved)-i)
			break
		}
		fmt.Fprintf(stdout, "  camera %s (%s) is not simulated: %s\n", u.Camera, u.URL, u.Reason)
	}
	for _, n := range s.Servers() {
		fmt.Fprintf(stdout, "  %-10s %s\n", n, s.Addr(n))
	}
	fmt.Fprintf(stdout, "  data       %s\n  agent log  %s\n\nApplying %s...\n", s.Dir, logPath, a.path)

	actx, acancel := context.WithTimeout(ctx, time.Minute)
	p, rev, err := s.Apply(actx, site, planner.Options{Sensitive: cfg.Sensitive})
	acancel()
	if err != nil {
		fmt.Fprintf(stderr, "Error: applying the configuration: %v\n", err)
		return 1
	}
	if p.HasChanges() {
		sum := p.Summary
		fmt.Fprintf(stdout, "Site %s is at revision %d: %d added, %d changed, %d destroyed.\n", site.Name, rev, sum.Add, sum.Change, sum.Destroy)
	} else {
		fmt.Fprintf(stdout, "Site %s is already at revision %d with this configuration.\n", site.Name, rev)
	}
	help := devHelp(s, a, cmd, dir)
	fmt.Fprintf(stdout, "\n%s\n", help)

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
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var lastLine, msg string
	var lastAt time.Time
	for {
		st, err := s.State(ctx)
		if live {
			var b bytes.Buffer
			fmt.Fprintf(&b, "%s\n", help)
			if msg != "" {
				fmt.Fprintf(&b, "\n> %s\n", msg)
			}
			fmt.Fprintln(&b)
			if err != nil {
				fmt.Fprintf(&b, "%v\n", err)
			} else {
				statusviews.Status(&b, st, statusviews.Options{Color: color})
			}
			frame := strings.ReplaceAll(strings.TrimRight(b.String(), "\n"), "\n", "\x1b[K\n")
			fmt.Fprintf(stdout, "\x1b[H%s\x1b[K\n\x1b[J", frame)
		} else {
			line := devSummary(st, err)
			if line != lastLine || time.Since(lastAt) > 30*time.Second {
				fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), line)
				lastLine, lastAt = line, time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return 0
		case l := <-lines:
			out, quit := devCommand(s, l)
			if quit {
				return 0
			}
			if out != "" {
				msg = out
				if !live {
					fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), out)
				}
			}
		case out := <-remote:
			msg = out
			if !live {
				fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), out)
			}
		case <-tick.C:
		}
	}
}

// pickDevSite chooses the site to run.
func pickDevSite(cfg *hcl.Config, name string) (*hcl.Site, error) {
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
		return "commands: stop SERVER, kill SERVER, start SERVER, quit (servers: " + strings.Join(s.Servers(), ", ") + ")", false
	}
	if len(f) != 2 {
		return fmt.Sprintf("%q: type a command and a server, e.g. stop %s (or help)", line, s.Servers()[0]), false
	}
	msg, err := s.Do(f[0], f[1])
	if err != nil {
		return "error: " + err.Error(), false
	}
	return msg, false
}

// devHelp is how to use the running site, shown above the status table.
func devHelp(s *devsite.Site, a devArgs, cmd, dir string) string {
	servers := s.Servers()
	other := servers[min(1, len(servers)-1)] // srv-2 in the quickstart, as in the README
	var b strings.Builder
	fmt.Fprintf(&b, "vigil dev: site %s from %s · data in %s\n\n", s.Name, a.path, dir)
	fmt.Fprintf(&b, "Console: open %s/ in a browser (any server's address serves it)\n\n", s.Addr(servers[0]))
	fmt.Fprintf(&b, "In another terminal, from this directory:\n")
	fmt.Fprintf(&b, "  export VIGIL_ADDR=%s VIGIL_TOKEN=%s\n", s.Addr(servers[0]), s.Token)
	ctl := ""
	if a.control != defaultDevControl {
		ctl = " -control " + a.control
	}
	rows := [][2]string{
		{cmd + " status", "the servers and cameras, as below"},
		{cmd + " plan " + a.path, "after editing it: what would change"},
		{cmd + " apply " + a.path, "make it so"},
		{cmd + " dev stop" + ctl + " " + other, "watch its cameras move (kill: as a crash; start: back)"},
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s   %s\n", width, r[0], r[1])
	}
	fmt.Fprintf(&b, "Or type here: stop %s, start %s, help, quit. Ctrl-C stops everything.", other, other)
	return b.String()
}

// devCommandName is how the user runs vigil: under `go run` the binary is a
// temporary file, so the hints say `go run ./cmd/vigil`.
func devCommandName() string {
	if strings.Contains(os.Args[0], "go-build") {
		return "go run ./cmd/vigil"
	}
	return "vigil"
}

// devSummary is one line of the site's state, for output that is not a
// terminal.
func devSummary(st *api.State, err error) string {
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "revision %d · master %s ·", st.Revision, orNone(st.Master))
	for _, s := range st.Servers {
		fmt.Fprintf(&b, " %s %s %d ·", s.Name, s.Health, s.Recording)
	}
	counts := map[string]int{}
	for _, c := range st.Cameras {
		counts[c.State]++
	}
	var parts []string
	for _, state := range []string{api.CameraRecording, api.CameraCovered, api.CameraFailing, api.CameraDark, api.CameraUncovered} {
		if n := counts[state]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, state))
		}
	}
	fmt.Fprintf(&b, " cameras: %s", strings.Join(parts, ", "))
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// liveTerminal reports whether w is a terminal that can be redrawn.
func liveTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && statusviews.Terminal(f)
}

// devFarewell says where the recordings are, or that they were removed.
func devFarewell(w io.Writer, s *devsite.Site, site *hcl.Site, dir string, remove bool) {
	if remove {
		os.RemoveAll(dir)
		fmt.Fprintf(w, "Stopped. The recordings were in a temporary directory, now removed (-keep or -data DIR keeps them).\n")
		return
	}
	fmt.Fprintf(w, "Stopped. The recordings are kept:\n")
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
			fmt.Fprintf(w, "  %-10s %s\n", srv.Name, p)
		}
	}
	fmt.Fprintf(w, "vigil dev -data %s continues this site; rm -rf %s removes it.\n", dir, dir)
}

// runDevControl is `vigil dev stop|kill|start SERVER`: it asks the running
// vigil dev to act on one of its servers.
func runDevControl(verb string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dev "+verb, stderr)
	control := fs.String("control", defaultDevControl, "the control `ADDR` of the running vigil dev")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: vigil dev %s [-control ADDR] SERVER\n\nAsks the vigil dev running in another terminal to %s one of its servers.\nThe token comes from VIGIL_TOKEN, as vigil dev printed it.\n\nFlags:\n", verb, verb)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	token := api.TokenFromEnv()
	if token == "" {
		fmt.Fprintf(stderr, "Error: VIGIL_TOKEN is not set: run the export line that vigil dev printed first\n")
		return 1
	}
	msg, err := devsite.Control(context.Background(), *control, token, verb, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, msg)
	return 0
}
