package assign

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/api"
)

// propertyCases is how many random sites each property test checks.
const propertyCases = 3000

// randomInput draws a site of 1-8 servers of random kinds and capacities,
// 0-60 cameras with random backups, groups, locks and redundancy, random
// health and Since, random running sessions and balancing moves. Names that
// are not servers of the site appear now and then, as in a spec that changed.
func randomInput(rng *rand.Rand) Input {
	s := &spec.Site{Name: "s", Failback: rng.IntN(4) != 0}
	if rng.IntN(3) == 0 {
		s.MaxConcurrentFailovers = rng.IntN(3) + 1
	}
	nServers := rng.IntN(8) + 1
	var names []string
	for i := range nServers {
		sv := &spec.Server{Name: fmt.Sprintf("srv-%d", i), Kind: spec.KindRecording}
		switch k := rng.IntN(20); {
		case k < 3:
			sv.Kind = spec.KindStandby
		case k < 5:
			sv.Kind = spec.KindWitness
		case k < 6:
			sv.Kind = spec.KindVirtual
		case k < 7:
			sv.Kind = "" // the default: recording
		}
		if rng.IntN(2) == 0 {
			sv.MaxCameras = rng.IntN(12) + 1
		}
		s.Servers = append(s.Servers, sv)
		names = append(names, sv.Name)
	}
	pick := func() string {
		if rng.IntN(30) == 0 {
			return "gone"
		}
		return names[rng.IntN(len(names))]
	}
	for i := range rng.IntN(3) {
		g := &spec.Group{Name: fmt.Sprintf("g%d", i)}
		for range rng.IntN(4) + 1 {
			g.Servers = append(g.Servers, pick())
		}
		s.Groups = append(s.Groups, g)
	}
	redundancies := []spec.Redundancy{spec.RedundancyNormal, spec.RedundancyFast, spec.RedundancyConstant, ""}
	for i := range rng.IntN(61) {
		c := &spec.Camera{Name: fmt.Sprintf("cam-%02d", i), Server: pick(),
			Redundancy: redundancies[rng.IntN(len(redundancies))], Locked: rng.IntN(10) == 0}
		if len(s.Groups) > 0 && rng.IntN(3) == 0 {
			c.Group = fmt.Sprintf("g%d", rng.IntN(len(s.Groups)+1)) // sometimes a group that does not exist
		} else {
			for range rng.IntN(4) {
				c.Backup = append(c.Backup, pick())
			}
		}
		s.Cameras = append(s.Cameras, c)
	}

	in := Input{Spec: s, Members: map[string]Member{}, Running: map[string]map[string]bool{}, Now: t0}
	healths := []string{api.HealthAlive, api.HealthAlive, api.HealthAlive, api.HealthSuspect,
		api.HealthDead, api.HealthDead, api.HealthUnknown, "absent"}
	for _, n := range names {
		h := healths[rng.IntN(len(healths))]
		if h != "absent" {
			in.Members[n] = Member{Health: h, Since: t0.Add(time.Duration(rng.IntN(20)) * time.Second)}
		}
	}
	for _, n := range append(names, "gone") {
		for _, c := range s.Cameras {
			if rng.IntN(6) == 0 {
				if in.Running[n] == nil {
					in.Running[n] = map[string]bool{}
				}
				in.Running[n][c.Name] = rng.IntN(8) != 0 // false entries mean nothing
			}
		}
	}
	for range rng.IntN(6) {
		if len(s.Cameras) == 0 {
			break
		}
		c := s.Cameras[rng.IntN(len(s.Cameras))]
		in.Overrides = append(in.Overrides, api.Override{Camera: c.Name, From: c.Server, Server: pick(),
			Since: t0.Add(time.Duration(rng.IntN(3)) * time.Hour)})
	}
	return in
}

// forEachCase runs check on propertyCases random inputs, naming the seed of
// a failing case so that it can be replayed.
func forEachCase(t *testing.T, check func(t *testing.T, in Input, r Result)) {
	for seed := range uint64(propertyCases) {
		in := randomInput(rand.New(rand.NewPCG(seed, 0x5eed)))
		r := Assign(in)
		check(t, in, r)
		if t.Failed() {
			t.Fatalf("failing case: seed %d", seed)
		}
	}
}

func serverOfSpec(in Input, name string) *spec.Server {
	if name == "" {
		return nil
	}
	return in.Spec.Server(name)
}

func canRecord(sv *spec.Server) bool {
	return sv != nil && sv.Kind.CanRecord()
}

func healthOf(in Input, name string) string {
	if m, ok := in.Members[name]; ok {
		return m.Health
	}
	return api.HealthUnknown
}

func isAlive(in Input, name string) bool {
	return canRecord(serverOfSpec(in, name)) && healthOf(in, name) == api.HealthAlive
}

// upFor: normal and constant cameras stay on a suspect server, fast ones leave.
func upFor(in Input, name string, redundancy spec.Redundancy) bool {
	h := healthOf(in, name)
	return canRecord(serverOfSpec(in, name)) &&
		(h == api.HealthAlive || (h == api.HealthSuspect && redundancy != spec.RedundancyFast))
}

func hasRoom(in Input, r Result, name string) bool {
	max := serverOfSpec(in, name).MaxCameras
	return max == 0 || r.Load[name] < max
}

// overrideFor is the balancing move in force for a camera, as documented.
func overrideFor(in Input, cam string) (api.Override, bool) {
	var best api.Override
	found := false
	for _, o := range in.Overrides {
		if o.Camera != cam {
			continue
		}
		if !found || o.Since.After(best.Since) || (o.Since.Equal(best.Since) && o.Server > best.Server) {
			best, found = o, true
		}
	}
	return best, found
}

// eligible lists the servers that may ever record an unlocked camera: its
// primary, its balancing server, its backups or group, every standby.
func eligible(in Input, c *spec.Camera) []string {
	out := []string{c.Server}
	if o, ok := overrideFor(in, c.Name); ok {
		out = append(out, o.Server)
	}
	out = append(out, in.Spec.BackupServers(c)...)
	for _, sv := range in.Spec.Servers {
		if sv.Kind == spec.KindStandby {
			out = append(out, sv.Name)
		}
	}
	return out
}

func TestPropertyCapacityAndKinds(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		load := map[string]int{}
		for _, c := range in.Spec.Cameras {
			got, ok := r.Cameras[c.Name]
			if !ok {
				t.Errorf("camera %s missing", c.Name)
				continue
			}
			seen := map[string]bool{}
			for _, rec := range got.Recorders {
				sv := serverOfSpec(in, rec.Server)
				if !canRecord(sv) {
					t.Errorf("camera %s recorded by %s, which cannot record", c.Name, rec.Server)
				}
				if seen[rec.Server] {
					t.Errorf("camera %s recorded twice by %s", c.Name, rec.Server)
				}
				seen[rec.Server] = true
				load[rec.Server]++
				// Only a camera's home may stay on a suspect server.
				if h := healthOf(in, rec.Server); h != api.HealthAlive &&
					!(h == api.HealthSuspect && (rec.Role == RolePrimary || rec.Role == RoleBalance)) {
					t.Errorf("camera %s recorded by %s (%s), which is %s", c.Name, rec.Server, rec.Role, h)
				}
			}
			if (len(got.Recorders) == 0) != (got.State == api.CameraDark || got.State == api.CameraUncovered) {
				t.Errorf("camera %s: state %s with %d recorders", c.Name, got.State, len(got.Recorders))
			}
			if got.Reason == "" {
				t.Errorf("camera %s has no reason", c.Name)
			}
		}
		for _, sv := range in.Spec.Servers {
			if !canRecord(sv) {
				if _, ok := r.Load[sv.Name]; ok {
					t.Errorf("%s (%s) has a load entry", sv.Name, sv.Kind)
				}
				continue
			}
			if r.Load[sv.Name] != load[sv.Name] {
				t.Errorf("Load[%s] = %d, but it records %d cameras", sv.Name, r.Load[sv.Name], load[sv.Name])
			}
			if sv.MaxCameras > 0 && load[sv.Name] > sv.MaxCameras {
				t.Errorf("%s records %d cameras, max_cameras %d", sv.Name, load[sv.Name], sv.MaxCameras)
			}
			if got := len(r.For(sv.Name)); got != load[sv.Name] {
				t.Errorf("For(%s) has %d cameras, Load says %d", sv.Name, got, load[sv.Name])
			}
		}
	})
}

func TestPropertyLockedCamerasNeverMove(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		for _, c := range in.Spec.Cameras {
			if !c.Locked {
				continue
			}
			got := r.Cameras[c.Name]
			if len(got.Recorders) > 1 || (len(got.Recorders) == 1 && got.Recorders[0] != (Recorder{c.Server, RolePrimary})) {
				t.Errorf("locked camera %s (server %s) recorded by %+v", c.Name, c.Server, got.Recorders)
			}
			if len(got.Recorders) == 0 && got.State == api.CameraDark && isAlive(in, c.Server) {
				t.Errorf("locked camera %s dark although %s is alive", c.Name, c.Server)
			}
		}
	})
}

// Every camera that some live server could take is recorded, unless it is
// locked or its server is queued: an uncovered camera means every server that
// could take it is down or full.
func TestPropertyEveryCoverableCameraIsRecorded(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		queued := map[string]bool{}
		for _, q := range r.Queued {
			queued[q] = true
		}
		for _, c := range in.Spec.Cameras {
			got := r.Cameras[c.Name]
			if len(got.Recorders) > 0 {
				continue
			}
			if c.Locked {
				h := healthOf(in, c.Server)
				if canRecord(serverOfSpec(in, c.Server)) && (h == api.HealthAlive || h == api.HealthSuspect) && hasRoom(in, r, c.Server) {
					t.Errorf("locked camera %s not recorded although %s is %s with room", c.Name, c.Server, h)
				}
				continue
			}
			if queued[c.Server] {
				if got.State != api.CameraUncovered {
					t.Errorf("queued camera %s is %s, want uncovered", c.Name, got.State)
				}
				continue
			}
			for _, s := range eligible(in, c) {
				if isAlive(in, s) && hasRoom(in, r, s) {
					t.Errorf("camera %s uncovered (%q) although %s is alive with room", c.Name, got.Reason, s)
				}
			}
		}
	})
}

func TestPropertyQueueHonoursTheBudget(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		n := in.Spec.MaxConcurrentFailovers
		if n == 0 && len(r.Queued) > 0 {
			t.Errorf("no limit, but queued %v", r.Queued)
		}
		for i, q := range r.Queued {
			if isAlive(in, q) {
				t.Errorf("alive server %s is queued", q)
			}
			if i > 0 {
				a, b := in.Members[r.Queued[i-1]].Since, in.Members[q].Since
				if a.After(b) {
					t.Errorf("Queued %v is not in the order of failure", r.Queued)
				}
			}
		}
		// Servers whose cameras are covered by a backup because they are down
		// number at most the budget.
		covering := map[string]bool{}
		for _, c := range in.Spec.Cameras {
			got := r.Cameras[c.Name]
			if len(got.Recorders) == 0 || got.Recorders[0].Role != RoleBackup || c.Locked {
				continue
			}
			if o, ok := overrideFor(in, c.Name); ok && o.Server != c.Server && upFor(in, o.Server, c.Redundancy) {
				continue // its balancing server is up but full: not a failover
			}
			if canRecord(serverOfSpec(in, c.Server)) && !upFor(in, c.Server, c.Redundancy) {
				covering[c.Server] = true
			}
		}
		if n > 0 && len(covering) > n {
			t.Errorf("max_concurrent_failovers %d, but covering %d servers: %v", n, len(covering), covering)
		}
	})
}

func TestPropertyConstantCamerasRecordTwice(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		queued := map[string]bool{}
		for _, q := range r.Queued {
			queued[q] = true
		}
		for _, c := range in.Spec.Cameras {
			got := r.Cameras[c.Name]
			if c.Redundancy != spec.RedundancyConstant || c.Locked || queued[c.Server] || len(got.Recorders) == 0 {
				continue
			}
			n := 0
			for _, rec := range got.Recorders {
				if rec.Role != RoleFailback {
					n++
				}
			}
			if n >= 2 {
				continue
			}
			for _, s := range eligible(in, c) {
				if s != got.Recorders[0].Server && isAlive(in, s) && hasRoom(in, r, s) {
					t.Errorf("constant camera %s recorded once (%+v) although %s is alive with room", c.Name, got.Recorders, s)
				}
			}
		}
	})
}

// Make-before-break: a server that runs a camera keeps it until one of the
// new recorders runs it, and lets go once one does.
func TestPropertyFailbackIsMakeBeforeBreak(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		for _, c := range in.Spec.Cameras {
			got := r.Cameras[c.Name]
			if len(got.Recorders) == 0 || c.Locked {
				continue
			}
			started := false
			for _, rec := range got.Recorders {
				if rec.Role != RoleFailback && in.Running[rec.Server][c.Name] {
					started = true
				}
			}
			for _, rec := range got.Recorders {
				if rec.Role == RoleFailback && (started || !in.Running[rec.Server][c.Name]) {
					t.Errorf("camera %s: %s keeps recording (failback) although started=%v", c.Name, rec.Server, started)
				}
			}
			if started {
				continue
			}
			for srv, cams := range in.Running {
				if !cams[c.Name] || !isAlive(in, srv) || !hasRoom(in, r, srv) {
					continue
				}
				if !slices.ContainsFunc(got.Recorders, func(rec Recorder) bool { return rec.Server == srv }) {
					t.Errorf("camera %s: %s runs it and lets go before a new recorder runs it (%+v)", c.Name, srv, got.Recorders)
				}
			}
		}
	})
}

// The same inputs give the same output, whatever the order of the cameras,
// the overrides and the maps.
func TestPropertyDeterministic(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		rng := rand.New(rand.NewPCG(uint64(len(in.Spec.Cameras)), 7))
		shuffled := *in.Spec
		shuffled.Cameras = slices.Clone(in.Spec.Cameras)
		rng.Shuffle(len(shuffled.Cameras), func(i, j int) {
			shuffled.Cameras[i], shuffled.Cameras[j] = shuffled.Cameras[j], shuffled.Cameras[i]
		})
		in2 := in
		in2.Spec = &shuffled
		in2.Overrides = slices.Clone(in.Overrides)
		rng.Shuffle(len(in2.Overrides), func(i, j int) { in2.Overrides[i], in2.Overrides[j] = in2.Overrides[j], in2.Overrides[i] })
		// Fresh maps: Go randomises their iteration order per map.
		in2.Members = map[string]Member{}
		for k, v := range in.Members {
			in2.Members[k] = v
		}
		in2.Running = map[string]map[string]bool{}
		for k, v := range in.Running {
			in2.Running[k] = map[string]bool{}
			for c, on := range v {
				in2.Running[k][c] = on
			}
		}
		in2.Now = in.Now.Add(time.Hour)
		for i, r2 := range []Result{Assign(in), Assign(in2)} {
			if !reflect.DeepEqual(r, r2) {
				t.Errorf("run %d differs from the first run", i+2)
			}
		}
	})
}

func runsOnBackup(in Input, c *spec.Camera) bool {
	for _, b := range in.Spec.BackupServers(c) {
		if b != c.Server && in.Running[b][c.Name] {
			return true
		}
	}
	return false
}

// Cameras at home on a healthy server do not move because another server
// died: kill one alive server and compare.
func TestPropertyHealthyCamerasStayWhenAnotherServerDies(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		var alive []string
		for _, sv := range in.Spec.Servers {
			if isAlive(in, sv.Name) {
				alive = append(alive, sv.Name)
			}
		}
		if len(alive) == 0 {
			return
		}
		x := alive[len(in.Spec.Cameras)%len(alive)]
		in2 := in
		in2.Members = map[string]Member{}
		for k, v := range in.Members {
			in2.Members[k] = v
		}
		in2.Members[x] = Member{Health: api.HealthDead, Since: t0.Add(time.Minute)}
		r2 := Assign(in2)
		for _, c := range in.Spec.Cameras {
			before := r.Cameras[c.Name]
			if len(before.Recorders) == 0 {
				continue
			}
			home := before.Recorders[0]
			if home.Server == x || (home.Role != RolePrimary && home.Role != RoleBalance) {
				continue
			}
			if o, ok := overrideFor(in, c.Name); ok && home.Role == RolePrimary && o.Server != c.Server && canRecord(serverOfSpec(in, o.Server)) {
				// Back on its primary because its balancing server is down
				// or full (step 4): it competes with the other cameras
				// coming back, which another failure may add.
				continue
			}
			if o, ok := overrideFor(in, c.Name); ok && o.Server == x {
				continue
			}
			if !in.Spec.Failback && !in.Running[home.Server][c.Name] && runsOnBackup(in, c) {
				// Failback off: the camera really runs on a backup and may
				// stay there once that backup has room again.
				continue
			}
			after := r2.Cameras[c.Name]
			if len(after.Recorders) == 0 || after.Recorders[0] != home {
				t.Errorf("%s died: camera %s moved from %+v to %+v (%s)", x, c.Name, home, after.Recorders, after.Reason)
			}
		}
	})
}

// Feeding each result back as the running sessions (every recorder runs its
// cameras) settles within three rounds on a result with no handover left:
// the site converges instead of flapping.
func TestPropertyConverges(t *testing.T) {
	forEachCase(t, func(t *testing.T, in Input, r Result) {
		prev := r
		for round := 1; ; round++ {
			next := in
			next.Running = map[string]map[string]bool{}
			for name, c := range prev.Cameras {
				for _, rec := range c.Recorders {
					if next.Running[rec.Server] == nil {
						next.Running[rec.Server] = map[string]bool{}
					}
					next.Running[rec.Server][name] = true
				}
			}
			cur := Assign(next)
			if reflect.DeepEqual(cur, prev) {
				for name, c := range cur.Cameras {
					for _, rec := range c.Recorders {
						if rec.Role == RoleFailback {
							t.Errorf("settled with a handover left: camera %s %+v", name, c.Recorders)
						}
					}
				}
				return
			}
			if round == 3 {
				t.Errorf("no fixed point after %d rounds", round)
				return
			}
			prev = cur
		}
	})
}
