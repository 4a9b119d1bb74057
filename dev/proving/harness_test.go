package proving

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"vigil/dev/camsim"
	"vigil/dev/devsite"
	"vigil/dev/proving/measure"
	"vigil/dev/proving/netns"
	"vigil/hcl/spec"
	"vigil/planner/apply"
	"vigil/runtime/api"
	"vigil/runtime/siteca"
)

// Prefix starts the name of every namespace this package creates; the
// process id follows, so that leftovers of a dead run can be told apart from
// a concurrent run.
const Prefix = "vgp"

// Options describe a site to build.
type Options struct {
	// Servers is the number of recording servers (s1 ... sN).
	Servers int
	// Cameras is the number of cameras (cam1 ... camN), spread round-robin
	// over the servers; camera i's primary is s((i-1)%N+1) and its backups
	// the other servers in order after it.
	Cameras int
	// Profile is camsim's clip: "small" (default), "1080p" or "1080p-gop1".
	Profile string
	// Keepalive is the site's keepalive (default 1s).
	Keepalive time.Duration
	// Redundancy of every camera (default normal).
	Redundancy spec.Redundancy
	// Locked reports whether camera i is locked to its server.
	Locked func(i int) bool
	// MaxConcurrentFailovers is the site option (0: no limit).
	MaxConcurrentFailovers int
	// Disk gives a server a tmpfs of this many bytes as its storage (the
	// disk-full scenario); other servers record under their data directory.
	Disk map[string]int64
	// SegmentDuration of every camera (default 4s).
	SegmentDuration time.Duration
}

// Site is a running multi-host site.
type Site struct {
	T       testing.TB
	Opts    Options
	Lab     *netns.Lab
	Cams    *netns.Host
	CamIP   string
	Ctl     *netns.Host
	Servers []*Server
	Token   string
	Dir     string

	camsim *exec.Cmd
	key    string
	http   *http.Client // dials from the ctl namespace
}

// Server is one server: its namespace, files and agent process.
type Server struct {
	Name    string
	Host    *netns.Host
	IP      string      // on the site network
	SiteNet *netns.Link // Cut it to partition the server
	CamNet  *netns.Link // Slow it to starve the server's cameras
	Dir     string      // data directory
	Storage string      // recordings
	Log     string      // the agent's stderr
	mount   bool

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Period is camsim's frame interval (25 fps).
const Period = 40 * time.Millisecond

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string

	liveMu sync.Mutex
	live   = map[*Site]bool{}
)

// Skip skips t with one line when namespaces are not usable here.
func Skip(t testing.TB) {
	t.Helper()
	if err := netns.Available(); err != nil {
		t.Skip("multi-host tests need network namespaces: " + err.Error())
	}
}

// binary returns the vigil binary the agents run: $VIGIL_BIN when set (make
// passes bin/vigil), otherwise one built once per test process into a
// temporary directory.
func binary() (string, error) {
	binOnce.Do(func() {
		if p := os.Getenv("VIGIL_BIN"); p != "" {
			binPath, binErr = filepath.Abs(p)
			return
		}
		binDir, binErr = os.MkdirTemp("", "vigil-proving-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "vigil")
		cmd := exec.Command("go", "build", "-o", binPath, "vigil/cmd/vigil")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build vigil: %v\n%s", err, out)
		}
	})
	return binPath, binErr
}

// subnets are this process's /24s: site network and camera network.
func subnets() (string, string) {
	x := os.Getpid()%250 + 1
	return fmt.Sprintf("10.231.%d", x), fmt.Sprintf("10.232.%d", x)
}

// New builds the lab, starts camsim and the agents, applies the spec and
// waits until every camera is recorded. Everything is torn down by
// t.Cleanup, also when the test fails.
func New(t testing.TB, opts Options) *Site {
	t.Helper()
	Skip(t)
	if opts.Servers < 1 || opts.Cameras < 1 {
		t.Fatalf("proving: need servers and cameras, got %d and %d", opts.Servers, opts.Cameras)
	}
	if opts.Profile == "" {
		opts.Profile = "small"
	}
	if opts.Keepalive == 0 {
		opts.Keepalive = time.Second
	}
	if opts.Redundancy == "" {
		opts.Redundancy = spec.RedundancyNormal
	}
	if opts.SegmentDuration == 0 {
		opts.SegmentDuration = 4 * time.Second
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("%s%d", Prefix, os.Getpid())
	lab, err := netns.New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	s := &Site{T: t, Opts: opts, Lab: lab, Dir: t.TempDir()}
	liveMu.Lock()
	live[s] = true
	liveMu.Unlock()
	t.Cleanup(s.Close)

	tok := make([]byte, 18)
	rand.Read(tok)
	s.Token = base64.RawURLEncoding.EncodeToString(tok)
	key := make([]byte, 32)
	rand.Read(key)
	s.key = base64.StdEncoding.EncodeToString(key)
	ca, err := siteca.New("proving", key)
	if err != nil {
		t.Fatal(err)
	}

	siteNet, camNet := subnets()
	for _, b := range []string{"site", "cams"} {
		if err := lab.AddBridge(b); err != nil {
			t.Fatal(err)
		}
	}
	if s.Cams, err = lab.AddHost("cams"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Cams.Attach("cams", camNet+".200/24"); err != nil {
		t.Fatal(err)
	}
	s.CamIP = camNet + ".200"
	if s.Ctl, err = lab.AddHost("ctl"); err != nil {
		t.Fatal(err)
	}
	for _, a := range [][2]string{{"site", siteNet + ".250/24"}, {"cams", camNet + ".250/24"}} {
		if _, err := s.Ctl.Attach(a[0], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	// The agents' HTTPS is verified with the site's CA, from the site key.
	s.http = &http.Client{Transport: &http.Transport{DialContext: s.Ctl.Dial, TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	for i := 1; i <= opts.Servers; i++ {
		name := "s" + strconv.Itoa(i)
		h, err := lab.AddHost(name)
		if err != nil {
			t.Fatal(err)
		}
		srv := &Server{Name: name, Host: h, Dir: filepath.Join(s.Dir, name), IP: fmt.Sprintf("%s.%d", siteNet, i)}
		if srv.SiteNet, err = h.Attach("site", srv.IP+"/24"); err != nil {
			t.Fatal(err)
		}
		if srv.CamNet, err = h.Attach("cams", fmt.Sprintf("%s.%d/24", camNet, i)); err != nil {
			t.Fatal(err)
		}
		srv.Storage = filepath.Join(srv.Dir, "recordings")
		srv.Log = filepath.Join(s.Dir, name+".log")
		if err := os.MkdirAll(srv.Storage, 0o755); err != nil {
			t.Fatal(err)
		}
		if size := opts.Disk[name]; size > 0 {
			if err := syscall.Mount("tmpfs", srv.Storage, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
				t.Fatalf("mount a %d-byte tmpfs for %s: %v", size, name, err)
			}
			srv.mount = true
		}
		s.Servers = append(s.Servers, srv)
	}

	s.camsim = s.Cams.Command(bin, "camsim", "-listen", s.CamIP+":8554", "-paths", strconv.Itoa(opts.Cameras),
		"-profile", opts.Profile, "-control", s.CamIP+":8080")
	if err := startLogged(s.camsim, filepath.Join(s.Dir, "camsim.log")); err != nil {
		t.Fatal(err)
	}
	for _, srv := range s.Servers {
		if err := s.writeConfig(srv); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(srv.Name); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Bootstrap on s1 once it sees every server, so that the first raft
	// configuration holds them all.
	if _, err := s.Wait(ctx, "s1", func(st *api.State) bool {
		for _, srv := range s.Servers {
			if !s.Running(srv.Name) {
				t.Fatalf("agent %s exited:\n%s", srv.Name, s.Logs())
			}
		}
		alive := 0
		for _, ss := range st.Servers {
			if ss.Health == api.HealthAlive {
				alive++
			}
		}
		return alive == opts.Servers
	}); err != nil {
		t.Fatalf("servers did not see each other: %v\n%s", err, s.Logs())
	}
	if err := s.Apply(ctx, s.Spec()); err != nil {
		t.Fatalf("first apply: %v\n%s", err, s.Logs())
	}
	if _, err := s.WaitRecording(ctx, s.Servers[0].Name, s.Expected(nil)); err != nil {
		t.Fatalf("cameras not recorded after the first apply: %v\n%s", err, s.Logs())
	}
	return s
}

// startLogged starts cmd with its output appended to the file log (a
// restarted agent keeps its earlier lines).
func startLogged(cmd *exec.Cmd, log string) error {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = f, f
	// Own process group: a Ctrl-C on the terminal reaches the test process,
	// whose handler stops these processes in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	f.Close()
	return err
}

func (s *Site) writeConfig(srv *Server) error {
	var join []string
	for _, o := range s.Servers {
		if o != srv {
			join = append(join, strconv.Quote(o.IP))
		}
	}
	cfg := fmt.Sprintf(`server   = %q
site     = "proving"
data_dir = %q
bind     = %q
join     = [%s]
token    = %q
site_key = %q
log_level = "info"
`, srv.Name, srv.Dir, srv.IP, strings.Join(join, ", "), s.Token, s.key)
	return os.WriteFile(filepath.Join(s.Dir, srv.Name+".hcl"), []byte(cfg), 0o600)
}

// Server returns the named server.
func (s *Site) Server(name string) *Server {
	for _, srv := range s.Servers {
		if srv.Name == name {
			return srv
		}
	}
	s.T.Fatalf("proving: no server %q", name)
	return nil
}

// Start starts a server's agent process (again, after Kill).
func (s *Site) Start(name string) error {
	srv := s.Server(name)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.cmd != nil {
		return nil
	}
	bin, err := binary()
	if err != nil {
		return err
	}
	cmd := srv.Host.Command(bin, "agent", "-config", filepath.Join(s.Dir, name+".hcl"))
	if err := startLogged(cmd, srv.Log); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	srv.cmd = cmd
	return nil
}

// Kill kills a server's agent with SIGKILL (kill -9) and reaps it.
func (s *Site) Kill(name string) {
	srv := s.Server(name)
	srv.mu.Lock()
	cmd := srv.cmd
	srv.cmd = nil
	srv.mu.Unlock()
	if cmd == nil {
		return
	}
	// ip netns exec execs the agent in place, so the PID is the agent's.
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// Stop stops a server's agent with SIGTERM, as systemctl stop does (it
// hands its cameras over, then leaves the site), and waits for it to exit;
// after timeout it is killed.
func (s *Site) Stop(name string, timeout time.Duration) error {
	srv := s.Server(name)
	srv.mu.Lock()
	cmd := srv.cmd
	srv.cmd = nil
	srv.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not stop within %v of SIGTERM: killed", name, timeout)
	}
}

// Running reports whether the server's agent process is still alive (it
// has not exited on its own).
func (s *Site) Running(name string) bool {
	srv := s.Server(name)
	srv.mu.Lock()
	cmd := srv.cmd
	srv.mu.Unlock()
	return cmd != nil && cmd.Process.Signal(syscall.Signal(0)) == nil
}

// Spec is the site spec of the options.
func (s *Site) Spec() spec.Site {
	o := s.Opts
	site := spec.Site{Name: "proving", Keepalive: o.Keepalive, Failback: true, TimeZone: "UTC",
		MaxConcurrentFailovers: o.MaxConcurrentFailovers}
	for _, srv := range s.Servers {
		st := &spec.Storage{Name: "main", Path: srv.Storage}
		site.Servers = append(site.Servers, &spec.Server{Name: srv.Name, Address: srv.IP, Port: spec.DefaultAPIPort,
			Kind: spec.KindRecording, Storage: []*spec.Storage{st}})
	}
	n := len(s.Servers)
	for i := 1; i <= o.Cameras; i++ {
		p := (i - 1) % n
		var backup []string
		for k := 1; k < n; k++ {
			backup = append(backup, s.Servers[(p+k)%n].Name)
		}
		site.Cameras = append(site.Cameras, &spec.Camera{
			Name: "cam" + strconv.Itoa(i), URL: fmt.Sprintf("rtsp://%s:8554/cam%d", s.CamIP, i),
			Server: s.Servers[p].Name, Backup: backup, Locked: o.Locked != nil && o.Locked(i),
			Redundancy: o.Redundancy, Transport: "tcp", SegmentDuration: o.SegmentDuration,
			StallTimeout: 3 * time.Second, Balance: false,
		})
	}
	return site
}

// Expected returns, for every camera, the servers that should record it
// when the servers in down are down and everything else is up (normal and
// fast: the primary or the first live backup; constant: that plus the
// next live backup, except for locked cameras, which get no copy; locked
// cameras of a down server: nobody).
func (s *Site) Expected(down map[string]bool) map[string][]string {
	want := map[string][]string{}
	for _, c := range s.Spec().Cameras {
		var live []string
		for _, name := range append([]string{c.Server}, c.Backup...) {
			if !down[name] {
				live = append(live, name)
			}
		}
		switch {
		case c.Locked && down[c.Server]:
			want[c.Name] = nil
		case len(live) == 0:
			want[c.Name] = nil
		case c.Redundancy == spec.RedundancyConstant && !c.Locked && len(live) > 1:
			want[c.Name] = live[:2]
		default:
			want[c.Name] = live[:1]
		}
	}
	return want
}

// Client is an API client for a server (its calls leave from the ctl
// namespace).
func (s *Site) Client(name string) *api.Client {
	return api.NewClientHTTP("https://"+net.JoinHostPort(s.Server(name).IP, strconv.Itoa(spec.DefaultAPIPort)), s.Token, s.http)
}

// Apply commits spec through the first running server that answers, with
// the apply protocol (package planner/apply) as devsite.Site.CommitVia
// does, trying the servers again until ctx ends while none answers.
func (s *Site) Apply(ctx context.Context, spec spec.Site) error {
	var last error
	for {
		for _, srv := range s.Servers {
			if !s.Running(srv.Name) {
				continue
			}
			_, err := apply.Converge(ctx, s.Client(srv.Name), func(st *api.State) (*apply.Change, error) {
				return &apply.Change{Spec: &spec, BaseRevision: st.Revision}, nil
			}, apply.Options{UntilDone: true, CatchUp: apply.DefaultCatchUp}, nil)
			if err == nil {
				return nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("apply: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Wait polls a server's /v1/state until cond holds.
func (s *Site) Wait(ctx context.Context, name string, cond func(*api.State) bool) (*api.State, error) {
	return devsite.Wait(ctx, s.Client(name), name, 100*time.Millisecond, cond)
}

// WaitRecording waits until name's state shows every camera recorded by
// exactly the servers in want.
func (s *Site) WaitRecording(ctx context.Context, name string, want map[string][]string) (*api.State, error) {
	st, err := s.Wait(ctx, name, func(st *api.State) bool { return devsite.Mismatch(st, want) == "" })
	if err != nil && st != nil {
		return st, fmt.Errorf("%w; %s", err, devsite.Mismatch(st, want))
	}
	return st, err
}

// CamStats reads camsim's per-path statistics.
func (s *Site) CamStats(ctx context.Context) (map[string]camsim.PathStats, error) {
	var out map[string]camsim.PathStats
	err := s.camControl(ctx, http.MethodGet, "/stats", &out)
	return out, err
}

// Drop closes camera path's sessions; Stall stops its frames for d;
// Refuse makes camsim refuse connections for d.
func (s *Site) Drop(ctx context.Context, path string) error {
	return s.camControl(ctx, http.MethodPost, "/drop?path="+path, nil)
}

// Stall stops camera path's frames for d.
func (s *Site) Stall(ctx context.Context, path string, d time.Duration) error {
	return s.camControl(ctx, http.MethodPost, "/stall?path="+path+"&for="+d.String(), nil)
}

// Refuse makes camsim refuse new connections for d.
func (s *Site) Refuse(ctx context.Context, d time.Duration) error {
	return s.camControl(ctx, http.MethodPost, "/refuse?for="+d.String(), nil)
}

func (s *Site) camControl(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.CamIP+":8080"+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return fmt.Errorf("camsim %s: %s: %s", path, resp.Status, strings.TrimSpace(b.String()))
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Recordings reads every server's recordings.
func (s *Site) Recordings() (measure.Site, error) {
	dirs := map[string][]string{}
	for _, srv := range s.Servers {
		dirs[srv.Name] = []string{srv.Storage}
	}
	return measure.Read(dirs)
}

// Logs returns the tail of every agent's log, for failure messages.
func (s *Site) Logs() string {
	var b strings.Builder
	for _, srv := range s.Servers {
		data, _ := os.ReadFile(srv.Log)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s (last lines of %s)\n%s\n", srv.Name, srv.Log, strings.Join(lines, "\n"))
	}
	return b.String()
}

// Close stops every process and removes the lab. Safe to call twice.
func (s *Site) Close() {
	liveMu.Lock()
	if !live[s] {
		liveMu.Unlock()
		return
	}
	delete(live, s)
	liveMu.Unlock()
	for _, srv := range s.Servers {
		s.Kill(srv.Name)
	}
	if s.camsim != nil && s.camsim.Process != nil {
		_ = s.camsim.Process.Signal(syscall.SIGKILL)
		_ = s.camsim.Wait()
	}
	for _, srv := range s.Servers {
		if srv.mount {
			if err := syscall.Unmount(srv.Storage, 0); err != nil {
				s.T.Errorf("unmount %s: %v", srv.Storage, err)
			}
		}
	}
	if err := s.Lab.Close(); err != nil {
		s.T.Errorf("removing namespaces: %v", err)
	}
	if s.T.Failed() {
		s.keepLogs()
	}
}

// keepLogs copies the agents' and camsim's logs of a failed test out of its
// temporary directory, which the test framework removes.
func (s *Site) keepLogs() {
	dir, err := os.MkdirTemp("", "vigil-proving-logs-")
	if err != nil {
		s.T.Logf("keeping logs: %v", err)
		return
	}
	logs, _ := filepath.Glob(filepath.Join(s.Dir, "*.log"))
	for _, l := range logs {
		if data, err := os.ReadFile(l); err == nil {
			_ = os.WriteFile(filepath.Join(dir, filepath.Base(l)), data, 0o644)
		}
	}
	s.T.Logf("logs of the agents and camsim kept in %s", dir)
}

// closeAll tears down every live site (signal handler).
func closeAll() {
	liveMu.Lock()
	sites := make([]*Site, 0, len(live))
	for s := range live {
		sites = append(sites, s)
	}
	liveMu.Unlock()
	for _, s := range sites {
		s.Close()
	}
}

// sweep removes namespaces left by earlier runs whose process is gone.
func sweep() error {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return err
	}
	dead := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], Prefix) {
			continue
		}
		pidText, _, _ := strings.Cut(strings.TrimPrefix(f[0], Prefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, os.ErrNotExist) {
			dead[fmt.Sprintf("%s%d", Prefix, pid)] = true
		}
	}
	for p := range dead {
		if _, err := netns.Sweep(p + "-"); err != nil {
			return err
		}
	}
	return nil
}
