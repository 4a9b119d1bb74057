package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"vigil/dev/devsite"
)

// siteConfig writes a configuration for the in-process site with the given
// cameras (name -> primary server) and returns its directory. The cameras
// point at a closed port: the planner and the apply do not need them.
func siteConfig(t *testing.T, s *devsite.Site, cameras ...[2]string) string {
	return siteConfigOf(t, s, s.Names(), cameras...)
}

// siteConfigOf is siteConfig with only the named servers; a camera's backup
// is the first of them that is not its primary.
func siteConfigOf(t *testing.T, s *devsite.Site, servers []string, cameras ...[2]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "site %q {\n  keepalive = \"1s\"\n", s.Name)
	for _, n := range servers {
		srv := s.Server(n)
		fmt.Fprintf(&b, "  server %q {\n    address = %q\n    port    = %d\n    storage \"main\" {\n      path = \"recordings\"\n    }\n  }\n", n, srv.IP, srv.Port)
	}
	for _, c := range cameras {
		backup := servers[0]
		if c[1] == backup {
			backup = servers[1]
		}
		fmt.Fprintf(&b, "  camera %q {\n    url    = \"rtsp://127.0.0.1:9/%s\"\n    server = %q\n    backup = [%q]\n  }\n", c[0], c[0], c[1], backup)
	}
	b.WriteString("}\n")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestApplyEndToEnd runs plan and apply against a real in-process site of
// three agents: apply, then a plan that says No changes, then two applies
// planned against the same revision, of which exactly one wins.
func TestApplyEndToEnd(t *testing.T) {
	s := startSite(t, []string{"rec-1", "rec-2", "rec-3"}, 0)
	addr := s.Server("rec-2").Addr()

	first := siteConfig(t, s, [2]string{"door", "rec-1"}, [2]string{"yard", "rec-2"})
	code, out, errs := vigil(t, "apply", "-auto-approve", "-address", addr, first)
	if code != 0 || !strings.Contains(out, "Apply complete! Site test is at revision 1") {
		t.Fatalf("first apply: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = vigil(t, "plan", "-detailed-exitcode", "-address", addr, first)
	if code != 0 || !strings.Contains(out, "No changes. The site matches the configuration.") {
		t.Fatalf("plan after apply: exit %d\n%s%s", code, out, errs)
	}

	// Two operators plan different changes against revision 1.
	a := siteConfig(t, s, [2]string{"door", "rec-1"}, [2]string{"yard", "rec-2"}, [2]string{"gate", "rec-3"})
	b := siteConfig(t, s, [2]string{"door", "rec-3"}, [2]string{"yard", "rec-2"})
	planA, planB := filepath.Join(t.TempDir(), "a.plan"), filepath.Join(t.TempDir(), "b.plan")
	for _, p := range [][2]string{{a, planA}, {b, planB}} {
		if code, out, errs := vigil(t, "plan", "-address", addr, "-out", p[1], p[0]); code != 0 {
			t.Fatalf("plan %s: exit %d\n%s%s", p[0], code, out, errs)
		}
	}
	var wg sync.WaitGroup
	codes, stderrs := make([]int, 2), make([]string, 2)
	for i, p := range []string{planA, planB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, stderrs[i] = vigil(t, "apply", "-address", addr, p)
		}()
	}
	wg.Wait()
	won, lost := 0, 0
	for i := range codes {
		switch {
		case codes[i] == 0:
			won++
		case strings.Contains(stderrs[i], "the site changed since this plan was made"):
			lost++
		default:
			t.Errorf("apply %d: exit %d: %s", i, codes[i], stderrs[i])
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("%d applies won and %d were told the site changed; want exactly one of each", won, lost)
	}
	// The applies went through rec-2; vigil apply returns once every live
	// server reports the new revision, so rec-1 has it.
	st, err := s.Client("rec-1").State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision != 2 {
		t.Errorf("revision %d after one winning apply, want 2", st.Revision)
	}

	// Remove the master, talking to another server: the master role moves
	// first, the cameras move off it, and the site matches afterwards.
	master := st.Master
	var rest []string
	for _, n := range s.Names() {
		if n != master {
			rest = append(rest, n)
		}
	}
	via := s.Server(rest[0]).Addr()
	without := siteConfigOf(t, s, rest, [2]string{"door", rest[0]}, [2]string{"yard", rest[1]})
	code, out, errs = vigil(t, "apply", "-auto-approve", "-address", via, without)
	if code != 0 || !strings.Contains(out, "transfer master from "+master+" to "+rest[0]) {
		t.Fatalf("removing the master %s: exit %d\n%s%s", master, code, out, errs)
	}
	code, out, errs = vigil(t, "plan", "-detailed-exitcode", "-address", via, without)
	if code != 0 {
		t.Fatalf("plan after removing the master: exit %d\n%s%s", code, out, errs)
	}

	// apply -json: one document on stdout, nothing applied when nothing
	// changes, then the site and its new revision.
	var res struct {
		Applied bool `json:"applied"`
		Sites   []struct {
			Site     string `json:"site"`
			Revision uint64 `json:"revision"`
			Summary  struct {
				Add int `json:"add"`
			} `json:"summary"`
		} `json:"sites"`
	}
	code, out, errs = vigil(t, "apply", "-json", "-auto-approve", "-address", via, without)
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || res.Applied || res.Sites == nil || len(res.Sites) != 0 {
		t.Fatalf("apply -json without changes: exit %d, %v\n%s%s", code, err, out, errs)
	}
	more := siteConfigOf(t, s, rest, [2]string{"door", rest[0]}, [2]string{"yard", rest[1]}, [2]string{"gate", rest[1]})
	code, out, errs = vigil(t, "apply", "-json", "-auto-approve", "-address", via, more)
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil || !res.Applied || len(res.Sites) != 1 ||
		res.Sites[0].Site != "test" || res.Sites[0].Revision <= st.Revision || res.Sites[0].Summary.Add != 1 {
		t.Fatalf("apply -json: exit %d, %v\n%s%s", code, err, out, errs)
	}
	if !strings.Contains(errs, "Apply complete!") {
		t.Errorf("apply -json: the progress is not on stderr:\n%s", errs)
	}
}
