// Package cluster makes a vigil agent a member of its site: membership and
// failure detection (hashicorp/memberlist), the replicated state (hashicorp/raft
// with raft-boltdb/v2), the leader-only work of the master, and authenticated
// transports for both.
//
// # Ports
//
// Config.Port is the API port (default 53540). Membership listens on Port+1
// (UDP and TCP), raft on Port+2 (TCP). Config.Join names peers' membership
// ports ("host:port", or "host" for 53541); once a spec is committed, its
// servers are joined too, so a restarted or partitioned server finds the
// others again without Join.
//
// # Health and detection times
//
// Config.Keepalive (K, the site's keepalive) is memberlist's probe interval,
// with a probe timeout of K/2 and a suspicion timeout of 4·K once other
// members confirm the suspicion, 12·K without (SuspicionMult 4,
// SuspicionMaxTimeoutMult 3): memberlist's own dead verdict is a backstop.
// memberlist does not report suspicion to its delegates, so each server
// also pings every member directly every K/8 and judges the silence since
// its last answer (detector.go): 3/8·K of silence makes a member late
// (Member.Late: the backups of its cameras get ready), 3/4·K suspect,
// 1.75·K (at least one second) dead, as seen by this server; an answer
// makes it alive again. Three rules keep a busy server from accusing its
// peers, after memberlist's Lifeguard: only silence this server was in a
// position to hear counts (its own late ticks are deaf time, and a tick
// more than K/4 late judges nobody); while its ticks run late an awareness
// score (0 to 3) stretches the suspect and dead thresholds up to four
// times; and before a dead verdict it asks up to two members it hears
// whether they still hear the server (second opinions over memberlist's
// reliable channel): one that does withholds the verdict, which is given
// when all say no or none answers within K/2 (at least 250 ms). A site
// with nobody else to ask decides alone. memberlist's verdicts still
// apply: a member it declares dead stays dead until it rejoins. Each
// server acts on its own view (recording never waits for agreement), so a
// server that only some peers cannot reach may be recorded twice for a
// while, never not at all.
//
// Measured on loopback (go test -run '^$' -bench BenchmarkDetectionTime, 3
// servers, K = 1 s, the master stopped hard, load average 11): late after
// 0.51 s, suspect after 0.86 s, dead after 1.99 s, a new master elected
// after 4.7 s: raft's heartbeat and election timeouts are 3·K, clamped to
// 2 to 10 s, so that a follower starved of CPU for a second does not depose
// a healthy master (recording never waits for the master). A server that
// shuts down gracefully (Shutdown) is marked dead at once with Member.Left
// set, and a master hands its role over first.
//
// # Replicated state
//
// All writes go through raft and the state machine (fsm.go): the committed
// spec (spec.Site) with its revision, the balancing overrides, and daily
// recorded-bytes statistics per server and camera. Log entries are JSON
// envelopes with a type and a version per type; snapshots hold the whole
// state as JSON. State, Stats and Members read local copies and never need
// quorum, so a site without quorum (a 2-server site with one server down)
// keeps recording on its last committed spec; only Apply, SetOverrides and
// RecordStats need the master, and they fail with ErrNoQuorum, naming the
// unreachable voters, when no master can be elected.
//
// Apply checks the base revision inside the state machine, so two racing
// applies cannot both succeed: the second gets a *StaleError naming both
// revisions. Any server that already holds a newer revision than the base
// refuses the apply as stale itself. When the master moves or loses its
// majority before it could confirm a commit, Apply answers
// ErrOutcomeUnknown: the entry may still be committed by the next master.
// The apply protocol (package planner/apply) learns which by reading the
// revision back.
//
// # Master and leader work
//
// The raft leader is the site's master. Following Nomad's leader.go, work
// registered with LeaderLoop starts each time this server becomes master,
// after a raft barrier has applied every earlier entry, and is cancelled
// when the role is lost. The master also keeps the raft configuration in
// line with the committed spec: recording, standby and witness servers are
// voters; virtual servers are left out of a site that has any of those, and
// are the voters of a virtual site (one made only of virtual servers), which
// would otherwise have no quorum to hold its spec; a server of the spec becomes a
// voter once membership sees it alive; servers removed from the spec are
// removed from raft; a master removed from the spec hands its role over
// first. Dead servers that are still in the spec stay voters.
// TransferLeadership moves the role on purpose (vigil master transfer).
//
// # Bootstrap
//
// A fresh site has no raft configuration. The first Apply sent to a server
// that has no raft state creates it (raft BootstrapCluster) with the voting
// servers of the spec that membership sees alive, this server included (raft
// ID = server name, address = advertise address:Port+2), then waits for the
// election and commits the spec as revision 1. Servers of the spec not seen
// yet are added by the master when they appear. Other servers never
// bootstrap on their own, and a server refuses to bootstrap when a member
// already belongs to a raft configuration (node metadata says so), so a
// fresh server added to an existing site waits to be added by the master.
// Send the first apply of a site to one server; applies sent concurrently to
// several fresh servers are safe only when they see the same members.
// A restarted server resumes from its DataDir and never bootstraps again.
//
// A 1-server site bootstraps alone and is master at once. A 2-server site
// needs both servers for changes (or a witness for a third vote) but
// records and takes over with one.
//
// # Security
//
// Config.SiteKey (32 bytes) is never used directly: separate keys are
// derived from it with HMAC-SHA256 for membership and for raft.
// Membership traffic is encrypted and authenticated with memberlist's
// keyring (AES-GCM) with incoming and outgoing verification on, and carries
// a "vigil/<site>" label; packets without the key are dropped. Raft runs over
// TLS 1.3 with a self-signed certificate generated at start; after the
// handshake both ends prove they hold the site key with an HMAC over the TLS
// session's exported keying material (see transport.go), so raft bytes flow
// only between holders of the key. Refused connections are logged and
// reported as "raft.refused" events.
//
// # Versions
//
// Node metadata carries the vigil version, the site name and the API port.
// A member of another version or site is refused (memberlist's alive and
// merge delegates) with a log line and a "server.refused" event such as
// "server rec-3 runs vigil 1.2 but this site runs 1.3; all servers of a site
// run the same version".
//
// # Status payloads
//
// SetStatus publishes a payload of any size (the agent's running cameras,
// storage, load) to every live member at once over memberlist's encrypted
// TCP channel, and all known payloads ride along with memberlist's periodic
// push/pull exchange (every 10·K, 2 s to 30 s), so members that missed one
// catch up. Payloads are ordered by a per-server sequence number that grows
// across restarts.
//
// # Logs
//
// The agent's logger carries server=NAME, the server writing the line; a
// line about another server names it peer=NAME ("server is dead
// peer=rec-2"), so that no line has two server= keys.
package cluster
