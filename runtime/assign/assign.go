// Package assign decides which servers record which cameras. It is the heart
// of the site: every agent runs Assign on its own view of the cluster (the
// last committed spec, its membership view, the balancing moves in force and
// the recorder sessions its peers gossip) and records the cameras the result
// gives it, so recording and takeover never wait for quorum. The planner runs
// the same function to show where cameras land when servers fail
// (`vigil plan -fail`), and CheckNPlusOne runs it once per server to tell
// whether the site survives the loss of any one server (vigil plan, the
// console and vigil validate's warning).
//
// Assign is a pure function: no I/O, no clock, no randomness. The same Input
// gives the same Result on every agent, whatever the order of maps and of the
// Overrides slice.
//
// # Words
//
// A server can record when its kind is recording or standby
// (spec.ServerKind.CanRecord); witness and virtual servers never record, and a name that is not a server of the site
// records nothing. A server is alive when membership says alive; a server
// missing from Members counts as unknown, which is not alive.
//
// A camera's main server is where it belongs right now: the server of a
// balancing move in force (Override; role "balance") when that server is up,
// otherwise its primary server (role "primary"). Up depends on the camera's
// redundancy: `normal` and `constant` cameras leave their server only when it
// is dead or unknown (a suspect server keeps them), `fast` cameras leave as
// soon as it is suspect. Servers only ever take over cameras when they are
// alive.
//
// A camera's cover list is its ordered backup list, or the ordered servers of
// its group (spec.Site.BackupServers), then every standby server of the site in
// declaration order that is not already in the list. Standby servers (N+1,
// N+2) cover failures: they are used after the explicit backups and always
// hand cameras back (see failback). A camera whose spec names a standby as its
// primary is still recorded there.
//
// # Order of decisions
//
//  1. Locked cameras stay on their primary server. While it is down they are
//     dark; nothing else ever records them (no backup, no constant copy, no
//     handover). A suspect server keeps its locked cameras whatever their
//     redundancy. Overrides do not apply to locked cameras.
//  2. Home: every camera whose main server is up is placed there, in camera
//     name order, while the server has room (max_cameras; 0 means no limit).
//     Home placement happens before anything else, so a server's own cameras
//     never move because another server died or because covers need room.
//     Two kinds of cameras skip this step although their primary is up: a
//     camera whose balancing server is down (it goes back to its primary in
//     step 4), and, with failback off, a camera that one of its recording-kind
//     backups is running while its primary is not (step 4 keeps it there). A
//     camera whose main server is full goes on to steps 4 and 5.
//  3. Failover budget: a server that is down for at least one of its cameras
//     (that needs covering) is a failed server. With max_concurrent_failovers
//     N > 0, the first N failed servers in the order they failed
//     (Member.Since, then name; an unknown server absent from Members failed
//     at the zero time) are covered and the others are queued: their cameras
//     are uncovered, with a reason naming the queue, until a covered server
//     returns. A camera whose primary is not a recording server of the site is
//     covered without taking a slot.
//  4. Back home, in camera name order: a camera whose main server is up but
//     that was not placed at home takes the first alive server with room
//     among: with failback off, the recording-kind backups of its list that
//     run it; its main server (the primary, after its balancing server died);
//     its primary, when the main server is a full balancing server. This
//     happens before any cover, so covers for a failure elsewhere never push
//     these cameras out; they only compete, in name order, with the other
//     cameras coming back to the same server, which another failure may add
//     (a camera whose balancing server died). With failback off, a camera
//     that runs on a full backup comes home, and stays on the backup if that
//     backup has room again.
//  5. Covers, in camera name order: every camera still not placed (its main
//     server down and not queued, or full) takes the first alive server with
//     room of its cover list. A camera that fits nowhere is uncovered.
//  6. Constant copies, in camera name order: a `constant` camera gets a second
//     recorder (role "constant"): the first alive server with room, not
//     already recording it, among its main server, its cover list and, for a
//     balanced camera, its primary. So the primary and its first live backup
//     record it at all times, and while the primary is down the first two
//     live servers of its cover list do. When
//     the primary is queued by max_concurrent_failovers, the camera keeps one
//     constant copy on the first live server with room of its explicit backup
//     list (never a standby): that copy existed before the failure, so keeping
//     it adds no load and no gap.
//  7. Make-before-break handovers, in camera name order: when none of the
//     camera's new recorders has a running session for it (Running), every
//     alive server that still runs it keeps recording it (role "failback"),
//     while it has room, until a new recorder runs it. This covers failback
//     (the primary returns and the backup keeps recording until the primary
//     runs the camera), balancing moves and spec changes. Uncovered, dark and
//     locked cameras get no handover.
//
// # Drain
//
// A draining server (Member.Draining: vigil drain, a planned stop) is
// treated as dead for its own cameras and takes nothing new, but it stays a
// running server for step 7: it keeps recording each camera until one of
// the camera's new recorders runs it, so a drain loses no frame. A camera
// that no other server can take (all covers down or full) stays on it
// (step 5, with a reason saying so); locked cameras stay too. A drain is
// not a failure: it takes no max_concurrent_failovers slot.
//
// # Failback
//
// With failback on (the default), a camera returns to its primary as soon as
// the primary is up again, make-before-break (step 7). With failback off, a
// pure function has no memory of who recorded a camera before, so the running
// sessions are the memory: while the primary does not run the camera and an
// alive backup of kind recording from the camera's list does, the camera stays
// on that backup. It goes back to its primary only when that backup dies or is
// full. Standby servers always fail back, so that they are free for the next
// failure.
//
// # Capacity
//
// max_cameras is never exceeded: every recorder of every role counts. Servers
// fill in the order of the steps above (home, back home, covers, constant
// copies, handovers), and inside a step in camera name order. A server's own
// cameras therefore come before covers, and covers (no gap) before second
// copies (redundancy).
//
// # State
//
// A camera is recording when its first recorder is its primary or its
// balancing server, covered when another server records it, dark when it is
// locked to a server that is down or cannot record, and uncovered when nobody
// records it. Reason says why in a few words, naming servers.
//
// # Guarantees
//
// The tests check these over thousands of random sites: no server exceeds
// max_cameras; witness and virtual servers never record; only alive servers
// take cameras over; locked cameras are recorded by their server or by nobody;
// a camera that is neither locked nor queued is uncovered only when every
// server that could take it is down or full; a camera at home on a healthy
// server (step 2) stays there when another server dies; at most
// max_concurrent_failovers failed servers are covered; a constant camera has
// two recorders whenever a second live server with room can take it; a server
// that runs a camera keeps it until one of the new recorders runs it; the
// result does not depend on map order, camera order or override order.
package assign

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// Recorder roles.
const (
	RolePrimary  = "primary"  // the camera's primary server
	RoleBackup   = "backup"   // a backup or standby covering for a down or full main server
	RoleConstant = "constant" // the second recorder of a constant-redundancy camera
	RoleBalance  = "balance"  // the server of a balancing move in force
	RoleFailback = "failback" // a server still recording during a make-before-break handover
)

// Member is one server's health as this agent's membership sees it.
type Member struct {
	// Health is api.HealthAlive, HealthSuspect, HealthDead or HealthUnknown.
	Health string
	// Since is when the server entered that health; it orders failed servers
	// for max_concurrent_failovers.
	Since time.Time
	// Draining: the server hands its cameras away on purpose (vigil drain,
	// a planned stop). It takes nothing new and its cameras go to their
	// covers as if it were dead, but it keeps recording each of them until
	// a new recorder runs it (step 7); a camera no other server can take
	// stays on it. A drain is not a failure: it takes no
	// max_concurrent_failovers slot.
	Draining bool
	// Left: a dead server that announced its departure (a planned stop).
	// Reasons say "left", as vigil status shows its health, not "dead".
	Left bool
}

// Input is everything the assignment depends on.
type Input struct {
	// Spec is the committed site spec; nil gives an empty Result. Its
	// Failback field is taken as is: the loader defaults it to true, a Site
	// built by hand must set it.
	Spec *spec.Site
	// Members by server name; a server absent from the map is HealthUnknown.
	Members map[string]Member
	// Running maps a server to the cameras it has a running recorder session
	// for right now (gossiped). It drives make-before-break handovers and the
	// failback-off policy.
	Running map[string]map[string]bool
	// Overrides are the balancing moves in force: the camera's main server
	// becomes Override.Server while that server is up. For two overrides of
	// the same camera, the latest Since wins (then the greatest server name).
	Overrides []api.Override
	// Now is the time of the computation. No policy depends on it today;
	// callers pass it so that time-based policies need no new contract.
	Now time.Time
}

// Recorder is one server recording a camera, and why.
type Recorder struct {
	Server string
	// Role is RolePrimary, RoleBackup, RoleConstant, RoleBalance or RoleFailback.
	Role string
}

// Camera is the decision for one camera.
type Camera struct {
	// Recorders are the servers that record it, main recorder first; empty
	// when the camera is dark or uncovered.
	Recorders []Recorder
	// State is api.CameraRecording, CameraCovered, CameraDark or CameraUncovered.
	State string
	// Reason explains State in a few words.
	Reason string
}

// Result is the assignment of a whole site.
type Result struct {
	// Cameras by camera name.
	Cameras map[string]Camera
	// Load is the number of cameras each server that can record records
	// (every role counts).
	Load map[string]int
	// Queued lists the failed servers whose cameras wait because
	// max_concurrent_failovers is reached, in the order they failed.
	Queued []string
}

// For returns the cameras the server must record, sorted by name.
func (r Result) For(server string) []string {
	var out []string
	for name, c := range r.Cameras {
		for _, rec := range c.Recorders {
			if rec.Server == server {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// LatestOverrides keeps one override per camera, whatever the order of the
// slice: the latest Since wins, then the greatest server name. The balancer
// uses it too, so that it sees the same moves in force as Assign.
func LatestOverrides(overrides []api.Override) map[string]api.Override {
	last := make(map[string]api.Override, len(overrides))
	for _, o := range overrides {
		if p, ok := last[o.Camera]; !ok || o.Since.After(p.Since) || (o.Since.Equal(p.Since) && o.Server > p.Server) {
			last[o.Camera] = o
		}
	}
	return last
}

// server is a server of the spec with its health and the load placed so far.
type server struct {
	name      string
	kind      spec.ServerKind // normalised: "" becomes spec.KindRecording
	canRecord bool
	health    string
	since     time.Time
	draining  bool
	left      bool // dead because it left the site (Member.Left)
	max       int
	load      int
}

// alive: s may take cameras (home, covers, constant copies).
func (s *server) alive() bool { return s.running() && !s.draining }

// running: s may go on recording what it runs (step 7), draining or not.
func (s *server) running() bool { return s.canRecord && s.health == api.HealthAlive }

// holds: s keeps its locked cameras, draining or not.
func (s *server) holds() bool {
	return s.canRecord && (s.health == api.HealthAlive || s.health == api.HealthSuspect)
}

// upFor reports whether s keeps a camera of the given redundancy: fast
// cameras leave a suspect server, the others wait until it is dead.
func (s *server) upFor(redundancy spec.Redundancy) bool {
	if !s.canRecord || s.draining {
		return false
	}
	switch s.health {
	case api.HealthAlive:
		return true
	case api.HealthSuspect:
		return redundancy != spec.RedundancyFast
	}
	return false
}

func (s *server) hasRoom() bool { return s.max <= 0 || s.load < s.max }

// why says in a few words why s cannot keep a camera of the given redundancy.
func (s *server) why(redundancy spec.Redundancy) string {
	switch {
	case !s.canRecord:
		return fmt.Sprintf("%s is a %s server and records nothing", s.name, s.kind)
	case s.health == api.HealthSuspect && redundancy == spec.RedundancyFast:
		return s.name + " suspect (fast redundancy)"
	case s.health == api.HealthUnknown:
		return s.name + " down (health unknown)"
	case s.draining && s.health == api.HealthAlive:
		return s.name + " draining"
	}
	return s.name + " " + s.healthWord()
}

// healthWord is the server's health as reasons name it: a dead server that
// left the site (a planned stop) is "left".
func (s *server) healthWord() string {
	if s.left {
		return api.HealthLeft
	}
	return s.health
}

func (s *server) fullWhy() string {
	return fmt.Sprintf("%s full (max_cameras %d)", s.name, s.max)
}

// work is the decision in progress for one camera.
type work struct {
	cam        *spec.Camera
	redundancy spec.Redundancy
	primary    *server // nil when the primary is not a server of the spec
	main       *server // where the camera belongs now; nil when none is up
	mainRole   string
	list       []*server // cover list: backups (or group), then standbys
	nBackups   int       // how many of list come from the backup list or group
	running    []*server // servers running the camera, by name

	home   bool // placed at home (step 2)
	cover  bool // to place in steps 4 and 5
	stay   bool // failback off: stay where it runs
	stayed bool // ... and it did
	queued bool // primary queued by max_concurrent_failovers
	dark   bool // locked to a server that is down or cannot record
	// drainedFrom is the draining server the camera would be at home on:
	// it stays there when no other server can take it (stuck).
	drainedFrom *server
	drainRole   string
	stuck       bool
	cause       string // why the camera is not at home, for the reason
	recs        []Recorder
}

func (w *work) has(s *server) bool {
	for _, r := range w.recs {
		if r.Server == s.name {
			return true
		}
	}
	return false
}

func (w *work) add(s *server, role string) {
	s.load++
	w.recs = append(w.recs, Recorder{Server: s.name, Role: role})
}

func (w *work) runs(s *server) bool {
	for _, r := range w.running {
		if r == s {
			return true
		}
	}
	return false
}

// Assign computes who records every camera of the site. See the package
// documentation for the policies and the order of decisions.
func Assign(in Input) Result {
	site := in.Spec
	if site == nil {
		return Result{Cameras: map[string]Camera{}, Load: map[string]int{}}
	}

	servers := make([]*server, 0, len(site.Servers))
	byName := make(map[string]*server, len(site.Servers))
	var standbys []*server
	for _, sv := range site.Servers {
		if sv == nil || byName[sv.Name] != nil {
			continue
		}
		kind := sv.Kind.OrDefault()
		s := &server{
			name:      sv.Name,
			kind:      kind,
			canRecord: kind.CanRecord(),
			health:    api.HealthUnknown,
			max:       sv.MaxCameras,
		}
		if m, ok := in.Members[sv.Name]; ok {
			switch m.Health {
			case api.HealthAlive, api.HealthSuspect, api.HealthDead:
				s.health = m.Health
			}
			s.since = m.Since
			s.draining = m.Draining
			s.left = m.Left && m.Health == api.HealthDead
		}
		servers = append(servers, s)
		byName[s.name] = s
		if kind == spec.KindStandby {
			standbys = append(standbys, s)
		}
	}

	overrides := LatestOverrides(in.Overrides)

	// Who runs what, inverted: camera -> servers, sorted by name so that map
	// order never shows.
	hint := 0
	if len(in.Running) > 0 {
		hint = len(site.Cameras)
	}
	running := make(map[string][]*server, hint)
	for name, cams := range in.Running {
		s := byName[name]
		if s == nil || !s.canRecord {
			continue
		}
		for cam, on := range cams {
			if on {
				running[cam] = append(running[cam], s)
			}
		}
	}
	for _, list := range running {
		slices.SortFunc(list, func(a, b *server) int { return strings.Compare(a.name, b.name) })
	}

	// The cameras by name; of two with one name, the first declared.
	cams := make([]*spec.Camera, 0, len(site.Cameras))
	for _, c := range site.Cameras {
		if c != nil {
			cams = append(cams, c)
		}
	}
	slices.SortStableFunc(cams, func(a, b *spec.Camera) int { return strings.Compare(a.Name, b.Name) })
	cams = slices.CompactFunc(cams, func(a, b *spec.Camera) bool { return a.Name == b.Name })

	res := Result{Cameras: make(map[string]Camera, len(cams)), Load: make(map[string]int, len(servers))}
	works := make([]*work, len(cams))
	pool := make([]work, len(cams))
	failed := map[*server]bool{}
	for i, c := range cams {
		w := &pool[i]
		*w = work{cam: c, redundancy: c.Redundancy, primary: byName[c.Server], running: running[c.Name]}
		if w.redundancy == "" {
			w.redundancy = spec.RedundancyNormal
		}
		works[i] = w
		decide(w, site, byName, standbys, overrides)
		if w.cover && w.main == nil && w.primary != nil && w.primary.canRecord && !w.primary.draining {
			failed[w.primary] = true
		}
	}

	// Step 3: the failover budget.
	order := make([]*server, 0, len(failed))
	for _, s := range servers {
		if failed[s] {
			order = append(order, s)
		}
	}
	slices.SortStableFunc(order, func(a, b *server) int {
		if c := a.since.Compare(b.since); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	queued := map[*server]bool{}
	var coveredNames []string
	if n := site.MaxConcurrentFailovers; n > 0 && len(order) > n {
		for _, s := range order[:n] {
			coveredNames = append(coveredNames, s.name)
		}
		for _, s := range order[n:] {
			queued[s] = true
			res.Queued = append(res.Queued, s.name)
		}
	}
	queueWhy := ""
	if len(queued) > 0 {
		queueWhy = fmt.Sprintf("queued: max_concurrent_failovers %d reached (covering %s)",
			site.MaxConcurrentFailovers, strings.Join(coveredNames, ", "))
	}

	// Step 2: home.
	for _, w := range works {
		if !w.home {
			continue
		}
		if w.main.hasRoom() {
			w.add(w.main, w.mainRole)
			continue
		}
		w.home = false
		if w.cam.Locked {
			w.cause = "locked to " + w.main.fullWhy()
			continue
		}
		w.cover = true
		w.cause = w.main.fullWhy()
		if w.mainRole == RoleBalance {
			w.cause = "balancing server " + w.cause
		}
	}

	// Step 4: cameras whose main server is up but that are not at home go
	// back to it (or stay where they run, failback off) before any cover, so
	// that another server's failure cannot push them out.
	for _, w := range works {
		if !w.cover || w.main == nil {
			continue
		}
		for _, c := range homeCandidates(w) {
			if c.s.hasRoom() {
				w.add(c.s, c.role)
				w.stayed = c.stay
				break
			}
		}
	}

	// Step 5: covers from the cover list.
	for _, w := range works {
		if !w.cover || len(w.recs) > 0 {
			continue
		}
		if w.main == nil && w.primary != nil && queued[w.primary] {
			w.queued = true
			continue
		}
		for _, s := range w.list {
			if s.alive() && s.hasRoom() {
				w.add(s, RoleBackup)
				break
			}
		}
		// A drain leaves where they are the cameras nobody else can take.
		if d := w.drainedFrom; len(w.recs) == 0 && d != nil && d.running() && d.hasRoom() {
			w.add(d, w.drainRole)
			w.stuck = true
		}
	}

	// Step 6: constant copies.
	for _, w := range works {
		if w.redundancy != spec.RedundancyConstant || w.cam.Locked || (len(w.recs) == 0 && !w.queued) {
			continue
		}
		var cands []*server
		if w.queued {
			cands = w.list[:w.nBackups]
		} else {
			if w.main != nil {
				cands = append(cands, w.main)
			}
			cands = append(cands, w.list...)
			if w.primary != nil {
				cands = append(cands, w.primary) // a balanced camera's primary, last
			}
		}
		for _, s := range cands {
			if s.alive() && s.hasRoom() && !w.has(s) {
				w.add(s, RoleConstant)
				break
			}
		}
	}

	// Step 7: make-before-break handovers.
	for _, w := range works {
		if len(w.recs) == 0 || w.cam.Locked || slices.ContainsFunc(w.running, w.has) {
			continue // nothing to hand over, or a new recorder already runs it
		}
		for _, s := range w.running {
			if s.running() && s.hasRoom() && !w.has(s) {
				w.add(s, RoleFailback)
			}
		}
	}

	for _, w := range works {
		res.Cameras[w.cam.Name] = finish(w, queueWhy)
	}
	for _, s := range servers {
		if s.canRecord {
			res.Load[s.name] = s.load
		}
	}
	return res
}

// decide fills the camera's main server, cover list and the step that places
// it (steps 1 and 2 of the package documentation).
func decide(w *work, site *spec.Site, byName map[string]*server, standbys []*server, overrides map[string]api.Override) {
	c, p := w.cam, w.primary
	if c.Locked {
		// A suspect server keeps its locked cameras: nobody else may record them.
		if p != nil && p.holds() {
			w.main, w.mainRole, w.home = p, RolePrimary, true
			return
		}
		w.dark = true
		switch {
		case p == nil:
			w.cause = fmt.Sprintf("locked to %s, which is not a server of this site", c.Server)
		case !p.canRecord:
			w.cause = fmt.Sprintf("locked to %s, a %s server, which records nothing", p.name, p.kind)
		case p.health == api.HealthUnknown:
			w.cause = fmt.Sprintf("locked to %s, whose health is unknown", p.name)
		case p.left:
			w.cause = fmt.Sprintf("locked to %s, which left the site", p.name)
		default:
			w.cause = fmt.Sprintf("locked to %s, which is %s", p.name, p.health)
		}
		return
	}

	// The cover list: backups or group, then standbys.
	backups := site.BackupServers(c)
	w.list = make([]*server, 0, len(backups)+len(standbys))
	for _, name := range backups {
		s := byName[name]
		if s == nil || !s.canRecord || s == p || slices.Contains(w.list, s) {
			continue
		}
		w.list = append(w.list, s)
	}
	w.nBackups = len(w.list)
	for _, s := range standbys {
		if s != p && !slices.Contains(w.list[:w.nBackups], s) {
			w.list = append(w.list, s)
		}
	}

	var balanced *server // the override's server, when the override is valid
	if o, ok := overrides[c.Name]; ok {
		if s := byName[o.Server]; s != nil && s.canRecord && s != p {
			balanced = s
		}
	}
	if b := balanced; b != nil {
		if b.upFor(w.redundancy) {
			w.main, w.mainRole, w.home = b, RoleBalance, true
			return
		}
		w.cause = "balancing server " + b.why(w.redundancy)
		if b.draining {
			w.drainedFrom, w.drainRole = b, RoleBalance
		}
	}

	switch {
	case p == nil:
		w.cover = true
		w.cause = joinCause(w.cause, fmt.Sprintf("primary %s is not a server of this site", c.Server))
		return
	case !p.upFor(w.redundancy):
		w.cover = true
		w.cause = joinCause(w.cause, p.why(w.redundancy))
		if p.draining && w.drainedFrom == nil {
			w.drainedFrom, w.drainRole = p, RolePrimary
		}
		return
	}
	w.main, w.mainRole = p, RolePrimary
	if balanced != nil {
		// Back on the primary in step 4, after the primary's own cameras.
		w.cover = true
		return
	}
	// Failback off: whether the camera skips home depends only on Running,
	// not on the health of the backup that runs it, so that a backup's death
	// never changes which cameras are at home (step 4 checks health).
	if !site.Failback && !w.runs(p) {
		for _, s := range w.list[:w.nBackups] {
			if s.kind == spec.KindRecording && w.runs(s) {
				w.stay, w.cover = true, true
				return
			}
		}
	}
	w.home = true
}

type candidate struct {
	s    *server
	role string
	stay bool // failback off: the camera stays where it runs
}

// homeCandidates lists, in order of preference, the alive servers that may
// take back a camera whose main server is up but that is not placed at home:
// with failback off, the recording-kind backups that run it; then its main
// server; then its primary, when the main server is a full balancing server.
func homeCandidates(w *work) []candidate {
	var out []candidate
	if w.stay {
		for _, s := range w.list[:w.nBackups] {
			if s.kind == spec.KindRecording && s.alive() && w.runs(s) {
				out = append(out, candidate{s, RoleBackup, true})
			}
		}
	}
	if w.main.alive() {
		out = append(out, candidate{w.main, w.mainRole, false})
	}
	if p := w.primary; p != w.main && p != nil && p.alive() {
		out = append(out, candidate{p, RolePrimary, false})
	}
	return out
}

func joinCause(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// finish turns a decision into the camera's state and reason.
func finish(w *work, queueWhy string) Camera {
	c := Camera{Recorders: w.recs}
	if len(w.recs) == 0 {
		switch {
		case w.dark:
			c.State, c.Reason = api.CameraDark, w.cause
		case w.queued:
			c.State, c.Reason = api.CameraUncovered, joinCause(w.cause, queueWhy)
		case w.cam.Locked:
			c.State, c.Reason = api.CameraUncovered, w.cause
		default:
			c.State, c.Reason = api.CameraUncovered, joinCause(w.cause, "no live server with room in its backups or standbys")
		}
		return c
	}

	first := w.recs[0]
	var parts []string
	if first.Role == RolePrimary || first.Role == RoleBalance {
		c.State = api.CameraRecording
		switch {
		case w.stuck:
			parts = append(parts, fmt.Sprintf("%s is draining but no other live server with room can take it: it stays there", first.Server))
		case first.Role == RoleBalance:
			parts = append(parts, fmt.Sprintf("balanced from %s to %s", w.cam.Server, first.Server))
		case w.cause != "":
			parts = append(parts, w.cause, "back on "+first.Server)
		case w.main != nil && w.main.health == api.HealthSuspect:
			parts = append(parts, "recorded by "+first.Server+", which is suspect ("+string(w.redundancy)+" redundancy waits for dead)")
		default:
			parts = append(parts, "recorded by "+first.Server)
		}
	} else {
		c.State = api.CameraCovered
		switch {
		case w.queued:
			parts = append(parts, w.cause, queueWhy)
		case w.stayed:
			parts = append(parts, fmt.Sprintf("failback off: stays on %s though %s is up", first.Server, w.cam.Server))
		default:
			parts = append(parts, w.cause, "covered by "+first.Server+" ("+w.position(first.Server)+")")
		}
	}
	copies := 0
	for _, r := range w.recs {
		switch r.Role {
		case RoleConstant:
			copies++
			parts = append(parts, "constant copy on "+r.Server)
		case RoleFailback:
			parts = append(parts, r.Server+" keeps recording until "+first.Server+" runs it (failback)")
		}
	}
	if w.redundancy == spec.RedundancyConstant && !w.cam.Locked && !w.queued && copies == 0 {
		parts = append(parts, "no live server with room for the constant copy")
	}
	c.Reason = strings.Join(parts, "; ")
	return c
}

// position names a server's place in the camera's cover list: "backup 2" or
// "standby".
func (w *work) position(name string) string {
	for i, s := range w.list {
		if s.name == name {
			if i < w.nBackups {
				return fmt.Sprintf("backup %d", i+1)
			}
			return "standby"
		}
	}
	return "backup"
}
