package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// nodeMeta is carried in memberlist's node metadata (512 bytes at most).
type nodeMeta struct {
	Version string `json:"v"`
	Site    string `json:"site"`
	APIPort int    `json:"api"`
	// Raft is set once the server belongs to a raft configuration; Rev is
	// its committed revision. A fresh server refuses to bootstrap when a
	// peer already has either.
	Raft bool   `json:"raft,omitempty"`
	Rev  uint64 `json:"rev,omitempty"`
}

// statusRec is a member's status payload; Seq orders versions of it (it
// starts at the publisher's start time in nanoseconds, so it grows across
// restarts).
type statusRec struct {
	Seq     uint64 `json:"seq"`
	Payload []byte `json:"payload"`
}

// User messages over memberlist.
const (
	msgStatus  byte = 1 // statusMsg
	msgLeaving byte = 2 // the sender's name: it is shutting down on purpose
	// Second opinions before a dead verdict (opinionMsg).
	msgOpinionAsk    byte = 3
	msgOpinionAnswer byte = 4
)

type statusMsg struct {
	Name string `json:"name"`
	statusRec
}

// delegate implements memberlist's delegates, keeping them off Cluster's API.
type delegate struct{ c *Cluster }

func (c *Cluster) startMembership() error {
	k := c.cfg.Keepalive
	mc := memberlist.DefaultLANConfig()
	mc.Name = c.cfg.Name
	mc.BindAddr = c.cfg.BindAddr
	mc.BindPort = c.cfg.Port + 1
	mc.AdvertiseAddr = c.advertise
	mc.AdvertisePort = c.cfg.Port + 1
	// Failure detection, see the package documentation.
	mc.ProbeInterval = k
	mc.ProbeTimeout = k / 2
	// memberlist's dead verdict is the backstop behind healthLoop's: it
	// waits 4 keepalives once others confirm the suspicion, 12 without.
	mc.SuspicionMult = 4
	mc.SuspicionMaxTimeoutMult = 3
	mc.GossipInterval = clamp(k/5, 20*time.Millisecond, 200*time.Millisecond)
	mc.PushPullInterval = clamp(10*k, 2*time.Second, 30*time.Second)
	mc.TCPTimeout = clamp(5*k, 2*time.Second, 10*time.Second)
	mc.DeadNodeReclaimTime = clamp(10*k, 5*time.Second, time.Minute)
	// Encryption and authentication with a key derived from the site key;
	// the label keeps other sites' traffic out even before decryption.
	key := deriveKey(c.cfg.SiteKey, "memberlist")
	kr, err := memberlist.NewKeyring(nil, key)
	if err != nil {
		return fmt.Errorf("cluster: membership keyring: %w", err)
	}
	mc.Keyring = kr
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.Label = "vigil/" + c.cfg.Site
	// Forged and foreign packets are dropped before memberlist sees them.
	tr, err := c.membershipTransport(mc.Label, key)
	if err != nil {
		return err
	}
	mc.Transport = tr
	d := &delegate{c: c}
	mc.Delegate = d
	mc.Events = d
	mc.Alive = d
	mc.Merge = d
	mc.Logger = c.memberlistLogger()
	c.statuses[c.cfg.Name] = statusRec{Seq: c.selfSeq}

	ml, err := memberlist.Create(mc)
	if err != nil {
		tr.Shutdown()
		return fmt.Errorf("cluster: starting membership on %s:%d: %w", c.cfg.BindAddr, c.cfg.Port+1, err)
	}
	c.ml = ml
	return nil
}

// joinAddrs adds the default membership port to bare hosts.
func joinAddrs(in []string) []string {
	out := make([]string, 0, len(in))
	for _, a := range in {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(a, strconv.Itoa(spec.DefaultAPIPort+1))
		}
		out = append(out, a)
	}
	return out
}

func (c *Cluster) meta() nodeMeta {
	return nodeMeta{
		Version: c.cfg.Version, Site: c.cfg.Site, APIPort: c.cfg.Port,
		Raft: c.raftConfigured.Load(), Rev: c.revision.Load(),
	}
}

// NodeMeta implements memberlist.Delegate.
func (d *delegate) NodeMeta(limit int) []byte {
	b, _ := json.Marshal(d.c.meta())
	if len(b) > limit {
		d.c.log.Error("node metadata too large", "bytes", len(b), "limit", limit)
		return nil
	}
	return b
}

// NotifyMsg implements memberlist.Delegate: status payloads from peers.
func (d *delegate) NotifyMsg(b []byte) {
	if len(b) == 0 {
		return
	}
	if b[0] == msgLeaving {
		d.c.mu.Lock()
		d.c.leaving[string(b[1:])] = true
		d.c.mu.Unlock()
		return
	}
	if b[0] == msgOpinionAsk || b[0] == msgOpinionAnswer {
		d.c.onOpinion(b[0] == msgOpinionAsk, b[1:])
		return
	}
	if b[0] != msgStatus {
		return
	}
	var m statusMsg
	if err := json.Unmarshal(b[1:], &m); err != nil {
		d.c.log.Warn("undecodable status message", "err", err)
		return
	}
	if d.c.mergeStatus(m.Name, m.statusRec) {
		d.c.notify()
	}
}

// GetBroadcasts implements memberlist.Delegate. Status payloads may exceed
// a UDP packet, so they are sent over memberlist's reliable (TCP) channel by
// publishLoop instead of being gossiped.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState implements memberlist.Delegate: the push/pull anti-entropy
// carries every status payload this node knows.
func (d *delegate) LocalState(join bool) []byte {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	b, _ := json.Marshal(d.c.statuses)
	return b
}

// MergeRemoteState implements memberlist.Delegate.
func (d *delegate) MergeRemoteState(buf []byte, join bool) {
	var in map[string]statusRec
	if err := json.Unmarshal(buf, &in); err != nil {
		d.c.log.Warn("undecodable membership state from a peer", "err", err)
		return
	}
	changed := false
	for name, s := range in {
		if d.c.mergeStatus(name, s) {
			changed = true
		}
	}
	if changed {
		d.c.notify()
	}
}

// mergeStatus keeps s if it is newer than what we have; our own status is
// only ever set by SetStatus.
func (c *Cluster) mergeStatus(name string, s statusRec) bool {
	if name == c.cfg.Name {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.statuses[name]; ok && cur.Seq >= s.Seq {
		return false
	}
	c.statuses[name] = s
	return true
}

// SetStatus publishes this server's status payload (running cameras,
// storage, ...) to every member: at once over memberlist's encrypted TCP
// channel, and again with each push/pull exchange, so members that missed it
// catch up. An unchanged payload is not resent.
func (c *Cluster) SetStatus(b []byte) {
	c.mu.Lock()
	cur := c.statuses[c.cfg.Name]
	if bytes.Equal(cur.Payload, b) && cur.Payload != nil {
		c.mu.Unlock()
		return
	}
	c.selfSeq++
	c.statuses[c.cfg.Name] = statusRec{Seq: c.selfSeq, Payload: bytes.Clone(b)}
	c.mu.Unlock()
	c.signal(c.publishCh)
	c.notify()
}

// publishLoop sends the latest own status to every live member whenever it
// changes or a member joins; bursts coalesce into one send.
func (c *Cluster) publishLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.shutdownCh:
			return
		case <-c.publishCh:
		case <-c.metaCh:
			// Node metadata changed (raft membership, revision): re-announce.
			if err := c.ml.UpdateNode(2 * c.cfg.Keepalive); err != nil {
				c.log.Debug("announcing node metadata", "err", err)
			}
			continue
		}
		c.mu.Lock()
		msg, _ := json.Marshal(statusMsg{Name: c.cfg.Name, statusRec: c.statuses[c.cfg.Name]})
		c.mu.Unlock()
		msg = append([]byte{msgStatus}, msg...)
		for _, n := range c.liveNodes() {
			if err := c.ml.SendReliable(n, msg); err != nil {
				c.log.Debug("sending status", "to", n.Name, "err", err)
			}
		}
	}
}

// checkPeer refuses members of another site or another version.
func (c *Cluster) checkPeer(n *memberlist.Node) error {
	if n.Name == c.cfg.Name {
		return nil
	}
	var m nodeMeta
	if err := json.Unmarshal(n.Meta, &m); err != nil {
		return c.refuse(n.Name, fmt.Sprintf("server %s at %s is not a compatible vigil agent (unreadable metadata)", n.Name, n.Addr))
	}
	if m.Site != c.cfg.Site {
		return c.refuse(n.Name, fmt.Sprintf("server %s belongs to site %q, not %q", n.Name, m.Site, c.cfg.Site))
	}
	if m.Version != c.cfg.Version {
		return c.refuse(n.Name, fmt.Sprintf("server %s runs vigil %s but this site runs %s; all servers of a site run the same version", n.Name, m.Version, c.cfg.Version))
	}
	return nil
}

// refuse logs and reports a refused member, at most once a minute per
// member and reason (alive messages repeat every few probes).
func (c *Cluster) refuse(name, reason string) error {
	c.mu.Lock()
	c.refusals[name] = Refusal{Name: name, Reason: reason, Seen: time.Now()}
	report := c.firstInMinute(name + "\x00" + reason)
	c.mu.Unlock()
	if report {
		c.log.Warn("member refused: "+reason, "peer", name)
		c.emit(spec.SeverityError, spec.EventServerRefused, name, reason)
	}
	return fmt.Errorf("refused: %s", reason)
}

// onRaftRefused reports a raft connection that failed authentication, at
// most once a minute per remote host.
func (c *Cluster) onRaftRefused(remote string, err error) {
	host, _, _ := net.SplitHostPort(remote)
	c.mu.Lock()
	report := c.firstInMinute("raft\x00" + host)
	c.mu.Unlock()
	if report {
		msg := fmt.Sprintf("raft connection from %s refused: %v", remote, err)
		c.log.Warn(msg)
		c.emit(spec.SeverityError, spec.EventRaftRefused, "", msg)
	}
}

// firstInMinute reports whether a refusal keyed key was not reported in the
// last minute, and if so records it as reported now. Called with c.mu held.
func (c *Cluster) firstInMinute(key string) bool {
	if last, ok := c.refused[key]; ok && time.Since(last) <= time.Minute {
		return false
	}
	c.refused[key] = time.Now()
	return true
}

// NotifyAlive implements memberlist.AliveDelegate.
func (d *delegate) NotifyAlive(n *memberlist.Node) error { return d.c.checkPeer(n) }

// NotifyMerge implements memberlist.MergeDelegate: a join or push/pull with
// a refused member is cancelled.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	for _, n := range peers {
		if err := d.c.checkPeer(n); err != nil {
			return err
		}
	}
	return nil
}

// NotifyJoin implements memberlist.EventDelegate.
func (d *delegate) NotifyJoin(n *memberlist.Node) {
	if n.Name == d.c.cfg.Name {
		return
	}
	d.c.mu.Lock()
	delete(d.c.leaving, n.Name)
	d.c.mu.Unlock()
	d.c.setHealth(n, api.HealthAlive, false)
	d.c.signal(d.c.publishCh)
	d.c.signal(d.c.reconcileCh)
}

// NotifyLeave implements memberlist.EventDelegate: the member failed (dead)
// or left.
// memberlist does not say which (its Node.State is not maintained), so a
// server shutting down says so first (announceLeave).
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	if n.Name == d.c.cfg.Name {
		return
	}
	d.c.mu.Lock()
	left := d.c.leaving[n.Name]
	delete(d.c.leaving, n.Name)
	d.c.mu.Unlock()
	d.c.setHealth(n, api.HealthDead, left)
}

// NotifyUpdate implements memberlist.EventDelegate: new metadata.
func (d *delegate) NotifyUpdate(n *memberlist.Node) {
	if n.Name == d.c.cfg.Name {
		return
	}
	d.c.setHealth(n, "", false)
	d.c.signal(d.c.reconcileCh)
}

// setHealth records n's metadata and, unless health is "", its health.
func (c *Cluster) setHealth(n *memberlist.Node, health string, left bool) {
	var m nodeMeta
	_ = json.Unmarshal(n.Meta, &m)
	c.mu.Lock()
	r, ok := c.members[n.Name]
	if !ok {
		r = &memberRec{health: api.HealthAlive, since: time.Now()}
		c.det.answered(&r.peer, time.Now())
		c.members[n.Name] = r
	}
	if health != "" {
		r.gone = health == api.HealthDead // memberlist's verdict
	}
	if health == api.HealthAlive {
		c.det.answered(&r.peer, time.Now())
	}
	r.addr = n.Addr.String()
	r.mlPort = int(n.Port)
	if m.APIPort != 0 {
		r.apiPort = m.APIPort
	} else if r.apiPort == 0 {
		r.apiPort = int(n.Port) - 1
	}
	if m.Version != "" {
		r.version = m.Version
	}
	r.raftConfigured, r.revision = m.Raft, m.Rev
	changed := !ok
	if health != "" && (health != r.health || left != r.left) {
		r.health, r.left, r.since = health, left, time.Now()
		changed = true
	}
	c.mu.Unlock()
	if changed {
		c.healthEvent(n.Name, r.addr, health, left)
	}
	c.notify()
}

func (c *Cluster) healthEvent(name, addr, health string, left bool) {
	switch {
	case health == api.HealthDead && left:
		c.log.Info("server left the site", "peer", name)
		c.emit(spec.SeverityWarning, spec.EventServerLeft, name, fmt.Sprintf("server %s left the site: shut down (seen by %s)", name, c.cfg.Name))
	case health == api.HealthDead:
		c.log.Warn("server is dead", "peer", name)
		c.emit(spec.SeverityError, spec.EventServerDead, name, fmt.Sprintf("server %s is dead: no answer to keepalives (seen by %s)", name, c.cfg.Name))
	case health == api.HealthSuspect:
		c.log.Warn("server is suspect", "peer", name)
		c.emit(spec.SeverityWarning, spec.EventServerSuspect, name, fmt.Sprintf("server %s is suspect: missed a keepalive (seen by %s)", name, c.cfg.Name))
	default:
		c.log.Info("server is alive", "peer", name, "addr", addr)
		c.emit(spec.SeverityInfo, spec.EventServerAlive, name, fmt.Sprintf("server %s is alive (seen by %s)", name, c.cfg.Name))
	}
}

// healthLoop decides late, suspect and dead as this server sees them.
// memberlist keeps its own suspicion to itself (no delegate reports it) and
// its dead verdict is slow, so this server pings each member memberlist
// still probes every eighth of a keepalive (one ping in flight per member)
// and judges the silence since the last answer with a detector (see
// detector.go: deaf time, awareness, second opinions); an answer makes a
// member alive at once. Pings are small (a site of 40 servers sends about
// 300 a second per server), and the early late verdict is what lets backups
// get ready before a failure is declared. memberlist's own verdicts still
// apply: NotifyLeave (dead or left) and NotifyJoin (back).
func (c *Cluster) healthLoop() {
	defer c.wg.Done()
	k := c.cfg.Keepalive
	t := time.NewTicker(k / 8)
	defer t.Stop()
	inFlight := map[string]bool{}
	answers := make(chan pingResult)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-c.shutdownCh:
			return
		case r := <-answers:
			delete(inFlight, r.name)
			if r.ok {
				c.judge(r.name, true, time.Now())
			}
			continue
		case <-t.C:
		}
		// A server added to a raft configuration by the master announces
		// it, so that it is never asked to bootstrap another one.
		if !c.raftConfigured.Load() && c.hasRaftConfig() {
			c.raftConfigured.Store(true)
			c.signal(c.metaCh)
		}
		now := time.Now()
		c.mu.Lock()
		listened := c.det.tick(now)
		c.mu.Unlock()
		for _, n := range c.probedNodes() {
			if listened {
				c.judge(n.Name, false, now)
			}
			if inFlight[n.Name] {
				continue
			}
			inFlight[n.Name] = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.ml.Ping(n.Name, &net.UDPAddr{IP: n.Addr, Port: int(n.Port)})
				select {
				case answers <- pingResult{n.Name, err == nil}:
				case <-c.shutdownCh:
				}
			}()
		}
	}
}

type pingResult struct {
	name string
	ok   bool
}

// deadAfterMin is the least silence that makes a member dead, so that a
// short test keepalive does not turn a busy moment into a takeover.
const deadAfterMin = time.Second

// judge moves name's health by the detector's verdict at now (an answer
// when answered). Before a dead verdict it asks up to two other members
// that this server hears whether they still hear name (askOpinions).
func (c *Cluster) judge(name string, answered bool, now time.Time) {
	c.mu.Lock()
	r, ok := c.members[name]
	if !ok || r.gone {
		c.mu.Unlock()
		return // memberlist's verdict stands until NotifyJoin
	}
	if answered {
		c.det.answered(&r.peer, now)
	}
	witnesses := c.witnessesFor(name, now)
	v := c.det.judge(&r.peer, now, len(witnesses))
	if v.ask {
		witnesses = witnesses[:min(len(witnesses), 2)]
		c.det.asking(&r.peer, now, len(witnesses))
	}
	moved := r.health != v.health
	changed := moved || r.late != v.late
	if moved {
		r.health, r.left, r.since = v.health, false, now
	}
	r.late = v.late
	addr := r.addr
	askedAt := r.asked
	c.mu.Unlock()
	if v.ask {
		c.askOpinions(name, askedAt, witnesses)
	}
	if moved {
		c.healthEvent(name, addr, v.health, false)
	}
	if changed {
		c.notify()
	}
}

// witnessesFor lists the members other than name that this server hears,
// sorted by name: those that can give a second opinion on name. Called
// with c.mu held.
func (c *Cluster) witnessesFor(name string, now time.Time) []*memberlist.Node {
	var out []*memberlist.Node
	for n, r := range c.members {
		if n != name && !r.gone && r.mlPort != 0 && r.health == api.HealthAlive && c.det.hears(&r.peer, now) {
			out = append(out, &memberlist.Node{Name: n, Addr: net.ParseIP(r.addr), Port: uint16(r.mlPort)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// opinionMsg asks a member whether it hears Target (Hears unset), or
// answers that question. At identifies the question (the asker's clock).
type opinionMsg struct {
	From   string `json:"from"`
	Target string `json:"target"`
	At     int64  `json:"at"`
	Hears  bool   `json:"hears,omitempty"`
}

// askOpinions asks the witnesses whether they still hear name, over
// memberlist's reliable channel, without blocking the caller.
func (c *Cluster) askOpinions(name string, at time.Time, witnesses []*memberlist.Node) {
	msg, _ := json.Marshal(opinionMsg{From: c.cfg.Name, Target: name, At: at.UnixNano()})
	msg = append([]byte{msgOpinionAsk}, msg...)
	for _, w := range witnesses {
		c.log.Debug("asking for a second opinion before a dead verdict", "server", name, "witness", w.Name)
		go c.sendReliable(w, msg)
	}
}

// sendReliable sends msg unless the cluster is shutting down; it is run
// on its own goroutine by handlers that must not block.
func (c *Cluster) sendReliable(n *memberlist.Node, msg []byte) {
	select {
	case <-c.shutdownCh:
		return
	default:
	}
	if err := c.ml.SendReliable(n, msg); err != nil {
		c.log.Debug("sending a second opinion message", "to", n.Name, "err", err)
	}
}

// onOpinion handles a second-opinion question or answer.
func (c *Cluster) onOpinion(ask bool, b []byte) {
	var m opinionMsg
	if err := json.Unmarshal(b, &m); err != nil {
		c.log.Warn("undecodable second opinion message", "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ask {
		if r, ok := c.members[m.Target]; ok && r.asked.UnixNano() == m.At {
			r.opinion(m.From, m.Hears)
		}
		return
	}
	asker, ok := c.members[m.From]
	if !ok || asker.mlPort == 0 {
		return
	}
	r, ok := c.members[m.Target]
	m.Hears = ok && !r.gone && c.det.hears(&r.peer, time.Now())
	m.From = c.cfg.Name
	out, _ := json.Marshal(m)
	go c.sendReliable(&memberlist.Node{Name: m.From, Addr: net.ParseIP(asker.addr), Port: uint16(asker.mlPort)},
		append([]byte{msgOpinionAnswer}, out...))
}

// joinLoop keeps trying to reach servers that are not alive: the
// configured join addresses while no peer is known, and every server of the
// committed spec that membership does not see alive (a partition heals, a
// server restarts). memberlist on its own never contacts dead members again.
func (c *Cluster) joinLoop() {
	defer c.wg.Done()
	// The first attempt runs at once, in the background: unreachable peers
	// cost a TCP timeout each, and must not delay the start of recording.
	if len(c.cfg.Join) > 0 {
		if n, err := c.ml.Join(joinAddrs(c.cfg.Join)); err != nil {
			c.log.Warn("no peer reachable yet; retrying in the background", "join", c.cfg.Join, "err", err)
		} else {
			c.log.Info("joined the site", "contacted", n)
		}
	}
	t := time.NewTicker(clamp(5*c.cfg.Keepalive, 2*time.Second, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-c.shutdownCh:
			return
		case <-t.C:
		}
		var addrs []string
		alive := map[string]bool{}
		for _, n := range c.liveNodes() {
			alive[n.Name] = true
		}
		if len(alive) == 0 {
			addrs = joinAddrs(c.cfg.Join)
		}
		if site := c.fsm.current().Spec; site != nil {
			for _, s := range site.Servers {
				if alive[s.Name] || s.Name == c.cfg.Name || !s.Kind.Votes(site.AllVirtual()) || s.Address == "" {
					continue
				}
				port := s.Port
				if port == 0 {
					port = spec.DefaultAPIPort
				}
				addrs = append(addrs, net.JoinHostPort(s.Address, strconv.Itoa(port+1)))
			}
		}
		if len(addrs) == 0 {
			continue
		}
		if n, err := c.ml.Join(addrs); err == nil {
			c.log.Debug("rejoined", "contacted", n)
		}
	}
}

// liveNodes lists the other members not known dead, as fresh memberlist
// nodes built from our records: the *Node values memberlist returns are
// updated by it concurrently, so they are not handed back to it.
func (c *Cluster) liveNodes() []*memberlist.Node {
	return c.nodes(func(r *memberRec) bool { return r.health != api.HealthDead })
}

// probedNodes lists the other members that memberlist has not given up on,
// dead to us or not: healthLoop keeps pinging them.
func (c *Cluster) probedNodes() []*memberlist.Node {
	return c.nodes(func(r *memberRec) bool { return !r.gone })
}

func (c *Cluster) nodes(keep func(*memberRec) bool) []*memberlist.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*memberlist.Node
	for name, r := range c.members {
		if keep(r) && r.mlPort != 0 {
			out = append(out, &memberlist.Node{Name: name, Addr: net.ParseIP(r.addr), Port: uint16(r.mlPort)})
		}
	}
	return out
}

// Refusal is a server that tried to join this site and was refused.
type Refusal struct {
	Name   string
	Reason string
	Seen   time.Time // last attempt
}

// refusalWindow is how long a refusal is listed after the last attempt;
// refused servers retry at least every 30 s (joinLoop).
const refusalWindow = time.Minute

// Refused lists the servers refused within the last minute (another
// version or another site), sorted by name.
func (c *Cluster) Refused() []Refusal {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Refusal
	for _, r := range c.refusals {
		if time.Since(r.Seen) < refusalWindow {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
