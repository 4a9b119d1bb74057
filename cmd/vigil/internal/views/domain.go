package views

import (
	"fmt"
	"io"
	"strings"

	"vigil/runtime/api"
)

// DomainSite is one site of `vigil status` on a domain: its place in the
// tree and its live state, or why there is none.
type DomainSite struct {
	Site    string `json:"site"`
	Parent  string `json:"parent,omitempty"`
	Virtual bool   `json:"virtual,omitempty"`
	// Depth is the number of ancestors shown above the site.
	Depth int `json:"depth"`
	// Address is the API address that answered.
	Address string `json:"address,omitempty"`
	// Tried lists the addresses tried when none answered.
	Tried []string `json:"tried,omitempty"`
	// Error says why there is no state.
	Error string     `json:"error,omitempty"`
	State *api.State `json:"state,omitempty"`
}

// SiteCounts sums a site's state up the way the domain tree shows it.
type SiteCounts struct {
	ServersUp, ServersDown                         int
	Recording, Covered, Dark, NotRecorded, Cameras int
}

// Counts sums st up: a server is up when membership says alive (suspect
// servers count as up: they still record); cameras by site-wide state,
// uncovered and failing cameras together as not recorded.
func Counts(st *api.State) SiteCounts {
	var c SiteCounts
	for _, s := range st.Servers {
		if s.Up() {
			c.ServersUp++
		} else {
			c.ServersDown++
		}
	}
	for _, cam := range st.Cameras {
		c.Cameras++
		switch cam.State {
		case api.CameraRecording:
			c.Recording++
		case api.CameraCovered:
			c.Covered++
		case api.CameraDark:
			c.Dark++
		default:
			c.NotRecorded++
		}
	}
	return c
}

// DomainStatus renders the domain tree: per site, indented under its
// parent, its master, servers up and down, and cameras recording, covered
// by a backup, dark and not recorded.
func DomainStatus(w io.Writer, domain string, sites []DomainSite, o Options) {
	p := painter(o.Color)
	head := "Domain"
	if domain != "" {
		head += " " + domain
	}
	reached := 0
	for _, s := range sites {
		if s.State != nil {
			reached++
		}
	}
	fmt.Fprintln(w, p(bold, fmt.Sprintf("%s · %d sites, %d reached", head, len(sites), reached)))
	fmt.Fprintln(w)
	t := &table{header: []string{"SITE", "MASTER", "SERVERS", "CAMERAS"}}
	for _, s := range sites {
		name := strings.Repeat("  ", s.Depth) + s.Site
		if s.Virtual {
			name += p(dim, " (virtual)")
		}
		if s.State == nil {
			msg := "unreachable"
			if len(s.Tried) > 0 {
				msg += " (tried " + strings.Join(s.Tried, ", ") + ")"
			} else if s.Error != "" {
				msg = s.Error
			}
			// In the last column, so that a long message does not widen the others.
			t.add([]string{name, "-", "-", p(red, msg)})
			continue
		}
		st := s.State
		c := Counts(st)
		master := masterName(st, p)
		servers := fmt.Sprintf("%d up", c.ServersUp)
		if c.ServersDown > 0 {
			servers += ", " + p(red, fmt.Sprintf("%d down", c.ServersDown))
		}
		cams := fmt.Sprintf("%d recording", c.Recording)
		if c.Covered > 0 {
			cams += ", " + p(yellow, fmt.Sprintf("%d covered by a backup", c.Covered))
		}
		if c.Dark > 0 {
			cams += ", " + p(red, fmt.Sprintf("%d dark", c.Dark))
		}
		if c.NotRecorded > 0 {
			cams += ", " + p(red, fmt.Sprintf("%d not recorded", c.NotRecorded))
		}
		if c.Cameras == 0 {
			cams = "none"
		}
		t.add([]string{name, master, servers, cams})
	}
	t.write(w)
}
