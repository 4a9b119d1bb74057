package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"vigil/dev/devsite"
	"vigil/hcl/spec"
	"vigil/planner"
	"vigil/runtime/api"
)

// testDomain is an in-process domain: a virtual root site "region" (one
// virtual server, planned and applied like the others) above two recording sites "north" and "south" (one
// server each, camsim cameras) and a site "east" whose agent never runs,
// so that it cannot be reached.
type testDomain struct {
	sites map[string]*devsite.Site
	token string
}

var domainServers = map[string]string{"region": "dir-1", "north": "n-1", "south": "s-1", "east": "e-1"}

func newTestDomain(t *testing.T) *testDomain {
	t.Helper()
	d := &testDomain{sites: map[string]*devsite.Site{}, token: "domain-token"}
	for _, name := range []string{"region", "north", "south", "east"} {
		cams := 0
		if name == "north" || name == "south" {
			cams = 2
		}
		s, err := devsite.New(devsite.Options{Name: name, Servers: []string{domainServers[name]}, Cameras: cams, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		// One token for the whole domain: the commands send VIGIL_TOKEN to
		// every site.
		s.Token = d.token
		s.Server(domainServers[name]).Config.Token = d.token
		if name != "east" {
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
		}
		d.sites[name] = s
	}
	trustSites(t, d.sites["region"], d.sites["north"], d.sites["south"], d.sites["east"])
	t.Setenv(api.EnvToken, d.token)
	return d
}

// config writes the domain's configuration with the given cameras
// (camera -> site; the camera's stream is camsim path 1 or 2 of the site
// it was first given to, named by the camera's suffix) and returns its
// directory.
func (d *testDomain) config(t *testing.T, cameras map[string]string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("domain \"acme\" {}\n\n")
	for _, name := range []string{"region", "north", "south", "east"} {
		s := d.sites[name]
		srv := s.Server(domainServers[name])
		fmt.Fprintf(&b, "site %q {\n", name)
		if name == "region" {
			fmt.Fprintf(&b, "  virtual = true\n  server %q {\n    kind    = \"virtual\"\n    address = %q\n    port    = %d\n  }\n", srv.Name, srv.IP, srv.Port)
		} else {
			fmt.Fprintf(&b, "  parent = \"region\"\n  server %q {\n    address = %q\n    port    = %d\n    storage \"main\" {\n      path = \"recordings\"\n    }\n  }\n", srv.Name, srv.IP, srv.Port)
		}
		for _, cam := range []string{"north-1", "north-2", "south-1", "south-2"} {
			if cameras[cam] != name {
				continue
			}
			home, i, _ := strings.Cut(cam, "-")
			fmt.Fprintf(&b, "  camera %q {\n    url    = %q\n    server = %q\n  }\n", cam, d.sites[home].Cams.URL(int(i[0]-'0')), srv.Name)
		}
		b.WriteString("}\n\n")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "domain.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (d *testDomain) state(t *testing.T, site string) *api.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := d.sites[site].Client(domainServers[site]).State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDomainPlanApplyStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a domain of three in-process sites")
	}
	d := newTestDomain(t)
	cameras := map[string]string{"north-1": "north", "north-2": "north", "south-1": "south", "south-2": "south"}
	dir := d.config(t, cameras)

	// Plan: east is reported and skipped; the exit status says so.
	code, out, errs := vigil(t, "plan", dir)
	east := d.sites["east"].Server("e-1")
	if code != 1 || !strings.Contains(out, fmt.Sprintf("site east: unreachable (tried %s:%d)", east.IP, east.Port)) ||
		!strings.Contains(out, "== site region > north ==") || !strings.Contains(errs, "1 site not planned: east") ||
		!strings.Contains(out, "Domain plan: 3 of 4 sites planned (1 unreachable); 10 to add, 0 to change, 0 to destroy, in 3 sites.") {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vigil(t, "plan", "-json", "-allow-partial", dir)
	var doc struct {
		FormatVersion string `json:"format_version"`
		Kind          string `json:"kind"`
		Domain        string `json:"domain"`
		Sites         []struct {
			Site, Status string
			Tried        []string
			Plan         *struct {
				Changes []struct{ Address string }
			}
		}
		Summary struct{ Planned, Unreachable, Add int }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 || doc.Kind != "domain" || doc.Domain != "acme" ||
		len(doc.Sites) != 4 || doc.Sites[3].Site != "east" || doc.Sites[3].Status != "unreachable" || doc.Sites[1].Plan == nil ||
		doc.Sites[0].Status != "planned" || doc.Sites[0].Plan == nil || doc.Summary.Planned != 3 || doc.Summary.Unreachable != 1 {
		t.Fatalf("plan -json: exit %d, %v\n%s%s", code, err, out, errs)
	}

	// Apply refuses to run partially, then applies the others with -allow-partial.
	code, out, errs = vigil(t, "apply", "-auto-approve", dir)
	if code != 1 || !strings.Contains(errs, "Nothing was applied: 1 site could not be planned (east)") {
		t.Fatalf("apply without -allow-partial: exit %d\n%s%s", code, out, errs)
	}
	if st := d.state(t, "north"); st.Revision != 0 {
		t.Fatalf("north is at revision %d after a refused apply", st.Revision)
	}
	code, out, errs = vigil(t, "apply", "-auto-approve", "-allow-partial", dir)
	if code != 0 || !strings.Contains(out, "Domain apply complete: 3 sites applied.") || !strings.Contains(out, "Apply complete! Site north is at revision 1") {
		t.Fatalf("apply -allow-partial: exit %d\n%s%s", code, out, errs)
	}
	// The virtual site holds its committed spec and records nothing.
	if region := d.state(t, "region"); region.Site != "region" || region.Revision != 1 || len(region.Cameras) != 0 {
		t.Errorf("the virtual site: site %q, revision %d, %d cameras", region.Site, region.Revision, len(region.Cameras))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.sites["north"].Wait(ctx, "n-1", func(st *api.State) bool {
		return devsite.RecordedBy(st, map[string][]string{"north-1": {"n-1"}, "north-2": {"n-1"}})
	}); err != nil {
		t.Fatalf("north does not record its cameras: %v", err)
	}

	code, out, errs = vigil(t, "plan", "-site", "north", "-fail", "n-1", dir)
	if code != 0 || !strings.Contains(out, "Failure simulation: n-1 down") || strings.Contains(out, "site south") {
		t.Errorf("plan -site north -fail n-1: exit %d\n%s%s", code, out, errs)
	}

	// Status: the tree, per site its master, servers and cameras.
	code, out, errs = vigil(t, "status", "-config", dir)
	if code != 1 || !strings.Contains(out, "Domain acme · 4 sites, 3 reached") || !strings.Contains(out, "region (virtual)") ||
		!strings.Contains(out, "  north") || !strings.Contains(out, "2 recording") || !strings.Contains(out, "unreachable (tried") {
		t.Errorf("status -config: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vigil(t, "status", "-json", "-config", dir)
	var status struct {
		Domain string
		Sites  []struct {
			Site  string
			Depth int
			Tried []string
			State *api.State
		}
	}
	if err := json.Unmarshal([]byte(out), &status); err != nil || status.Domain != "acme" || len(status.Sites) != 4 ||
		status.Sites[1].Site != "north" || status.Sites[1].Depth != 1 || status.Sites[1].State == nil || len(status.Sites[1].State.Cameras) != 2 ||
		status.Sites[3].State != nil || len(status.Sites[3].Tried) != 1 {
		t.Errorf("status -json -config: exit %d, %v\n%s%s", code, err, out, errs)
	}
	code, out, errs = vigil(t, "status", d.sites["south"].Server("s-1").Addr(), d.sites["region"].Server("dir-1").Addr())
	lines := strings.Split(out, "\n")
	if code != 0 || len(lines) < 5 || !strings.HasPrefix(lines[3], "region") || !strings.HasPrefix(lines[4], "  south") {
		t.Errorf("status ADDRESS...: exit %d\n%s%s", code, out, errs)
	}

	// Move north-2 to south: a destroy in north and a create in south,
	// shown as one move; planned into a file, then applied from it.
	cameras["north-2"] = "south"
	moved := d.config(t, cameras)
	planFile := filepath.Join(t.TempDir(), "domain.plan")
	code, out, errs = vigil(t, "plan", "-site", "north", "-site", "south", "-out", planFile, moved)
	if code != 0 || !strings.Contains(out, "# site.north.camera.north-2 will be destroyed (moves to site south)") ||
		!strings.Contains(out, "# site.south.camera.north-2 will be created (moves here from site north)") ||
		!strings.Contains(out, `-> camera "north-2": site north -> site south`) ||
		!strings.Contains(out, "Domain plan: 2 of 2 sites planned; 0 to add, 0 to change, 0 to destroy, 1 to move, in 2 sites.") {
		t.Fatalf("plan of the move: exit %d\n%s%s", code, out, errs)
	}
	// An edited plan file is refused.
	b, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "tampered.plan")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(b), "north-2", "north-3", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := vigil(t, "apply", tampered); code != 1 || !strings.Contains(errs, "modified after vigil plan wrote it") {
		t.Errorf("tampered plan file: exit %d\n%s%s", code, out, errs)
	}
	// -site cannot narrow a saved plan: refused rather than ignored.
	if code, out, errs := vigil(t, "apply", "-site", "north", planFile); code != 1 || !strings.Contains(errs, "-site does not apply to a saved plan") {
		t.Errorf("apply -site of a plan file: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vigil(t, "apply", planFile)
	if code != 0 || !strings.Contains(out, "Domain apply complete: 2 sites applied.") {
		t.Fatalf("apply of the move: exit %d\n%s%s", code, out, errs)
	}
	if st := d.state(t, "south"); st.Spec == nil || st.Spec.Camera("north-2") == nil {
		t.Errorf("south does not have north-2 after the move")
	}
	if st := d.state(t, "north"); st.Spec == nil || st.Spec.Camera("north-2") != nil {
		t.Errorf("north still has north-2 after the move")
	}
	// The same file again is stale for both sites.
	if code, out, errs := vigil(t, "apply", planFile); code != 1 || !strings.Contains(errs, "site north: the site changed since this plan was made") {
		t.Errorf("stale plan file: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vigil(t, "plan", "-detailed-exitcode", "-allow-partial", moved)
	if code != 0 || !strings.Contains(out, "; no site changes.") {
		t.Errorf("plan after the move: exit %d\n%s%s", code, out, errs)
	}
	// -address keeps planning the one site of that server.
	code, out, errs = vigil(t, "plan", "-detailed-exitcode", "-address", d.sites["south"].Server("s-1").Addr(), moved)
	if code != 0 || !strings.Contains(out, "No changes.") || !strings.Contains(errs, `this plan covers site "south"`) {
		t.Errorf("plan -address: exit %d\n%s%s", code, out, errs)
	}
}

// When the site receiving a camera fails to apply, the site giving it away
// is not applied: the camera stays recorded where it was.
func TestDomainApplyHoldsBackTheGiverOfAFailedMove(t *testing.T) {
	var northApplied atomic.Bool
	north := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		northApplied.Store(true)
		http.Error(w, "unexpected", http.StatusInternalServerError)
	}))
	defer north.Close()
	south := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "disk on fire", http.StatusInternalServerError)
	}))
	defer south.Close()
	site := func(name, addr string, action planner.Action) planner.DomainSite {
		return planner.DomainSite{Site: name, Status: planner.SitePlanned, Address: addr, Plan: &planner.SitePlan{
			Site: name, Desired: &spec.Site{Name: name},
			Changes: []planner.Change{{Address: "site." + name + ".camera.c", Type: planner.TypeCamera, Name: "c", Action: action}},
		}}
	}
	d := &planner.DomainPlan{
		Sites: []planner.DomainSite{site("north", north.URL, planner.Delete), site("south", south.URL, planner.Create)},
		Moves: []planner.SiteMove{{Camera: "c", FromSite: "north", ToSite: "south"}},
	}
	var out, errs strings.Builder
	if code := applyDomain(context.Background(), &planSource{}, d, nil, false, &out, &errs); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if northApplied.Load() {
		t.Errorf("north was applied although south, which receives its camera, failed")
	}
	if !strings.Contains(errs.String(), `site north: not applied: it gives camera "c" to site south, whose apply failed`) ||
		!strings.Contains(errs.String(), "0 of 2 sites applied, 1 failed, 1 held back") {
		t.Errorf("stderr:\n%s", errs.String())
	}
}

// A chain of moves (east gives a camera to north, north one to south) whose
// last receiver fails holds back every giver along it: north would let its
// camera go unrecorded, and so would east.
func TestDomainApplyHoldsBackAChainOfGivers(t *testing.T) {
	var applied atomic.Int32
	giver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		applied.Add(1)
		http.Error(w, "unexpected", http.StatusInternalServerError)
	}))
	defer giver.Close()
	south := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "disk on fire", http.StatusInternalServerError)
	}))
	defer south.Close()
	site := func(name, addr string) planner.DomainSite {
		return planner.DomainSite{Site: name, Status: planner.SitePlanned, Address: addr, Plan: &planner.SitePlan{
			Site: name, Desired: &spec.Site{Name: name},
			Changes: []planner.Change{{Address: "site." + name + ".camera.x", Type: planner.TypeCamera, Name: "x", Action: planner.Update}},
		}}
	}
	d := &planner.DomainPlan{
		Sites: []planner.DomainSite{site("east", giver.URL), site("north", giver.URL), site("south", south.URL)},
		Moves: []planner.SiteMove{{Camera: "e", FromSite: "east", ToSite: "north"}, {Camera: "c", FromSite: "north", ToSite: "south"}},
	}
	var out, errs strings.Builder
	if code := applyDomain(context.Background(), &planSource{}, d, nil, false, &out, &errs); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if n := applied.Load(); n != 0 {
		t.Errorf("%d givers applied although the end of their chain failed", n)
	}
	for _, want := range []string{
		`site north: not applied: it gives camera "c" to site south, whose apply failed`,
		`site east: not applied: it gives camera "e" to site north, which is held back`,
		"0 of 3 sites applied, 1 failed, 2 held back. Applied: none. Failed: south",
		"Held back, unchanged: north, east.",
	} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs.String())
		}
	}
}
