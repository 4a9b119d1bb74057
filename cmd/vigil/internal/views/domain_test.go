package views

import (
	"strings"
	"testing"
)

func TestDomainStatus(t *testing.T) {
	hq := site(5)
	sites := []DomainSite{
		{Site: "hq", State: hq},
		{Site: "emea", Parent: "hq", Virtual: true, Depth: 1, Error: "no server has an address"},
		{Site: "branch-1", Parent: "emea", Depth: 2, Tried: []string{"10.1.0.11:53540", "10.1.0.12:53540"}, Error: "connection refused"},
	}
	var b strings.Builder
	DomainStatus(&b, "acme", sites, Options{})
	want := `Domain acme · 3 sites, 1 reached

SITE              MASTER  SERVERS       CAMERAS
hq                rec-1   2 up, 1 down  3 recording, 1 covered by a backup, 1 dark
  emea (virtual)  -       -             no server has an address
    branch-1      -       -             unreachable (tried 10.1.0.11:53540, 10.1.0.12:53540)
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if c := Counts(hq); c.ServersUp != 2 || c.ServersDown != 1 || c.Recording != 3 || c.Covered != 1 || c.Dark != 1 || c.NotRecorded != 0 {
		t.Errorf("counts %+v", c)
	}
}
