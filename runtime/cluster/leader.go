package cluster

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

const (
	defaultApplyTimeout = 10 * time.Second
	barrierTimeout      = 30 * time.Second
	reconcileInterval   = 30 * time.Second
)

// observeLeader turns raft's leader observations into change notifications
// and events.
func (c *Cluster) observeLeader(obs chan raft.Observation) {
	defer c.wg.Done()
	last := ""
	for {
		select {
		case <-c.shutdownCh:
			return
		case o := <-obs:
			lo, ok := o.Data.(raft.LeaderObservation)
			if !ok {
				continue
			}
			name := string(lo.LeaderID)
			if name != last {
				last = name
				if name == "" {
					c.log.Warn("no master: election in progress or no quorum")
				} else {
					c.log.Info("master is "+name, "master", name)
					c.emit(spec.SeverityInfo, spec.EventMasterChanged, name, fmt.Sprintf("server %s is the master (seen by %s)", name, c.cfg.Name))
				}
			}
			c.notify()
		}
	}
}

// monitorLeadership starts the leader loop when this server becomes the
// master and stops it when it loses the role (Nomad's pattern).
func (c *Cluster) monitorLeadership() {
	defer c.wg.Done()
	var stop chan struct{}
	var done chan struct{}
	halt := func() {
		if stop != nil {
			close(stop)
			<-done
			stop, done = nil, nil
		}
	}
	defer halt()
	for {
		select {
		case <-c.shutdownCh:
			return
		case leader := <-c.leaderNotify:
			if leader && stop == nil {
				stop, done = make(chan struct{}), make(chan struct{})
				go func(stop, done chan struct{}) {
					defer close(done)
					c.leaderLoop(stop)
				}(stop, done)
			} else if !leader {
				halt()
			}
			c.notify()
		}
	}
}

// leaderLoop runs while this server is the master. It first waits on a
// raft barrier, so that every entry of earlier terms is applied to the local
// state machine before leader work reads it; then it starts the registered
// leader work and keeps the raft configuration in line with the spec.
func (c *Cluster) leaderLoop(stop chan struct{}) {
	for {
		err := c.raft.Barrier(barrierTimeout).Error()
		if err == nil {
			break
		}
		c.log.Warn("master barrier failed; retrying", "err", err)
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
	c.log.Info("this server is the master")
	c.emit(spec.SeverityInfo, spec.EventMasterElected, c.cfg.Name, fmt.Sprintf("server %s became the master", c.cfg.Name))

	ctx, cancel := context.WithCancel(context.Background())
	c.leaderMu.Lock()
	c.leaderCtx = ctx
	for _, fn := range c.loops {
		c.startLoop(ctx, fn)
	}
	c.leaderMu.Unlock()
	defer func() {
		c.leaderMu.Lock()
		c.leaderCtx = nil
		cancel()
		c.leaderMu.Unlock()
		c.leaderWG.Wait()
		c.log.Info("this server is no longer the master")
	}()

	c.reconcile()
	t := time.NewTicker(reconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-c.reconcileCh:
		case <-t.C:
		}
		c.reconcile()
	}
}

// startLoop runs fn under the leader context; called with leaderMu held.
func (c *Cluster) startLoop(ctx context.Context, fn func(context.Context)) {
	c.leaderWG.Add(1)
	go func() {
		defer c.leaderWG.Done()
		fn(ctx)
	}()
}

// LeaderLoop registers work that runs only on the master: fn is started
// (in its own goroutine) each time this server becomes the master, after a
// raft barrier has applied all earlier entries, and its context is
// cancelled when the role is lost or the cluster shuts down; fn should
// return soon after (raft's leadership notifications wait for it). Register
// right after Start: when this server is already the master (a 1-server
// site restarts and elects itself at once), fn starts immediately.
func (c *Cluster) LeaderLoop(fn func(ctx context.Context)) {
	c.leaderMu.Lock()
	defer c.leaderMu.Unlock()
	c.loops = append(c.loops, fn)
	if c.leaderCtx != nil {
		c.startLoop(c.leaderCtx, fn)
	}
}

// reconcile makes the raft configuration follow the committed spec: servers
// of the spec that membership sees alive become voters (or get their new
// address), voters no longer in the spec are removed. Servers of the spec
// that were never seen are added once they appear; dead ones stay voters.
func (c *Cluster) reconcile() {
	c.reconcileMu.Lock()
	defer c.reconcileMu.Unlock()
	if !c.IsLeader() {
		return
	}
	spec := c.fsm.current().Spec
	if spec == nil {
		return
	}
	f := c.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		c.log.Warn("reading the raft configuration", "err", err)
		return
	}
	inRaft := map[string]raft.Server{}
	for _, s := range f.Configuration().Servers {
		inRaft[string(s.ID)] = s
	}
	wanted := map[string]bool{}
	for _, s := range spec.Servers {
		if !s.Kind.Votes(spec.AllVirtual()) {
			continue
		}
		wanted[s.Name] = true
		if s.Name == c.cfg.Name {
			continue
		}
		m, ok := c.member(s.Name)
		if !ok || m.health == api.HealthDead {
			continue
		}
		addr := m.raftAddr()
		cur, ok := inRaft[s.Name]
		if ok && cur.Address == addr && cur.Suffrage == raft.Voter {
			continue
		}
		if err := c.raft.AddVoter(raft.ServerID(s.Name), addr, 0, defaultApplyTimeout).Error(); err != nil {
			c.log.Warn("adding a voter", "peer", s.Name, "err", err)
			continue
		}
		c.log.Info("server added to the site's quorum", "peer", s.Name, "raft_addr", addr)
	}
	for name := range inRaft {
		if wanted[name] {
			continue
		}
		if name == c.cfg.Name {
			// The master itself left the spec: hand the role over; the
			// next master removes this server.
			if len(c.otherVoters()) > 0 {
				c.log.Info("this server is no longer in the spec; handing the master role over")
				if err := c.raft.LeadershipTransfer().Error(); err != nil {
					c.log.Warn("handing the master role over", "err", err)
				}
			}
			return
		}
		if err := c.raft.RemoveServer(raft.ServerID(name), 0, defaultApplyTimeout).Error(); err != nil {
			c.log.Warn("removing a voter", "peer", name, "err", err)
			continue
		}
		c.log.Info("server removed from the site's quorum: no longer in the spec", "peer", name)
	}
}

// Apply commits spec as the next revision. base is the revision the change
// was planned against; another committed revision refuses it with a
// *StaleError, by any server that holds a newer revision than base. Only the
// master commits: other servers answer with an error wrapping ErrNotLeader
// (see Leader), or ErrNoQuorum when there is no master. ErrOutcomeUnknown
// means that the master could not confirm the commit.
//
// On a server without any raft state, Apply first bootstraps the site's raft
// (see the package documentation).
func (c *Cluster) Apply(ctx context.Context, spec spec.Site, base uint64) (uint64, error) {
	if spec.Name != c.cfg.Site {
		return 0, fmt.Errorf("the spec is for site %q but this server belongs to site %q", spec.Name, c.cfg.Site)
	}
	if cur := c.fsm.current().Revision; cur > base {
		// Revisions only grow: a server holding a newer revision than
		// the base knows that the plan is stale, master or not.
		return 0, &StaleError{Current: cur, Base: base}
	}
	c.applyMu.Lock()
	defer c.applyMu.Unlock()
	if !c.hasRaftConfig() {
		if err := c.bootstrap(&spec); err != nil {
			return 0, err
		}
	}
	body := applySpecBody{Spec: spec, Base: base, Time: time.Now().UTC()}
	if c.fsm.siteExportKey() == nil {
		// The site forms (or formed before export keys existed): the
		// master makes the key, and raft gives every server the same one.
		body.ExportKey = make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(body.ExportKey); err != nil {
			return 0, fmt.Errorf("making the site's export key: %w", err)
		}
	}
	resp, err := c.applyCmd(ctx, cmdApplySpec, cmdApplySpecV, body)
	if err != nil {
		return 0, err
	}
	rev, ok := resp.(uint64)
	if !ok {
		return 0, fmt.Errorf("unexpected state machine answer %T", resp)
	}
	c.log.Info("spec committed", "revision", rev)
	c.reconcile()
	return rev, nil
}

// SetOverrides commits the balancing moves in force (replacing the previous
// list). Master only.
func (c *Cluster) SetOverrides(ctx context.Context, o []api.Override) error {
	_, err := c.applyCmd(ctx, cmdSetOverrides, cmdSetOverridesV, setOverridesBody{Overrides: o})
	return err
}

// SetDrain commits that server is drained (drain) or no longer (undo):
// every agent hands its cameras away, make-before-break. Master only; the
// server must be in the committed spec.
func (c *Cluster) SetDrain(ctx context.Context, server string, drain bool) error {
	if spec := c.fsm.current().Spec; spec == nil || spec.Server(server) == nil {
		return fmt.Errorf("%w: %s is not a server of the committed spec", ErrUnknownServer, server)
	}
	_, err := c.applyCmd(ctx, cmdSetDrain, cmdSetDrainV, setDrainBody{Server: server, Drain: drain})
	return err
}

// ErrUnknownServer refuses a request about a server that is not in the
// committed spec.
var ErrUnknownServer = errors.New("unknown server")

// RecordStats commits daily recorded-bytes statistics; a key already known
// (server, camera, date) takes the new value. Master only.
func (c *Cluster) RecordStats(ctx context.Context, s []DailyStat) error {
	for _, v := range s {
		if _, err := time.Parse(time.DateOnly, v.Date); err != nil {
			return fmt.Errorf("statistics of camera %s on server %s: date %q is not YYYY-MM-DD", v.Camera, v.Server, v.Date)
		}
	}
	_, err := c.applyCmd(ctx, cmdRecordStats, cmdRecordStatsV, recordStatsBody{Stats: s})
	return err
}

// applyCmd commits one entry through raft on the master and returns the
// state machine's answer.
func (c *Cluster) applyCmd(ctx context.Context, typ string, v int, body any) (any, error) {
	if !c.hasRaftConfig() {
		return nil, errors.New("this server has not joined the site's quorum yet: no spec was ever applied here")
	}
	if err := c.waitLeader(ctx); err != nil {
		return nil, err
	}
	if !c.IsLeader() {
		return nil, c.notLeaderErr()
	}
	cmd, err := encodeCmd(typ, v, body)
	if err != nil {
		return nil, err
	}
	timeout := defaultApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	fut := c.raft.Apply(cmd, timeout)
	if err := fut.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader):
			return nil, c.notLeaderErr()
		case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			return nil, c.lostWhileCommitting(ctx, err)
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return nil, fmt.Errorf("%w: the change was not committed in time (%s)", ErrNoQuorum, c.quorumReport())
		default:
			return nil, fmt.Errorf("committing: %w", err)
		}
	}
	if err, ok := fut.Response().(error); ok {
		return nil, err
	}
	return fut.Response(), nil
}

// lostWhileCommitting is the error of an entry whose commit the master
// could not confirm (raft's leadership lost or transfer in progress): the
// outcome is unknown, and the error says so once, with why. A master that
// lost its majority steps down after its lease: the error says so when no
// new master can be elected.
func (c *Cluster) lostWhileCommitting(ctx context.Context, err error) error {
	if qerr := c.waitLeader(ctx); qerr != nil {
		return fmt.Errorf("%w: the master lost its majority while committing; %w; whether the change was committed shows in the site's revision once a master is elected", ErrOutcomeUnknown, qerr)
	}
	return fmt.Errorf("%w: the master role moved while committing (%w); whether the change was committed shows in the site's revision", ErrOutcomeUnknown, err)
}

// waitLeader waits a little for an election in progress (a few election
// timeouts, or until ctx ends) and fails with ErrNoQuorum if none ends.
func (c *Cluster) waitLeader(ctx context.Context) error {
	deadline := time.Now().Add(4*c.raftTiming + time.Second)
	for {
		if _, id := c.raft.LeaderWithID(); id != "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: no master could be elected (%s); changes need a majority of the voting servers, recording continues on revision %d",
				ErrNoQuorum, c.quorumReport(), c.fsm.current().Revision)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no master yet (%s): %w", c.quorumReport(), ctx.Err())
		case <-c.shutdownCh:
			return errors.New("cluster is shutting down")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) notLeaderErr() error {
	name, addr := c.Leader()
	if name == "" {
		return fmt.Errorf("%w and no master is known", ErrNotLeader)
	}
	return fmt.Errorf("%w: the master is %s (%s)", ErrNotLeader, name, addr)
}

// quorumReport says which voters are reachable, e.g.
// "1 of 2 voters reachable: rec-1 alive, rec-2 dead; a majority is 2".
func (c *Cluster) quorumReport() string {
	f := c.raft.GetConfiguration()
	if f.Error() != nil {
		return f.Error().Error()
	}
	var parts []string
	voters, up := 0, 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		h := api.HealthUnknown
		if string(s.ID) == c.cfg.Name {
			h = api.HealthAlive
		} else if m, ok := c.member(string(s.ID)); ok {
			h = m.health
		}
		if h == api.HealthAlive {
			up++
		}
		parts = append(parts, string(s.ID)+" "+h)
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d of %d voters reachable: %s; a majority is %d", up, voters, strings.Join(parts, ", "), voters/2+1)
}

// bootstrap creates the site's raft configuration on a server that has
// none: the voting servers of the spec that membership sees alive, this one
// included. Called with applyMu held.
func (c *Cluster) bootstrap(spec *spec.Site) error {
	self := spec.Server(c.cfg.Name)
	if self == nil || !self.Kind.Votes(spec.AllVirtual()) {
		return fmt.Errorf("this server (%s) is not a voting server of the spec; send the first apply to one of its recording, standby or witness servers (to a virtual server only when the site has no other kind)", c.cfg.Name)
	}
	var servers []raft.Server
	var left []string
	for _, s := range spec.Servers {
		if !s.Kind.Votes(spec.AllVirtual()) {
			continue
		}
		if s.Name == c.cfg.Name {
			servers = append(servers, raft.Server{ID: raft.ServerID(s.Name), Address: raft.ServerAddress(c.raftAddr), Suffrage: raft.Voter})
			continue
		}
		m, ok := c.member(s.Name)
		if ok && (m.raftConfigured || m.revision > 0) {
			return fmt.Errorf("%w: server %s already belongs to this site's quorum but this server was not added yet; send the apply to the master, which adds this server once it sees it", ErrNotLeader, s.Name)
		}
		if !ok || m.health != api.HealthAlive {
			left = append(left, s.Name)
			continue
		}
		servers = append(servers, raft.Server{
			ID:       raft.ServerID(s.Name),
			Address:  m.raftAddr(),
			Suffrage: raft.Voter,
		})
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].ID < servers[j].ID })
	if err := c.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("creating the site's quorum: %w", err)
	}
	names := make([]string, len(servers))
	for i, s := range servers {
		names[i] = string(s.ID)
	}
	c.log.Info("created the site's quorum", "voters", names, "added_later", left)
	c.raftConfigured.Store(true)
	c.signal(c.metaCh)
	return nil
}

// TransferLeadership moves the master role to the named voting server.
// Master only.
func (c *Cluster) TransferLeadership(to string) error {
	if !c.IsLeader() {
		return c.notLeaderErr()
	}
	if to == c.cfg.Name {
		return nil
	}
	var names []string
	for _, s := range c.otherVoters() {
		if string(s.ID) == to {
			// A transfer times out after one election timeout, which a
			// lagging or busy target can miss: try a few times.
			var err error
			for range 3 {
				err = c.raft.LeadershipTransferToServer(s.ID, s.Address).Error()
				if err == nil || !c.IsLeader() {
					break
				}
			}
			if err != nil {
				if name, _ := c.Leader(); name == to {
					return nil // it moved just after the timeout
				}
				return fmt.Errorf("moving the master role to %s: %w", to, err)
			}
			return nil
		}
		names = append(names, string(s.ID))
	}
	if len(names) == 0 {
		return fmt.Errorf("server %s is not a voting member of the site: %s is its only voting server", to, c.cfg.Name)
	}
	return fmt.Errorf("server %s is not a voting member of the site (voters besides %s: %s)", to, c.cfg.Name, strings.Join(names, ", "))
}
