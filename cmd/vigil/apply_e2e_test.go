package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"vigil/runtime/agent/agenttest"
	"vigil/runtime/api"
)

// siteConfig writes a configuration for the in-process site with the given
// cameras (name -> primary server) and returns its directory. The cameras
// point at a closed port: the planner and the apply do not need them.
func siteConfig(t *testing.T, s *agenttest.Site, cameras ...[2]string) string {
	return siteConfigOf(t, s, s.Names(), cameras...)
}

// siteConfigOf is siteConfig with only the named servers; a camera's backup
// is the first of them that is not its primary.
func siteConfigOf(t *testing.T, s *agenttest.Site, servers []string, cameras ...[2]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "site %q {\n  keepalive = \"1s\"\n", s.Name)
	for _, n := range servers {
		srv := s.Server(n)
		fmt.Fprintf(&b, "  server %q {\n    address = %q\n    port    = %d\n    storage \"main\" {\n      path = \"recordings\"\n    }\n  }\n", n, srv.IP, srv.Port)
	}
	for _, c := range cameras {
		backup := servers[0]
		if c[1] == backup {
			backup = servers[1]
		}
		fmt.Fprintf(&b, "  camera %q {\n    url    = \"rtsp://127.0.0.1:9/%s\"\n    server = %q\n    backup = [%q]\n  }\n", c[0], c[0], c[1], backup)
	}
	b.WriteString("}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestApplyEndToEnd runs plan and apply against a real in-process site of
// three agents: apply, then a plan that says No changes, then two applies
// planned against the same revision, of which exactly one wins.
func TestApplyEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-agent site")
	}
	s, err := agenttest.New(agenttest.Options{Servers: []string{"rec-1", "rec-2", "rec-3"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Setenv(api.EnvToken, s.Token)
	addr := s.Server("rec-2").Addr()

	first := siteConfig(t, s, [2]string{"door", "rec-1"}, [2]string{"yard", "rec-2"})
	code, out, errs := vigil(t, "apply", "-auto-approve", "-address", addr, first)
	if code != 0 || !strings.Contains(out, "Apply complete! Site test is at revision 1") {
		t.Fatalf("first apply: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vigil(t, "plan", "-detailed-exitcode", "-address", addr, first)
	if code != 0 || !strings.Contains(out, "No changes. The site matches the configuration.") {
		t.Fatalf("plan after apply: exit %d\n%s%s", code, out, errs)
	}

	// Two operators plan different changes against revision 1.
	a := siteConfig(t, s, [2]string{"door", "rec-1"}, [2]string{"yard", "rec-2"}, [2]string{"gate", "rec-3"})
	b := siteConfig(t, s, [2]string{"door", "rec-3"}, [2]string{"yard", "rec-2"})
	planA, planB := filepath.Join(t.TempDir(), "a.plan"), filepath.Join(t.TempDir(), "b.plan")
	for _, p := range [][2]string{{a, planA}, {b, planB}} {
		if code, out, errs := vigil(t, "plan", "-address", addr, "-out", p[1], p[0]); code != 0 {
			t.Fatalf("plan %s: exit %d\n%s%s", p[0], code, out, errs)
		}
	}
	var wg sync.WaitGroup
	codes, stderrs := make([]int, 2), make([]string, 2)
	for i, p := range []string{planA, planB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, stderrs[i] = vigil(t, "apply", "-address", addr, p)
		}()
	}
	wg.Wait()
	won, lost := 0, 0
	for i := range codes {
		switch {
		case codes[i] == 0:
			won++
		case strings.Contains(stderrs[i], "the site changed since this plan was made"):
			lost++
		default:
			t.Errorf("apply %d: exit %d: %s", i, codes[i], stderrs[i])
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("%d applies won and %d were told the site changed; want exactly one of each", won, lost)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.Client("rec-1").State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision != 2 {
		t.Errorf("revision %d after one winning apply, want 2", st.Revision)
	}

	// Remove the master, talking to another server: the master role moves
	// first, the cameras move off it, and the site matches afterwards.
	master := st.Master
	var rest []string
	for _, n := range s.Names() {
		if n != master {
			rest = append(rest, n)
		}
	}
	via := s.Server(rest[0]).Addr()
	without := siteConfigOf(t, s, rest, [2]string{"door", rest[0]}, [2]string{"yard", rest[1]})
	code, out, errs = vigil(t, "apply", "-auto-approve", "-address", via, without)
	if code != 0 || !strings.Contains(out, "transfer master from "+master+" to "+rest[0]) {
		t.Fatalf("removing the master %s: exit %d\n%s%s", master, code, out, errs)
	}
	code, out, errs = vigil(t, "plan", "-detailed-exitcode", "-address", via, without)
	if code != 0 {
		t.Fatalf("plan after removing the master: exit %d\n%s%s", code, out, errs)
	}
}

// largeConfig writes a configuration of the in-process site with n cameras
// spread over its servers, each with the next two servers as backups. The
// variable "fast" makes camera 1 fast: a one-camera change.
func largeConfig(b *testing.B, s *agenttest.Site, cameraAddr string, n int) string {
	b.Helper()
	var names, addrs, ports []string
	for _, name := range s.Names() {
		srv := s.Server(name)
		names = append(names, fmt.Sprintf("%q", name))
		addrs = append(addrs, fmt.Sprintf("%q", srv.IP))
		ports = append(ports, fmt.Sprint(srv.Port))
	}
	cfg := fmt.Sprintf(`variable "fast" {
  type    = bool
  default = false
}

locals {
  servers   = [%s]
  addresses = [%s]
  ports     = [%s]
  n         = length(local.servers)
}

site %q {
  dynamic "server" {
    for_each = local.servers
    labels   = [server.value]
    content {
      address = local.addresses[server.key]
      port    = local.ports[server.key]
      storage "main" {
        path = "recordings"
      }
    }
  }

  dynamic "camera" {
    for_each = flatten([for a in range(%d) : [for b in range(100) : a * 100 + b]])
    labels   = [format("cam-%%04d", camera.value)]
    content {
      url        = "rtsp://%s/${camera.value}"
      server     = local.servers[camera.value %% local.n]
      backup     = [local.servers[(camera.value + 1) %% local.n], local.servers[(camera.value + 2) %% local.n]]
      redundancy = camera.value == 1 && var.fast ? "fast" : "normal"
    }
  }
}
`, strings.Join(names, ", "), strings.Join(addrs, ", "), strings.Join(ports, ", "), s.Name, n/100, cameraAddr)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// tarpit accepts connections and never answers: cameras that cost their
// recorders a timeout instead of a reconnect storm.
func tarpit(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	b.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go io.Copy(io.Discard, c)
		}
	}()
	return l.Addr().String()
}

// BenchmarkApply runs `vigil apply -auto-approve` against an in-process site
// of 10 agents: 2,500 cameras onto a site that has none, and a one-camera
// change of that site. The cameras never answer. Target: under 2 s.
//
// Ten agents recording 2,500 cameras in one process need the machine to
// themselves, so the benchmark runs only with VIGIL_BENCH_APPLY=1.
func BenchmarkApply(b *testing.B) {
	if os.Getenv("VIGIL_BENCH_APPLY") == "" {
		b.Skip("set VIGIL_BENCH_APPLY=1 to run ten agents with 2,500 cameras in this process")
	}
	servers := make([]string, 10)
	for i := range servers {
		servers[i] = fmt.Sprintf("rec-%d", i+1)
	}
	s, err := agenttest.New(agenttest.Options{Name: "large", Servers: servers, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Setenv(api.EnvToken, s.Token)
	addr := s.Server("rec-1").Addr()
	cams := tarpit(b)
	empty, large := largeConfig(b, s, cams, 0), largeConfig(b, s, cams, 2500)
	apply := func(b *testing.B, args ...string) {
		code, out, errs := vigil(b, append([]string{"apply", "-auto-approve", "-address", addr}, args...)...)
		if code != 0 {
			b.Fatalf("apply %v: exit %d\n%s%s", args, code, tail(out), errs)
		}
	}

	// settle applies a configuration untimed and waits for the site to
	// have a master again: growing the raft configuration takes a moment.
	settle := func(b *testing.B, args ...string) {
		b.StopTimer()
		defer b.StartTimer()
		apply(b, args...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := s.Wait(ctx, "rec-1", func(st *api.State) bool { return st.Master != "" }); err != nil {
			b.Fatalf("no master after the apply: %v", err)
		}
	}

	b.Run("empty-site", func(b *testing.B) {
		for b.Loop() {
			settle(b, empty)
			apply(b, large)
		}
	})
	b.Run("one-camera-change", func(b *testing.B) {
		settle(b, large)
		fast := false
		for b.Loop() {
			fast = !fast
			apply(b, "-var", fmt.Sprintf("fast=%v", fast), large)
		}
	})
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
