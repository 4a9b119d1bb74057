package planner

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"vigil/hcl"
	"vigil/hcl/spec"
	"vigil/runtime/api"
)

func twoSites() *hcl.Config {
	site := func(name, addr, ext string, cams ...string) *spec.Site {
		s := &spec.Site{Name: name, Keepalive: time.Second, Failback: true, TimeZone: "UTC",
			Servers: []*spec.Server{
				{Name: name + "-1", Address: addr, Port: 53540, ExternalAddress: ext, ExternalPort: 8443, Kind: spec.KindRecording},
				{Name: name + "-2", Address: addr + "0", Port: 53540, Kind: spec.KindRecording},
			}}
		for _, c := range cams {
			s.Cameras = append(s.Cameras, &spec.Camera{Name: c, URL: "rtsp://10.9.9.9/" + c, Server: name + "-1",
				Redundancy: spec.RedundancyNormal, Transport: "tcp", SegmentDuration: time.Minute, StallTimeout: 5 * time.Second, Balance: true})
		}
		return s
	}
	return &hcl.Config{Domain: &spec.Domain{Name: "d"}, Sites: []*spec.Site{site("a", "10.0.0.1", "", "x"), site("b", "10.0.0.2", "203.0.113.2", "y", "moved")}}
}

func TestSiteAddresses(t *testing.T) {
	got := strings.Join(SiteAddresses(twoSites().Sites[1]), " ")
	if got != "203.0.113.2:8443 10.0.0.20:53540" {
		t.Errorf("addresses %q: want the external address and port first, then the address of the next server", got)
	}
}

// A camera that leaves site a for site b is one move; the domain plan file
// keeps each site's checksum, and dropping a site from it is detected.
func TestDomainMoveAndPlanFile(t *testing.T) {
	before := twoSites()
	before.Sites[0].Cameras = append(before.Sites[0].Cameras, &spec.Camera{Name: "moved", URL: "rtsp://10.9.9.9/moved", Server: "a-1",
		Redundancy: spec.RedundancyNormal, Transport: "tcp", SegmentDuration: time.Minute, StallTimeout: 5 * time.Second, Balance: true})
	before.Sites[1].Cameras = before.Sites[1].Cameras[:1]
	live := map[string]*api.State{
		"10.0.0.1:53540":   {Site: "a", Revision: 2, Spec: before.Sites[0].Redacted(testFP), FingerprintKey: testKey},
		"203.0.113.2:8443": {Site: "b", Revision: 5, Spec: before.Sites[1].Redacted(testFP), FingerprintKey: testKey},
	}
	var tried []string
	state := func(_ context.Context, a string) (*api.State, error) {
		tried = append(tried, a)
		if st := live[a]; st != nil {
			return st, nil
		}
		return nil, errors.New("refused")
	}
	d, err := PlanDomain(context.Background(), twoSites(), state, DomainOptions{Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Moves) != 1 || d.Moves[0] != (SiteMove{Camera: "moved", FromSite: "a", ToSite: "b"}) {
		t.Fatalf("moves %+v", d.Moves)
	}
	if s := d.Summary; s.Add != 0 || s.Destroy != 0 || s.Move != 1 || s.WithChanges != 2 || s.Planned != 2 {
		t.Errorf("summary %+v: a move between sites is one move, not an add and a destroy", s)
	}

	b, err := EncodeDomainPlanFile(NewDomainPlanFile(d, nil, "test", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if !IsDomainPlanFile(b) {
		t.Fatal("not recognised as a domain plan file")
	}
	f, err := DecodeDomainPlanFile(b)
	if err != nil || len(f.Sites) != 2 || f.Sites[1].BaseRevision != 5 {
		t.Fatalf("decode: %v %+v", err, f)
	}
	if err := f.Sites[1].CheckCurrent("b", 6); err == nil {
		t.Error("a site that moved on is not refused")
	}
	// Drop site b from the file: the domain checksum no longer matches.
	f.Sites = f.Sites[:1]
	short, err := EncodeDomainPlanFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var full, cut map[string]any
	mustJSON(t, b, &full)
	mustJSON(t, short, &cut)
	full["sites"] = cut["sites"]
	if _, err := DecodeDomainPlanFile(mustMarshal(t, full)); !errors.Is(err, ErrTampered) {
		t.Errorf("a site dropped from the file: %v, want ErrTampered", err)
	}

	if _, err := PlanDomain(context.Background(), twoSites(), state, DomainOptions{Sites: []string{"c"}}); err == nil {
		t.Error("an unknown -site is not refused")
	}
	if _, err := PlanDomain(context.Background(), twoSites(), state, DomainOptions{Options: Options{Fail: []string{"z-1"}}}); err == nil {
		t.Error("an unknown -fail server is not refused")
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A plan that removes the server that answered goes through the site's
// next server.
func TestDomainPlanAvoidsRemovedServer(t *testing.T) {
	before := twoSites()
	desired := twoSites()
	a := desired.Sites[0]
	a.Servers = a.Servers[1:]
	a.Cameras[0].Server = "a-2"
	desired.Sites = desired.Sites[:1]
	alive := []api.ServerState{{Name: "a-1", Health: api.HealthAlive, Role: "master"}, {Name: "a-2", Health: api.HealthAlive, Role: "member"}}
	live := map[string]*api.State{
		"10.0.0.1:53540":  {Site: "a", Revision: 2, Answering: "a-1", Master: "a-1", Servers: alive, Spec: before.Sites[0].Redacted(testFP), FingerprintKey: testKey},
		"10.0.0.10:53540": {Site: "a", Revision: 2, Answering: "a-2", Master: "a-1", Servers: alive, Spec: before.Sites[0].Redacted(testFP), FingerprintKey: testKey},
	}
	state := func(_ context.Context, addr string) (*api.State, error) {
		if st := live[addr]; st != nil {
			return st, nil
		}
		return nil, errors.New("refused")
	}
	d, err := PlanDomain(context.Background(), before, state, DomainOptions{})
	if err != nil || d.Sites[0].Address != "10.0.0.1:53540" {
		t.Fatalf("unchanged site: %v, %+v", err, d.Sites[0])
	}
	// a-1's address now belongs to a new server, tried first: a-1 answers
	// there, and the plan removes it.
	a.Servers = append([]*spec.Server{{Name: "a-1-new", Address: "10.0.0.1", Port: 53540, Kind: spec.KindRecording}}, a.Servers...)
	d, err = PlanDomain(context.Background(), desired, state, DomainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := d.Sites[0]; s.Address != "10.0.0.10:53540" || len(s.Plan.Errors) != 0 {
		t.Errorf("removing the answering server: planned through %s with errors %+v; want the next server, no errors", s.Address, s.Plan.Errors)
	}
}

// A site whose configured address reaches a server of another site is
// reported with that address and advice about the configuration, not about
// -address (which a domain plan does not use).
func TestDomainSiteMismatchNamesTheConfiguredAddress(t *testing.T) {
	cfg := twoSites()
	other := &api.State{Site: "elsewhere", Answering: "x-1"}
	state := func(_ context.Context, addr string) (*api.State, error) { return other, nil }
	d, err := PlanDomain(context.Background(), cfg, state, DomainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds := d.Sites[0]
	if ds.Status != SiteFailed || !strings.Contains(ds.Error, "server at 10.0.0.1:53540 (x-1) belongs to site \"elsewhere\"") ||
		!strings.Contains(ds.Error, "addresses of site \"a\"'s servers in the configuration") || strings.Contains(ds.Error, "-address") {
		t.Errorf("site a: %s: %s", ds.Status, ds.Error)
	}
}
