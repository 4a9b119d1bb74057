package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// testSite runs servers on 127.A.B.(i+1), all on the same random port, so
// that tests of other packages running at the same time do not clash.
type testSite struct {
	t         testing.TB
	prefix    string
	port      int
	key       []byte
	keepalive time.Duration
	dirs      []string
	nodes     []*Cluster
	events    *eventLog
}

type eventLog struct {
	mu sync.Mutex
	ev []api.Event
}

func (l *eventLog) add(e api.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) find(kind, contains string) (api.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.Kind == kind && strings.Contains(e.Message, contains) {
			return e, true
		}
	}
	return api.Event{}, false
}

func testLogger() *slog.Logger {
	if os.Getenv("VIGIL_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func newSite(t testing.TB, n int, keepalive time.Duration) *testSite {
	t.Helper()
	key := make([]byte, SiteKeySize)
	rand.Read(key)
	s := &testSite{t: t, key: key, keepalive: keepalive, events: &eventLog{}}
	for attempt := 0; ; attempt++ {
		s.prefix = fmt.Sprintf("127.%d.%d.", 1+mrand.IntN(250), mrand.IntN(256))
		s.port = 20000 + 3*mrand.IntN(6000)
		s.nodes, s.dirs = nil, nil
		var err error
		for i := 0; i < n && err == nil; i++ {
			_, err = s.add(nil)
		}
		if err == nil {
			break
		}
		s.stopAll()
		if attempt == 5 {
			t.Fatalf("starting %d servers: %v", n, err)
		}
	}
	t.Cleanup(s.stopAll)
	return s
}

// newFormedSite starts a site of n servers, commits the first spec through
// the first one, and waits until every server holds it and is a voter. It
// returns the site and its master.
func newFormedSite(t testing.TB, n int, keepalive time.Duration) (*testSite, int, *Cluster) {
	t.Helper()
	s := newSite(t, n, keepalive)
	s.waitFormed()
	if _, err := s.nodes[0].Apply(ctx(t), s.spec(), 0); err != nil {
		t.Fatalf("first apply: %v", err)
	}
	s.waitRevision(1, all(n)...)
	li, leader := s.leader(all(n)...)
	waitFor(t, 5*time.Second, fmt.Sprintf("%d voters", n), func() bool { return len(voters(t, leader)) == n })
	return s, li, leader
}

func (s *testSite) name(i int) string { return fmt.Sprintf("rec-%d", i+1) }
func (s *testSite) ip(i int) string   { return s.prefix + strconv.Itoa(i+1) }

func (s *testSite) config(i int) Config {
	var join []string
	for j := range s.nodes {
		if j != i {
			join = append(join, net.JoinHostPort(s.ip(j), strconv.Itoa(s.port+1)))
		}
	}
	return Config{
		Name: s.name(i), Site: "hq", BindAddr: s.ip(i), Port: s.port, DataDir: s.dirs[i],
		Join: join, SiteKey: s.key, Version: "1.3", Keepalive: s.keepalive,
		Logger: testLogger(), Events: s.events.add,
	}
}

// add starts one more server; mod may change its configuration.
func (s *testSite) add(mod func(*Config)) (*Cluster, error) {
	i := len(s.nodes)
	s.dirs = append(s.dirs, s.t.TempDir())
	cfg := s.config(i)
	if mod != nil {
		mod(&cfg)
	}
	c, err := Start(cfg)
	if err != nil {
		s.dirs = s.dirs[:i]
		return nil, err
	}
	s.nodes = append(s.nodes, c)
	return c, nil
}

// restart starts server i again on its data directory.
func (s *testSite) restart(i int) *Cluster {
	s.t.Helper()
	c, err := Start(s.config(i))
	if err != nil {
		s.t.Fatalf("restarting %s: %v", s.name(i), err)
	}
	s.nodes[i] = c
	return c
}

func (s *testSite) stopAll() {
	for _, c := range s.nodes {
		if c != nil {
			c.Kill()
		}
	}
}

func (s *testSite) spec(names ...string) spec.Site {
	site := spec.Site{Name: "hq", Keepalive: s.keepalive, Failback: true, TimeZone: "UTC"}
	for i := range s.nodes {
		if len(names) > 0 && !contains(names, s.name(i)) {
			continue
		}
		site.Servers = append(site.Servers, &spec.Server{Name: s.name(i), Address: s.ip(i), Port: s.port, Kind: spec.KindRecording})
	}
	site.Cameras = []*spec.Camera{{Name: "gate", URL: "rtsp://127.0.0.1/gate", Server: s.name(0), Redundancy: spec.RedundancyNormal}}
	return site
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func health(c *Cluster, name string) (Member, bool) {
	for _, m := range c.Members() {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// waitFormed waits until every live server sees every other alive.
func (s *testSite) waitFormed(live ...int) {
	s.t.Helper()
	if len(live) == 0 {
		for i := range s.nodes {
			live = append(live, i)
		}
	}
	waitFor(s.t, 10*time.Second, "membership to form", func() bool {
		for _, i := range live {
			for _, j := range live {
				if m, ok := health(s.nodes[i], s.name(j)); !ok || m.Health != api.HealthAlive {
					return false
				}
			}
		}
		return true
	})
}

func (s *testSite) leader(live ...int) (int, *Cluster) {
	s.t.Helper()
	idx := -1
	waitFor(s.t, 10*time.Second, "a master", func() bool {
		for _, i := range live {
			if s.nodes[i].IsLeader() {
				idx = i
				return true
			}
		}
		return false
	})
	return idx, s.nodes[idx]
}

func (s *testSite) waitRevision(rev uint64, live ...int) {
	s.t.Helper()
	waitFor(s.t, 10*time.Second, fmt.Sprintf("revision %d everywhere", rev), func() bool {
		for _, i := range live {
			if s.nodes[i].State().Revision != rev {
				return false
			}
		}
		return true
	})
}

func voters(t testing.TB, c *Cluster) []string {
	t.Helper()
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	return out
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestFormApplyAndRefusals(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprintf("%d servers", n), func(t *testing.T) {
			s := newSite(t, n, 200*time.Millisecond)
			s.waitFormed()
			// The first apply on a fresh server creates the quorum.
			rev, err := s.nodes[0].Apply(ctx(t), s.spec(), 0)
			if err != nil {
				t.Fatalf("first apply: %v", err)
			}
			if rev != 1 {
				t.Fatalf("first apply gave revision %d, want 1", rev)
			}
			s.waitRevision(1, all(n)...)
			for i := range s.nodes {
				st := s.nodes[i].State()
				if st.Spec == nil || len(st.Spec.Servers) != n || st.Spec.Cameras[0].Name != "gate" || st.Committed.IsZero() {
					t.Fatalf("%s holds %+v", s.name(i), st)
				}
			}
			_, leader := s.leader(all(n)...)
			waitFor(t, 5*time.Second, "every server to be a voter", func() bool { return len(voters(t, leader)) == n })

			// Next revision through the master.
			spec := s.spec()
			spec.Description = "second"
			if rev, err = s.applyOnMaster(t, spec, 1); err != nil || rev != 2 {
				t.Fatalf("second apply: revision %d, %v", rev, err)
			}
			s.waitRevision(2, all(n)...)

			// A stale base is refused with both revisions, by whichever
			// server is asked: the refusal does not depend on who is the
			// master at the moment (on a busy machine the role can move).
			_, err = s.nodes[n-1].Apply(ctx(t), spec, 1)
			var stale *StaleError
			if !errors.As(err, &stale) || stale.Current != 2 || stale.Base != 1 {
				t.Fatalf("stale apply: got %v, want StaleError{Current: 2, Base: 1}", err)
			}
			if !strings.Contains(err.Error(), "revision 1") || !strings.Contains(err.Error(), "revision 2") {
				t.Fatalf("stale error does not name both revisions: %v", err)
			}

			// Of two applies racing on the same base, exactly one commits.
			errs := make(chan error, 2)
			for range 2 {
				go func() {
					_, err := s.applyOnMaster(t, spec, 2)
					errs <- err
				}()
			}
			e1, e2 := <-errs, <-errs
			if (e1 == nil) == (e2 == nil) || !errors.As(errors.Join(e1, e2), &stale) {
				t.Fatalf("racing applies: %v and %v, want one success and one stale refusal", e1, e2)
			}
			s.waitRevision(3, all(n)...)

			// Followers refuse and name the master.
			li, _ := s.leader(all(n)...)
			for i, c := range s.nodes {
				if i == li {
					continue
				}
				_, err := c.Apply(ctx(t), spec, 3)
				if !errors.Is(err, ErrNotLeader) {
					t.Fatalf("follower apply: got %v, want ErrNotLeader", err)
				}
				name, addr := c.Leader()
				if name != s.name(li) || addr != net.JoinHostPort(s.ip(li), strconv.Itoa(s.port)) {
					t.Fatalf("follower sees master %q at %q, want %s", name, addr, s.name(li))
				}
				if !strings.Contains(err.Error(), s.name(li)) {
					t.Fatalf("not-master error does not name the master: %v", err)
				}
			}
			// A spec of another site is refused.
			other := spec
			other.Name = "elsewhere"
			if _, err := s.nodes[li].Apply(ctx(t), other, 3); err == nil || !strings.Contains(err.Error(), `site "elsewhere"`) {
				t.Fatalf("apply of another site's spec: %v", err)
			}
		})
	}
}

// applyOnMaster applies through the current master, asking again when the
// role moved before the apply reached it (a busy machine can move it).
func (s *testSite) applyOnMaster(t *testing.T, spec spec.Site, base uint64) (uint64, error) {
	for {
		_, leader := s.leader(all(len(s.nodes))...)
		rev, err := leader.Apply(ctx(t), spec, base)
		if !errors.Is(err, ErrNotLeader) {
			return rev, err
		}
	}
}

// A master that loses the role while committing says one thing: whether
// the change was committed is not known yet (not "was not committed ... may
// or may not have been committed").
func TestLostLeadershipSaysOneThing(t *testing.T) {
	_, _, leader := newFormedSite(t, 3, 200*time.Millisecond)
	err := leader.lostWhileCommitting(ctx(t), raft.ErrLeadershipLost)
	if !errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrNoQuorum) {
		t.Fatalf("got %v, want ErrOutcomeUnknown", err)
	}
	for _, bad := range []string{"not committed", "may or may not"} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("%q says %q", err, bad)
		}
	}
	if !strings.Contains(err.Error(), "whether the change was committed") {
		t.Errorf("%q does not say what is unknown", err)
	}
}

func TestMasterFailover(t *testing.T) {
	s, li, leader := newFormedSite(t, 3, 200*time.Millisecond)

	start := time.Now()
	leader.Kill()
	var live []int
	for i := range s.nodes {
		if i != li {
			live = append(live, i)
		}
	}
	ni, next := s.leader(live...)
	t.Logf("new master %s elected %s after the old one stopped", s.name(ni), time.Since(start).Round(time.Millisecond))
	rev, err := next.Apply(ctx(t), s.spec(), 1)
	if err != nil || rev != 2 {
		t.Fatalf("apply on the new master: revision %d, %v", rev, err)
	}
	s.waitRevision(2, live...)
}

func TestTwoServersOneDead(t *testing.T) {
	s, _, _ := newFormedSite(t, 2, 200*time.Millisecond)

	s.nodes[1].Kill()
	c := s.nodes[0]
	waitFor(t, 10*time.Second, "rec-2 dead", func() bool {
		m, _ := health(c, "rec-2")
		return m.Health == api.HealthDead
	})
	if st := c.State(); st.Revision != 1 || st.Spec == nil {
		t.Fatalf("state without quorum: %+v", st)
	}
	_, err := c.Apply(ctx(t), s.spec(), 1)
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("apply without quorum: got %v, want ErrNoQuorum", err)
	}
	for _, want := range []string{"1 of 2 voters reachable", "rec-2 dead", "recording continues"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no-quorum error %q lacks %q", err, want)
		}
	}
	t.Logf("apply without quorum: %v", err)
}

func TestStatusPayloads(t *testing.T) {
	s := newSite(t, 3, 200*time.Millisecond)
	s.waitFormed()
	payload := func(i, v int) []byte {
		return []byte(fmt.Sprintf("%s v%d %s", s.name(i), v, strings.Repeat("x", 3000)))
	}
	for v := 1; v <= 2; v++ {
		select {
		case <-s.nodes[0].Changes():
		default:
		}
		for i, c := range s.nodes {
			c.SetStatus(payload(i, v))
		}
		select {
		case <-s.nodes[0].Changes():
		case <-time.After(5 * time.Second):
			t.Fatal("no change notification for new status payloads")
		}
		waitFor(t, 5*time.Second, fmt.Sprintf("status payloads v%d everywhere", v), func() bool {
			for _, c := range s.nodes {
				for j := range s.nodes {
					m, _ := health(c, s.name(j))
					if string(m.Status) != string(payload(j, v)) {
						return false
					}
				}
			}
			return true
		})
	}
	// A server that joins later gets everyone's status through push/pull.
	late, err := s.add(nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a late member to learn the statuses", func() bool {
		for j := 0; j < 3; j++ {
			m, _ := health(late, s.name(j))
			if string(m.Status) != string(payload(j, 2)) {
				return false
			}
		}
		return true
	})
}

func TestHealthTransitions(t *testing.T) {
	s := newSite(t, 3, 300*time.Millisecond)
	s.waitFormed()
	observer := s.nodes[0]
	alive, _ := health(observer, "rec-3")
	stopped := time.Now()
	s.nodes[2].Kill()
	var suspect, dead Member
	waitFor(t, 10*time.Second, "rec-3 suspect then dead", func() bool {
		m, _ := health(observer, "rec-3")
		if m.Health == api.HealthSuspect && suspect.Since.IsZero() {
			suspect = m
		}
		if m.Health == api.HealthDead {
			dead = m
			return true
		}
		return false
	})
	if suspect.Since.IsZero() {
		t.Fatal("rec-3 went dead without being seen suspect")
	}
	if !(alive.Since.Before(stopped) && suspect.Since.After(stopped) && dead.Since.After(suspect.Since)) {
		t.Fatalf("timestamps out of order: alive %v, stopped %v, suspect %v, dead %v", alive.Since, stopped, suspect.Since, dead.Since)
	}
	if dead.Left {
		t.Fatal("a killed server is reported as having left")
	}
	for _, kind := range []string{"server.suspect", "server.dead"} {
		if _, ok := s.events.find(kind, "rec-3"); !ok {
			t.Errorf("no %s event", kind)
		}
	}
	t.Logf("keepalive %s: suspect after %s, dead after %s", s.keepalive,
		suspect.Since.Sub(stopped).Round(time.Millisecond), dead.Since.Sub(stopped).Round(time.Millisecond))

	// It comes back alive; a graceful shutdown is seen as a departure at once.
	c := s.restart(2)
	waitFor(t, 10*time.Second, "rec-3 alive again", func() bool {
		m, _ := health(observer, "rec-3")
		return m.Health == api.HealthAlive
	})
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "rec-3 left", func() bool {
		m, _ := health(observer, "rec-3")
		return m.Health == api.HealthDead && m.Left
	})
}

func TestVersionMismatchRefused(t *testing.T) {
	s := newSite(t, 2, 200*time.Millisecond)
	s.waitFormed()
	odd, err := s.add(func(c *Config) { c.Version = "1.2" })
	if err != nil {
		t.Fatal(err)
	}
	want := "server rec-3 runs vigil 1.2 but this site runs 1.3; all servers of a site run the same version"
	waitFor(t, 5*time.Second, "the refusal event", func() bool {
		_, ok := s.events.find("server.refused", want)
		return ok
	})
	// Not a member once its join has reached both servers and been refused
	// there (a sleep proves nothing on a busy machine).
	waitFor(t, 20*time.Second, "both servers refusing rec-3", func() bool {
		for i := 0; i < 2; i++ {
			if r := s.nodes[i].Refused(); len(r) == 0 || r[0].Name != "rec-3" {
				return false
			}
		}
		return true
	})
	for i := 0; i < 2; i++ {
		if _, ok := health(s.nodes[i], "rec-3"); ok {
			t.Fatalf("%s accepted a member of another version", s.name(i))
		}
	}
	if len(odd.Members()) != 1 {
		t.Fatalf("the odd server sees %d members, want only itself", len(odd.Members()))
	}
	if r := s.nodes[0].Refused(); len(r) != 1 || r[0].Name != "rec-3" || r[0].Reason != want {
		t.Fatalf("Refused() = %+v", r)
	}
}

func TestWrongSiteKeyRefused(t *testing.T) {
	s, _, _ := newFormedSite(t, 2, 200*time.Millisecond)
	wrong := make([]byte, SiteKeySize)
	rand.Read(wrong)
	intruder, err := s.add(func(c *Config) { c.SiteKey = wrong })
	if err != nil {
		t.Fatal(err)
	}
	// Not a member once its traffic has reached both servers and been
	// dropped there (a sleep proves nothing on a busy machine).
	waitFor(t, 20*time.Second, "both servers dropping the intruder's traffic", func() bool {
		return s.nodes[0].Dropped() > 0 && s.nodes[1].Dropped() > 0
	})
	for i := 0; i < 2; i++ {
		if _, ok := health(s.nodes[i], "rec-3"); ok {
			t.Fatalf("%s accepted a member without the site key", s.name(i))
		}
	}
	if len(intruder.Members()) != 1 {
		t.Fatalf("the intruder sees %d members", len(intruder.Members()))
	}

	// Raft: a dialer without the key is refused, and so is a listener.
	raftAddr := raft.ServerAddress(net.JoinHostPort(s.ip(0), strconv.Itoa(s.port+2)))
	if _, err := intruder.stream.Dial(raftAddr, time.Second); err == nil {
		t.Fatal("raft connection with a wrong key accepted")
	}
	waitFor(t, 5*time.Second, "the raft refusal event", func() bool {
		_, ok := s.events.find("raft.refused", "site's key")
		return ok
	})
	intruderAddr := raft.ServerAddress(net.JoinHostPort(s.ip(2), strconv.Itoa(s.port+2)))
	if _, err := s.nodes[0].stream.Dial(intruderAddr, time.Second); err == nil {
		t.Fatal("connection to a raft listener with a wrong key accepted")
	}
	// The right key works.
	conn, err := s.nodes[1].stream.Dial(raftAddr, time.Second)
	if err != nil {
		t.Fatalf("raft connection with the site key: %v", err)
	}
	conn.Close()
}

func TestRestartKeepsState(t *testing.T) {
	s, _, leader := newFormedSite(t, 3, 200*time.Millisecond)
	// Snapshot on one server, then one more revision in its log.
	if err := s.nodes[2].raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Apply(ctx(t), s.spec(), 1); err != nil {
		t.Fatal(err)
	}
	s.waitRevision(2, 0, 1, 2)

	// Restart every server: nobody bootstraps again, the state comes back.
	for i := range s.nodes {
		if err := s.nodes[i].Kill(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range s.nodes {
		s.restart(i)
	}
	if st := s.nodes[2].State(); st.Revision != 1 {
		t.Fatalf("rec-3 after restart holds revision %d before replay, want 1 from its snapshot", st.Revision)
	}
	s.waitRevision(2, 0, 1, 2)
	_, leader = s.leader(0, 1, 2)
	if v := voters(t, leader); len(v) != 3 {
		t.Fatalf("voters after restart: %v", v)
	}
	if rev, err := leader.Apply(ctx(t), s.spec(), 2); err != nil || rev != 3 {
		t.Fatalf("apply after restart: revision %d, %v", rev, err)
	}
}

func TestTransferAndLeaderLoop(t *testing.T) {
	s := newSite(t, 3, 200*time.Millisecond)
	var mu sync.Mutex
	running := map[string]int{}
	register := func(c *Cluster, name string) {
		c.LeaderLoop(func(ctx context.Context) {
			mu.Lock()
			running[name]++
			mu.Unlock()
			<-ctx.Done()
			mu.Lock()
			running[name]--
			mu.Unlock()
		})
	}
	for i, c := range s.nodes {
		register(c, s.name(i))
	}
	only := func(name string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for n, v := range running {
				if (n == name) != (v == 1) || v > 1 {
					return false
				}
			}
			return running[name] == 1
		}
	}
	s.waitFormed()
	if _, err := s.nodes[0].Apply(ctx(t), s.spec(), 0); err != nil {
		t.Fatal(err)
	}
	s.waitRevision(1, 0, 1, 2)
	li, leader := s.leader(0, 1, 2)
	waitFor(t, 5*time.Second, "3 voters", func() bool { return len(voters(t, leader)) == 3 })
	waitFor(t, 5*time.Second, "leader work on the master only", only(s.name(li)))

	to := (li + 1) % 3
	if err := s.nodes[to].TransferLeadership(s.name(li)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from a follower: %v", err)
	}
	if err := leader.TransferLeadership("nobody"); err == nil || !strings.Contains(err.Error(), "not a voting member") {
		t.Fatalf("transfer to an unknown server: %v", err)
	}
	if err := leader.TransferLeadership(s.name(to)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the new master", func() bool {
		name, _ := s.nodes[li].Leader()
		return s.nodes[to].IsLeader() && name == s.name(to)
	})
	waitFor(t, 5*time.Second, "leader work moved", only(s.name(to)))

	// Work registered while already master starts at once.
	started := make(chan struct{})
	s.nodes[to].LeaderLoop(func(ctx context.Context) { close(started) })
	select {
	case <-started:
	case <-time.After(2 * time.Second):
		t.Fatal("leader work registered on the master did not start")
	}
}

func TestMembershipChangesFollowSpec(t *testing.T) {
	s, _, leader := newFormedSite(t, 2, 200*time.Millisecond)

	// A fresh server joins membership; it is not a voter until it is in the spec.
	late, err := s.add(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.waitFormed()
	if _, err := late.Apply(ctx(t), s.spec(), 1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("apply on a fresh server of a formed site: %v, want a refusal to bootstrap", err)
	}
	if late.hasRaftConfig() {
		t.Fatal("a fresh server of a formed site bootstrapped its own quorum")
	}
	if _, err := leader.Apply(ctx(t), s.spec(), 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rec-3 a voter with the state", func() bool {
		return len(voters(t, leader)) == 3 && late.State().Revision == 2
	})
	// Made virtual, it leaves the quorum but keeps the state...
	site := s.spec()
	site.Servers[2].Kind = spec.KindVirtual
	if _, err := leader.Apply(ctx(t), site, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "virtual rec-3 out of the quorum", func() bool { return !contains(voters(t, leader), "rec-3") })
	// ... and back, it is a voter again; dropped from the spec, it is removed.
	if _, err := leader.Apply(ctx(t), s.spec(), 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rec-3 a voter again", func() bool { return contains(voters(t, leader), "rec-3") })
	if _, err := leader.Apply(ctx(t), s.spec("rec-1", "rec-2"), 4); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "rec-3 removed", func() bool { return !contains(voters(t, leader), "rec-3") })
}

func TestOverridesAndStats(t *testing.T) {
	s := newSite(t, 2, 200*time.Millisecond)
	s.waitFormed()
	if err := s.nodes[0].RecordStats(ctx(t), []DailyStat{{Server: "rec-1", Camera: "gate", Date: "2026-01-01", Bytes: 1}}); err == nil {
		t.Fatal("stats accepted before the site has a quorum")
	}
	if _, err := s.nodes[0].Apply(ctx(t), s.spec(), 0); err != nil {
		t.Fatal(err)
	}
	_, leader := s.leader(0, 1)
	ov := []api.Override{{Camera: "gate", From: "rec-1", Server: "rec-2", Since: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), Reason: "storage"}}
	if err := leader.SetOverrides(ctx(t), ov); err != nil {
		t.Fatal(err)
	}
	stats := []DailyStat{
		{Server: "rec-1", Camera: "gate", Date: "2025-12-01", Bytes: 100},
		{Server: "rec-1", Camera: "gate", Date: "2026-04-01", Bytes: 200},
		{Server: "rec-2", Camera: "gate", Date: "2026-04-01", Bytes: 300},
	}
	if err := leader.RecordStats(ctx(t), stats); err != nil {
		t.Fatal(err)
	}
	// The same key again replaces the value.
	if err := leader.RecordStats(ctx(t), []DailyStat{{Server: "rec-2", Camera: "gate", Date: "2026-04-01", Bytes: 350}}); err != nil {
		t.Fatal(err)
	}
	if err := leader.RecordStats(ctx(t), []DailyStat{{Server: "rec-2", Camera: "gate", Date: "April 1"}}); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Fatalf("bad date: %v", err)
	}
	for _, c := range s.nodes {
		waitFor(t, 5*time.Second, "stats and overrides everywhere", func() bool {
			got := c.Stats("2026-03-01")
			st := c.State()
			// 2025-12-01 is older than StatsRetentionDays before 2026-04-01.
			return len(c.Stats("")) == 2 && len(got) == 2 && got[0].Bytes == 200 && got[1].Bytes == 350 &&
				len(st.Overrides) == 1 && st.Overrides[0].Server == "rec-2" && st.Overrides[0].Since.Equal(ov[0].Since)
		})
	}
}

// detection is what the other servers saw after the master's hard stop,
// from the stop: when each held it late, suspect (zero if never seen) and
// dead, and when one of them became master.
type detection struct {
	late, suspect, dead []time.Duration
	elected             time.Duration
}

// killMaster stops the master of a formed 3-server site with the given
// keepalive hard, and waits (20 s at most) until every other server holds
// it dead and one of them is master. The site is stopped on return.
func killMaster(tb testing.TB, keepalive time.Duration) detection {
	s, li, leader := newFormedSite(tb, 3, keepalive)
	defer s.stopAll()
	var live []int
	for i := range s.nodes {
		if i != li {
			live = append(live, i)
		}
	}
	victim := s.name(li)
	stopped := time.Now()
	killed := make(chan struct{})
	go func() { leader.Kill(); close(killed) }() // watch while raft shuts down
	defer func() { <-killed }()
	d := detection{late: make([]time.Duration, len(live)), suspect: make([]time.Duration, len(live)), dead: make([]time.Duration, len(live))}
	waitFor(tb, 20*time.Second, victim+" dead everywhere and a new master", func() bool {
		done := true
		for k, i := range live {
			m, _ := health(s.nodes[i], victim)
			if (m.Late || m.Health != api.HealthAlive) && d.late[k] == 0 {
				d.late[k] = time.Since(stopped)
			}
			if m.Health == api.HealthSuspect && d.suspect[k] == 0 {
				d.suspect[k] = m.Since.Sub(stopped)
			}
			if m.Health == api.HealthDead {
				d.dead[k] = m.Since.Sub(stopped)
			}
			if s.nodes[i].IsLeader() && d.elected == 0 {
				d.elected = time.Since(stopped)
			}
			done = done && d.dead[k] != 0
		}
		return done && d.elected != 0
	})
	return d
}

// TestKilledMasterDeadEverywhere: with the production keepalive of 1 s, a
// master stopped hard is held dead by every other server, and a new master
// is elected, within 20 s. (BenchmarkDetectionTime reports the times.)
func TestKilledMasterDeadEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("takes several keepalives of 1 s")
	}
	killMaster(t, time.Second)
}

// BenchmarkDetectionTime measures, with the production keepalive of 1 s and
// a new 3-server site per iteration, the time from the master's hard stop
// until the slower of the two others holds it late, suspect and dead, and
// until a new master is elected: means over the iterations, in seconds (an
// iteration takes about 10 s; -benchtime 5x runs five).
func BenchmarkDetectionTime(b *testing.B) {
	var late, suspect, dead, elected time.Duration
	suspects := 0
	for range b.N {
		d := killMaster(b, time.Second)
		late += slices.Max(d.late)
		dead += slices.Max(d.dead)
		elected += d.elected
		if !slices.Contains(d.suspect, 0) { // a suspect verdict can be too short to be seen
			suspect += slices.Max(d.suspect)
			suspects++
		}
	}
	b.ReportMetric(late.Seconds()/float64(b.N), "late-s")
	if suspects > 0 {
		b.ReportMetric(suspect.Seconds()/float64(suspects), "suspect-s")
	}
	b.ReportMetric(dead.Seconds()/float64(b.N), "dead-s")
	b.ReportMetric(elected.Seconds()/float64(b.N), "elected-s")
}

func TestGracefulShutdownOfMaster(t *testing.T) {
	s, li, leader := newFormedSite(t, 3, 200*time.Millisecond)
	var live []int
	for i := range s.nodes {
		if i != li {
			live = append(live, i)
		}
	}
	start := time.Now()
	if err := leader.Shutdown(); err != nil {
		t.Fatal(err)
	}
	// The role was handed over before leaving, so there is a master at once.
	_, next := s.leader(live...)
	t.Logf("master handed over and left in %s", time.Since(start).Round(time.Millisecond))
	waitFor(t, 2*time.Second, "the old master seen as left", func() bool {
		m, _ := health(next, s.name(li))
		return m.Health == api.HealthDead && m.Left
	})
	if _, err := next.Apply(ctx(t), s.spec(), 1); err != nil {
		t.Fatal(err)
	}
}

func TestSingleServerRestart(t *testing.T) {
	s := newSite(t, 1, 200*time.Millisecond)
	if _, err := s.nodes[0].Apply(ctx(t), s.spec(), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.nodes[0].Shutdown(); err != nil {
		t.Fatal(err)
	}
	c := s.restart(0)
	// A second agent on the same data directory is refused.
	cfg := s.config(0)
	cfg.Port += 3
	if _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second agent on the same data directory: %v", err)
	}
	if !c.hasRaftConfig() {
		t.Fatal("the restarted server lost its raft configuration")
	}
	s.leader(0)
	s.waitRevision(1, 0)
	if rev, err := c.Apply(ctx(t), s.spec(), 1); err != nil || rev != 2 {
		t.Fatalf("apply after restart: revision %d, %v", rev, err)
	}
}

func TestSpecServerStartedLater(t *testing.T) {
	s := newSite(t, 2, 200*time.Millisecond)
	s.waitFormed()
	// The spec names rec-3, which is not running yet.
	site := s.spec()
	site.Servers = append(site.Servers, &spec.Server{Name: "rec-3", Address: s.ip(2), Port: s.port, Kind: spec.KindWitness})
	if _, err := s.nodes[0].Apply(ctx(t), site, 0); err != nil {
		t.Fatal(err)
	}
	_, leader := s.leader(0, 1)
	if v := voters(t, leader); len(v) != 2 {
		t.Fatalf("voters before rec-3 runs: %v", v)
	}
	// rec-3 starts without any join address: the others find it through
	// the committed spec, and the master makes it a voter.
	late, err := s.add(func(c *Config) { c.Join = nil })
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "rec-3 found, a voter, with the state", func() bool {
		return len(voters(t, leader)) == 3 && late.State().Revision == 1
	})
}

// A virtual site (only virtual servers) has its virtual servers vote, so it
// can commit a spec; in a mixed site they stay out (TestMembershipChangesFollowSpec).
func TestVirtualSiteApplies(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d virtual servers", n), func(t *testing.T) {
			s := newSite(t, n, 200*time.Millisecond)
			s.waitFormed()
			site := s.spec()
			site.Cameras = nil
			for _, srv := range site.Servers {
				srv.Kind = spec.KindVirtual
			}
			rev, err := s.nodes[0].Apply(ctx(t), site, 0)
			if err != nil || rev != 1 {
				t.Fatalf("first apply on a virtual site: revision %d, %v", rev, err)
			}
			s.waitRevision(1, all(n)...)
			_, leader := s.leader(all(n)...)
			waitFor(t, 5*time.Second, "every virtual server to be a voter", func() bool { return len(voters(t, leader)) == n })
			site.Description = "second"
			if rev, err := leader.Apply(ctx(t), site, 1); err != nil || rev != 2 {
				t.Fatalf("second apply on a virtual site: revision %d, %v", rev, err)
			}
			s.waitRevision(2, all(n)...)
		})
	}
}
