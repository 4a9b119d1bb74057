// Package planner compares a site's configuration with its live state and
// says what applying the configuration would do: `vigil plan`, `vigil apply`
// and hot reload all go through Plan.
//
//	planner.Plan(desired *spec.Site, live *api.State, opts) -> *SitePlan
//
// The site is the unit of planning: a domain plan is a list of site plans,
// each made against that site's own live state.
//
// # What is compared
//
// Only the committed spec (api.State.Spec) is compared with the
// configuration, resource by resource, attribute by attribute, with an
// explicit comparison per attribute type. Where cameras are recorded right
// now (a backup covering for a dead server, a balancing move) is the site
// doing its job, not drift: it is reported as a note.
//
// Resources and their addresses:
//
//	site.NAME                  the site's own attributes
//	site.NAME.server.SERVER    a server, with its storage and network blocks
//	site.NAME.group.GROUP      a group of servers
//	site.NAME.camera.CAMERA    a camera
//	site.NAME.balancing        the balancing block
//	site.NAME.master           the master role (transfer actions only)
//
// Actions: create, update (in place), delete, replace, move (a camera whose
// primary server changes; other attribute changes ride along) and
// transfer_master. Attributes that force replacement, with the reason for
// each, are documented in diff.go: a server's address and port, and a
// camera's url when it names another source (not when only the credentials
// in it change).
//
// # Order
//
// Changes are listed in the order they take effect, although the apply
// commits them as one raft entry: the master role moves first when the plan
// removes or replaces the master (vigil apply asks the site for that
// transfer before committing); then the site, new and changed servers,
// groups, cameras (creates, updates, moves), balancing, and last the deletes
// of cameras, groups and servers, so that a server goes only after its
// cameras have moved off it. A plan that removes or re-addresses the server
// the command talks to (api.State.Answering) is refused with a hint to use
// -address with another server.
//
// # Sensitive values
//
// Camera passwords (also inside camera URLs), notifier secrets and user and
// token hashes are compared through their fingerprints: the live spec
// carries only those, keyed by the site (spec.NewFingerprinter), and the
// desired site is fingerprinted with the key the state gives a caller with
// the API token (api.State.FingerprintKey). Without the key the secrets are
// not compared (they count as unchanged, with a warning). A desired secret
// that already is a fingerprint keeps the committed one; a legacy
// (unkeyed) fingerprint counts as the live one. A camera that keeps its
// password so while its URL names another scheme, host or port is an
// error: a kept password is never sent to another host.
// Passwords, and any attribute whose value contains the value of a
// sensitive variable, are shown as (sensitive) and are null in JSON, on both
// sides; a URL shows the fingerprint in place of its password.
//
// # Failure simulation and the N+1 check
//
// Simulate runs the site's assignment (runtime/assign, the same pure
// function the agents run) on the desired spec with the named servers dead,
// and lists every camera whose recorders change, the cameras that go dark
// (locked to a failed server) or uncovered (no capacity, or queued by
// max_concurrent_failovers), and every server's load before and after.
// The N+1 check (assign.CheckNPlusOne, also behind vigil validate's capacity
// warning) runs it once per server that can record and reports whether
// the site can lose any one server without a camera going unrecorded;
// cameras locked to the lost server go dark by design and are only counted.
//
// # JSON (vigil plan -json)
//
// The document is a SitePlan with a format_version. Format "2" (planner.Format; plan files share it):
//
//	{
//	  "format_version": "2",
//	  "diagnostics": [...],          // the configuration's warnings, as vigil validate -json
//	  "site": "hq",
//	  "base_revision": 4,            // live revision planned against; 0: nothing applied yet
//	  "answering": "rec-1",          // server that gave the live state
//	  "master": "rec-1",
//	  "changes": [{                  // in the order they take effect
//	    "address": "site.hq.camera.door",
//	    "type": "camera",            // site, server, group, camera, balancing, master
//	    "name": "door",              // absent for site-wide singletons (balancing)
//	    "action": "move",            // create, update, delete, replace, move, transfer_master
//	    "from": "rec-1", "to": "rec-2",  // move and transfer_master only
//	    "reason": "...",             // transfer_master only
//	    "attributes": [{
//	      "name": "server",          // nested: storage["main"].path, network.interface["eth0"].mtu
//	      "before": "rec-1",         // null: absent before, or sensitive
//	      "after": "rec-2",          // null: absent after, or sensitive
//	      "sensitive": true,         // present only when true
//	      "forces_replacement": true // present only when true
//	    }]
//	  }],
//	  "summary": {"add": 0, "change": 0, "destroy": 0, "move": 1},  // replace counts in add and destroy
//	  "notes": [{"kind": "server_down", "address": "site.hq.server.rec-2", "message": "..."}],
//	  "errors": [{"address": "...", "summary": "...", "hint": "..."}],  // non-empty: the plan cannot be applied
//	  "n_plus_one": {                // null for a site without cameras
//	    "ok": false,
//	    "unplaced": ["..."],         // cameras that fit nowhere with every server up
//	    "losses": [{"server": "rec-2", "cameras": ["..."]}],
//	    "locked": 2                  // cameras going dark with their own server, by design
//	  },
//	  "failure_simulation": {        // only with -fail
//	    "failed": ["rec-1"],
//	    "cameras": [{"name": "...", "before": ["rec-1"], "after": ["rec-3"], "state": "covered", "reason": "..."}],
//	    "load": [{"server": "rec-1", "max_cameras": 10, "before": 4, "after": 0, "failed": true}],
//	    "queued": ["rec-2"],
//	    "dark": 1, "uncovered": 0
//	  }
//	}
//
// When there is no plan (an invalid configuration, an unreachable agent),
// the document is {"format_version": "2", "error": "...", "diagnostics":
// [...]} and the exit status is 1.
//
// Note kinds: server_down, camera_covered, camera_dark, camera_uncovered,
// camera_failing, balancing_override, config_error, site_message,
// new_server, server_replaced. Attribute values are strings, numbers,
// booleans, lists of strings or maps of strings; durations are strings such
// as "5s" or "14d", sizes are strings such as "1GB" or "64GiB" (the largest
// unit that divides the size exactly, so a size reads as it was written).
// Fields are only ever added within a format version.
//
// # Domains
//
// PlanDomain plans several sites of a configuration at once, each against
// its own live state, concurrently (DomainOptions.Parallel at a time). A
// site is reached through its servers' addresses in the order of its
// servers (SiteAddresses: external_address:external_port when set, else
// address:port) until one answers; when the plan removes or re-addresses
// the server that answered, the next server is asked. Sites are listed depth first along the
// domain tree (parent links), children in the order of the configuration.
// A virtual site is planned and applied like the others: its virtual
// servers are the voters of its quorum (runtime/cluster) and hold its
// committed spec, and their agents record nothing (runtime/assign gives
// virtual servers no cameras). A camera
// deleted from exactly one site and created in exactly one other is a move
// between sites: each site's plan keeps its delete and its create (each
// site's apply is one raft entry of its own), and the domain summary counts
// it once, as a move.
//
// The JSON of a domain plan (vigil plan -json on a domain), format "1":
//
//	{
//	  "format_version": "2",
//	  "kind": "domain",              // absent from a single site's plan
//	  "diagnostics": [...],
//	  "domain": "acme",              // the domain block's name, absent without one
//	  "sites": [{                    // depth first along the tree
//	    "site": "plant-north",
//	    "parent": "hq",
//	    "virtual": false,            // present only when true
//	    "path": ["hq", "plant-north"],
//	    "status": "planned",         // planned, unreachable, failed, no_address
//	    "address": "10.2.0.11:53540", // the address that answered
//	    "tried": ["..."],            // unreachable only: the addresses tried, in order
//	    "error": "...",              // unreachable and failed: why
//	    "plan": {...}                // planned only: a site plan as above, without format_version
//	  }],
//	  "moves": [{"camera": "till", "from_site": "branch-1", "to_site": "branch-2"}],
//	  "summary": {
//	    "sites": 5, "planned": 4, "unreachable": 1, "failed": 0, "no_address": 0,
//	    "with_changes": 3, "with_errors": 0,           // planned sites with changes, with errors
//	    "add": 0, "change": 1, "destroy": 0, "move": 1 // a move between sites counts once, in move
//	  }
//	}
//
// A domain plan file is {"format_version": "2", "kind": "domain", "domain":
// "...", "checksum": "sha256:...", "skipped": ["sites not planned"],
// "sites": [<a site plan file, as below>...]}: each site keeps its own
// checksum and base revision, and the domain checksum covers the domain
// name, the site files' checksums and the skipped sites, so that a site
// dropped from the file is detected too.
//
// # Plan files (vigil plan -out)
//
// A plan file is JSON: {"format_version": "2", "checksum": "sha256:...",
// "plan": {...}} where plan holds the site, the base revision, the summary,
// the master transfer, the values of sensitive variables and the desired
// spec with real passwords. Plan files are secrets: they are written with
// mode 0600; keep them out of git. The checksum is SHA-256 over the compact
// JSON of "plan": an edited file is refused, and so is a file planned
// against a revision other than the live one. The checksum detects
// modification; it is not a signature (the apply itself is authorised by
// VIGIL_TOKEN).
package planner
