// Package systemd tells systemd how the vigil agent is doing, so that a
// Type=notify unit with WatchdogSec supervises it on the appliance.
//
// What the service manager hears (sd_notify(3)):
//   - READY=1 once the API answers /v1/health and the agent has joined its
//     site (a master is known). A site nobody applied a spec to yet has no
//     master to join (it waits for vigil apply), so there the API suffices.
//     A server whose peers are all unreachable must still record from its
//     last committed spec, so after JoinGrace it reports ready anyway, with
//     a STATUS saying no master is reachable.
//   - STATUS= a one-line summary, refreshed every few seconds:
//     "master of hq, 48 cameras recording".
//   - RELOADING=1 and READY=1 around a configuration reload (Reloading and
//     Ready, for the hot-reload code).
//   - STOPPING=1 as soon as shutdown starts (SIGTERM or SIGINT, or the agent
//     stopping on its own), before the recorders close their segments.
//   - WATCHDOG=1 at half of WatchdogSec, and only while the agent makes
//     progress: its reconcile loop — which consumes membership changes and
//     drives the recorders — has completed a pass since the last ping (the
//     agent's Progress), and its API answers /v1/health. A wedged loop or
//     API stops the pings and systemd restarts the agent.
//
// Without NOTIFY_SOCKET every call is silent and costs nothing, so the same
// binary runs under systemd, in a container or in a terminal.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"vigil/runtime/api"
)

// Agent is what the supervisor needs from a running agent; *agent.Agent
// satisfies it.
type Agent interface {
	// Client is a client of the agent's own API with a token (here none).
	Client(token string) *api.Client
	// State is the agent's view of its site.
	State() api.State
	// Progress is the number of passes the reconcile loop completed and
	// when the last one ended: the watchdog's heartbeat.
	Progress() (passes uint64, last time.Time)
	// Done is closed when the agent has stopped.
	Done() <-chan struct{}
}

// Options tune Run; zero values take the defaults.
type Options struct {
	// Logger receives warnings (a failed check, an unreachable socket).
	Logger *slog.Logger
	// JoinGrace is how long READY=1 waits for a master (default 30s).
	JoinGrace time.Duration
	// StatusEvery is the STATUS refresh interval (default 5s).
	StatusEvery time.Duration
	// Watchdog overrides WATCHDOG_USEC (tests); 0 reads the environment.
	Watchdog time.Duration
}

// Supervise starts reporting to systemd in the background and returns the
// function that stops it; call it once the agent is closed:
//
//	defer systemd.Supervise(a, logger)()
//
// It sends STOPPING=1 itself when SIGTERM or SIGINT arrives, so the
// notification precedes the agent's shutdown.
func Supervise(a Agent, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, a, Options{Logger: log})
	}()
	return func() {
		cancel()
		<-done
	}
}

// Run reports to systemd until ctx ends or the agent stops. It returns at
// once, having sent nothing, when NOTIFY_SOCKET is unset.
func Run(ctx context.Context, a Agent, o Options) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.JoinGrace <= 0 {
		o.JoinGrace = 30 * time.Second
	}
	if o.StatusEvery <= 0 {
		o.StatusEvery = 5 * time.Second
	}
	wd := o.Watchdog
	if wd == 0 {
		d, err := daemon.SdWatchdogEnabled(false)
		if err != nil {
			o.Logger.Warn("systemd watchdog disabled", "err", err)
		}
		wd = d
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)

	s := &supervisor{a: a, log: o.Logger, client: a.Client("")}
	started := time.Now()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	var pingC <-chan time.Time
	if wd > 0 {
		// Half the interval, as sd_watchdog_enabled(3) recommends; the
		// reconcile loop passes at least every 500ms, so an interval under
		// 2s would miss pings on a healthy agent.
		if wd < 2*time.Second {
			o.Logger.Warn("WatchdogSec below 2s is too short for the agent's reconcile loop; using 2s", "watchdog", wd)
			wd = 2 * time.Second
		}
		t := time.NewTicker(wd / 2)
		defer t.Stop()
		pingC = t.C
		s.lastPasses, _ = a.Progress()
	}
	lastStatus := time.Time{}
	ready := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.Done():
			s.notify("STOPPING=1")
			return
		case <-sig:
			s.notify("STOPPING=1\nSTATUS=stopping: closing segments")
			return
		case <-pingC:
			if err := s.alive(wd / 4); err != nil {
				s.log.Warn("not pinging the systemd watchdog", "err", err)
				continue
			}
			s.notify("WATCHDOG=1")
		case now := <-poll.C:
			if !ready {
				st, healthy := s.a.State(), s.healthy(2*time.Second) == nil
				switch {
				case healthy && (st.Master != "" || st.Revision == 0):
					ready = true
					s.notify("READY=1\nSTATUS=" + Summary(st))
				case healthy && now.Sub(started) >= o.JoinGrace:
					ready = true
					s.notify("READY=1\nSTATUS=" + Summary(st) + "; no master reachable yet")
				}
				if ready {
					lastStatus = now
				}
				continue
			}
			if now.Sub(lastStatus) >= o.StatusEvery {
				lastStatus = now
				s.notify("STATUS=" + Summary(s.a.State()))
			}
		}
	}
}

// Reloading tells systemd a configuration reload started; call Ready when it
// is over, whatever its outcome.
func Reloading() {
	notify(slog.Default(), "RELOADING=1\n"+daemon.SdNotifyMonotonicUsec())
}

// Ready tells systemd the agent is ready again after a reload, with a status
// line (Summary of the new state, or why the change was refused).
func Ready(status string) {
	notify(slog.Default(), "READY=1\nSTATUS="+oneLine(status))
}

// Summary is the one-line STATUS of an agent: its role, site and how many
// cameras it records, e.g. "master of hq, 48 cameras recording".
func Summary(st api.State) string {
	role := "server"
	switch {
	case st.Master == "":
		role = "server (no master)"
	case st.Master == st.Answering:
		role = "master"
	}
	if st.Revision == 0 {
		return fmt.Sprintf("%s of %s, waiting for vigil apply", role, st.Site)
	}
	n := 0
	for _, s := range st.Servers {
		if s.Name == st.Answering {
			n = s.Recording
		}
	}
	cams := "cameras"
	if n == 1 {
		cams = "camera"
	}
	line := fmt.Sprintf("%s of %s, %d %s recording", role, st.Site, n, cams)
	if st.ConfigError != "" {
		line += "; config refused: " + st.ConfigError
	}
	return oneLine(line)
}

type supervisor struct {
	a          Agent
	log        *slog.Logger
	client     *api.Client
	lastPasses uint64
}

func (s *supervisor) notify(state string) { notify(s.log, state) }

// notify sends state, logging a failure (a socket that went away) without
// stopping the agent.
func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("cannot notify systemd", "err", err)
	}
}

// alive is the watchdog's check: the reconcile loop has passed since the last
// successful check and the API answers. The API probe is bounded by timeout
// so that a wedged agent cannot wedge the supervisor too (Progress reads two
// counters and never blocks).
func (s *supervisor) alive(timeout time.Duration) error {
	p, last := s.a.Progress()
	if p == s.lastPasses {
		if last.IsZero() {
			return errors.New("the reconcile loop has not completed a pass yet")
		}
		return fmt.Errorf("the reconcile loop made no pass since the last ping (%d passes, the last one %v ago)", p, time.Since(last).Round(time.Millisecond))
	}
	if err := s.healthy(timeout); err != nil {
		return err
	}
	s.lastPasses = p
	return nil
}

func (s *supervisor) healthy(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := s.client.Health(ctx); err != nil {
		return fmt.Errorf("API health check: %w", err)
	}
	return nil
}

var oneLineReplacer = strings.NewReplacer("\n", " ", "\r", " ")

// oneLine keeps a STATUS value on one line: a newline would start a new
// notification field.
func oneLine(s string) string { return oneLineReplacer.Replace(s) }
