package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"vigil/appliance/systemd"
	"vigil/cmd/vigil/internal/views"
	"vigil/hcl"
	"vigil/runtime/agent"
)

func init() {
	register("agent", "Run the agent daemon of one server", runAgent)
}

func runAgent(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("agent", stderr)
	config := fs.String("config", "", "agent configuration file (HCL)")
	manageNetwork := fs.Bool("manage-network", false, "apply this server's network block of the site spec and hold the site's virtual_ip while master (netlink; needs CAP_NET_ADMIN and CAP_NET_RAW)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: vigil agent -config FILE [-manage-network]

Runs this server's agent: joins the site, records the cameras the assignment
gives this server and serves the HTTP API. A fresh site has no spec: the agents
wait for 'vigil apply'.

The configuration file names the server and how it reaches its peers:

  server        = "rec-1"               # this server's name in the site spec
  site          = "hq"
  data_dir      = "/var/lib/vigil"      # raft state; recordings by default
  bind          = "10.0.0.11"           # default 0.0.0.0 (then set advertise)
  port          = 53540                 # API; membership +1, raft +2
  join          = ["10.0.0.12", "10.0.0.13"]
  token_file    = "/etc/vigil/token"    # or token = "..."
  site_key_file = "/etc/vigil/site.key" # or site_key = "..." (32 bytes, base64)
  config_dir    = "/etc/vigil/site"     # optional: watched *.hcl, applied on change
  storage_roots = ["/srv", "/mnt"]      # optional: where absolute storage paths may lie
  log_level     = "info"
  config_import_keys = ["HEX", "site"]  # optional: import only sticks signed so (vigil config sign)

With config_dir, saved changes are validated by every server and planned and
applied by the master; SIGHUP reloads the directory even when unchanged.

Flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *config == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	cfg, ok := loadAgentConfig(*config, stderr)
	if !ok {
		return 1
	}
	cfg.Version = version
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	a, err := agent.Start(*cfg)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	defer systemd.Supervise(a, cfg.Logger)() // sd_notify READY/STATUS/STOPPING/WATCHDOG; silent without NOTIFY_SOCKET
	// Clock offset, hot reload and the network (agent_ext.go).
	ext, err := startExtensions(a, cfg, *manageNetwork)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		a.Close()
		return 1
	}
	defer ext.stop()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	s := <-sig
	for ; s == syscall.SIGHUP; s = <-sig {
		ext.reload()
	}
	cfg.Logger.Info("stopping: leaving the site", "signal", s.String())
	if err := a.Close(); err != nil {
		cfg.Logger.Warn("leaving the site", "err", err)
	}
	return 0
}

// loadAgentConfig reads an agent file, writing its diagnostics to stderr;
// ok is false when it has errors.
func loadAgentConfig(path string, stderr io.Writer) (*agent.Config, bool) {
	cfg, files, diags := agent.LoadConfig(path)
	if len(diags) > 0 {
		color := false
		if f, ok := stderr.(*os.File); ok {
			color = views.ColorFor(f)
		}
		hcl.WriteDiagnostics(stderr, diags, files, color, nil)
	}
	return cfg, !diags.HasErrors()
}
