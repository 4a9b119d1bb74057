package devsite

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/planner"
	"vigil/runtime/api"
)

// TestIdleUnderLoad is the false-alarm benchmark (make bench-idle): the
// quickstart site (3 servers, 12 cameras, keepalive 500 ms) runs idle in
// this process while two `yes > /dev/null` loops and a memory hog (a
// process that allocates and touches 1 GiB over and over, as stress --vm
// does) share the machine. Nothing fails, so every dead verdict, master
// change and gap event is a false alarm: the test fails on any. Opt-in
// (VIGIL_BENCH_IDLE=1; VIGIL_BENCH_IDLE_FOR sets the length, default 10m)
// because it is long and loads the machine on purpose.
func TestIdleUnderLoad(t *testing.T) {
	if os.Getenv("VIGIL_BENCH_IDLE") == "" {
		t.Skip("a benchmark: make bench-idle (VIGIL_BENCH_IDLE=1)")
	}
	length := 10 * time.Minute
	if v := os.Getenv("VIGIL_BENCH_IDLE_FOR"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("VIGIL_BENCH_IDLE_FOR: %v", err)
		}
		length = d
	}
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3 for the memory hog")
	}

	site, cfg := loadSite(t, "../../examples/quickstart", nil)
	s, err := Start(site, Options{Dir: t.TempDir(), Relocate: true, Version: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Apply(ctxFor(t, 60*time.Second), site, planner.Options{Sensitive: cfg.Sensitive}); err != nil {
		t.Fatal(err)
	}
	primaries := map[string][]string{}
	for _, c := range site.Cameras {
		primaries[c.Name] = []string{c.Server}
	}
	waitState(t, s, 60*time.Second, "every camera recorded by its primary", func(st *api.State) bool {
		return st.Master != "" && RecordedBy(st, primaries)
	})

	// Count the events of every agent from now on.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	counts := map[string]int{}
	var samples []string
	start := time.Now()
	var wg sync.WaitGroup
	for _, name := range s.Names() {
		events, err := s.Client(name).Events(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for ev := range events {
				if ev.Time.Before(start) {
					continue // the backlog
				}
				mu.Lock()
				counts[ev.Kind]++
				if alarm(ev.Kind) && len(samples) < 20 {
					samples = append(samples, name+": "+ev.Time.Format("15:04:05.000")+" "+ev.Kind+" "+ev.Server+" "+ev.Camera+" "+ev.Message)
				}
				mu.Unlock()
			}
		})
	}

	load := []*exec.Cmd{
		exec.Command("sh", "-c", "exec yes > /dev/null"),
		exec.Command("sh", "-c", "exec yes > /dev/null"),
		exec.Command(python, "-c", memoryHog),
	}
	for _, c := range load {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range load {
			c.Process.Kill()
			c.Wait()
		}
	}()
	t.Logf("idle for %v under load (2 yes loops, a 1 GiB memory hog); load average at start: %s", length, loadAverage())
	time.Sleep(length) // the point of the test: real idle time under load
	t.Logf("load average at the end: %s", loadAverage())
	cancel()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("events over %v on all servers: server.dead %d, server.suspect %d, master changes %d, gap.open %d, gap.closed %d, takeover.ready %d",
		length, counts["server.dead"], counts["server.suspect"], counts["master.changed"], counts["gap.open"], counts["gap.closed"], counts["takeover.ready"])
	if n := counts["server.dead"] + counts["master.changed"] + counts["gap.open"] + counts["gap.closed"]; n > 0 {
		t.Errorf("%d false alarms on an idle site; first ones:\n%s", n, strings.Join(samples, "\n"))
	}
}

// alarm tells whether an event of kind is a false alarm on an idle site.
func alarm(kind string) bool {
	switch kind {
	case "server.dead", "server.suspect", "master.changed", "gap.open", "gap.closed":
		return true
	}
	return false
}

// memoryHog allocates 1 GiB, touches every page, frees it, and again, as
// stress --vm 1 --vm-bytes 1G does.
const memoryHog = `
while True:
    b = bytearray(1 << 30)
    for i in range(0, len(b), 4096):
        b[i] = 1
    del b
`

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
