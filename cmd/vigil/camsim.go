package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"vigil/dev/camsim"
)

func init() {
	register("camsim", "Serve simulated RTSP cameras, with fault injection", runCamsim)
}

func runCamsim(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("camsim", stderr)
	var opts camsim.Options
	fs.StringVar(&opts.Listen, "listen", "127.0.0.1:8554", "RTSP listen address (port 0 picks a free port)")
	fs.IntVar(&opts.Paths, "paths", 1, "number of cameras, served as /cam1 ... /camN")
	fs.StringVar(&opts.Codec, "codec", "h264", "video codec: h264 or h265")
	fs.BoolVar(&opts.Audio, "audio", false, "add an AAC track (48 kHz mono)")
	fs.StringVar(&opts.Profile, "profile", "small", "clip: small (320x240, ~250 kbit/s), 1080p (~3 Mbit/s, 2 s GOP) or 1080p-gop1 (the same, 1 s GOP, H.264 only)")
	fs.StringVar(&opts.Username, "user", "", "require this user name (basic or digest auth)")
	fs.StringVar(&opts.Password, "pass", "", "password for -user")
	fs.BoolVar(&opts.UDP, "udp", false, "also offer the UDP transport (TCP always works)")
	control := fs.String("control", "", "serve the HTTP fault-injection endpoint on this address")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: vigil camsim [flags]

Serves simulated IP cameras over RTSP until SIGINT or SIGTERM. Each path is a
live source at 25 fps looping a synthetic clip; timestamps stay continuous.

With -control ADDR, faults can be injected from other processes:
  curl -X POST 'http://ADDR/drop?path=cam1'            close cam1's sessions
  curl -X POST 'http://ADDR/stall?path=cam1&for=10s'   send no frames for 10 s
  curl -X POST 'http://ADDR/refuse?for=5s'             refuse connections for 5 s
  curl 'http://ADDR/stats'                             frames and readers per path (JSON)

Flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "vigil camsim: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	opts.Codec = strings.ToLower(opts.Codec)

	s, err := camsim.Start(opts)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	defer s.Close()

	var ctl *http.Server
	if *control != "" {
		ln, err := net.Listen("tcp", *control)
		if err != nil {
			fmt.Fprintf(stderr, "Error: control endpoint: %v\n", err)
			return 1
		}
		ctl = &http.Server{Handler: camsim.ControlHandler(s), ReadHeaderTimeout: 10 * time.Second}
		go ctl.Serve(ln)
		defer ctl.Close()
		fmt.Fprintf(stdout, "control: http://%s\n", ln.Addr())
	}

	auth := ""
	if opts.Username != "" {
		auth = fmt.Sprintf(" (user %q)", opts.Username)
	}
	fmt.Fprintf(stdout, "serving %d %s %s camera(s) on %s%s:\n", opts.Paths, opts.Profile, opts.Codec, s.Addr(), auth)
	for i := 1; i <= opts.Paths; i++ {
		fmt.Fprintln(stdout, s.URL(i))
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	return 0
}
