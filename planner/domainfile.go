package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// DomainPlanFile is what `vigil plan -out FILE` saves for a domain: one plan
// file per planned site, each with its own checksum and base revision, so
// that `vigil apply FILE` checks every site for staleness and tampering as
// it would a single site's file.
type DomainPlanFile struct {
	Domain string `json:"domain,omitempty"`
	// Sites are the plan files of the planned sites, in tree order.
	Sites []*PlanFile
	// Skipped are the sites that could not be planned; applying the file
	// needs -allow-partial when there are any.
	Skipped []string
}

// domainEnvelope is the file on disk. Checksum covers the domain name, the
// site files' checksums and the skipped sites, so that a site dropped from
// the file or a skipped site removed is detected as well.
type domainEnvelope struct {
	FormatVersion FormatVersion     `json:"format_version"`
	Kind          string            `json:"kind"`
	Domain        string            `json:"domain,omitempty"`
	Checksum      string            `json:"checksum"`
	Skipped       []string          `json:"skipped,omitempty"`
	Sites         []json.RawMessage `json:"sites"`
}

const domainKind = "domain"

// NewDomainPlanFile is the saved form of d: the plan file of every planned
// site with changes or without (so that apply can check none moved on).
func NewDomainPlanFile(d *DomainPlan, sensitive []string, version string, now time.Time) *DomainPlanFile {
	f := &DomainPlanFile{Domain: d.Domain, Skipped: d.Skipped()}
	for _, s := range d.Sites {
		if s.Plan != nil {
			f.Sites = append(f.Sites, NewPlanFile(s.Plan, sensitive, version, now))
		}
	}
	return f
}

// EncodeDomainPlanFile returns the file's bytes.
func EncodeDomainPlanFile(f *DomainPlanFile) ([]byte, error) {
	env := domainEnvelope{FormatVersion: Format, Kind: domainKind, Domain: f.Domain, Skipped: f.Skipped, Sites: []json.RawMessage{}}
	var sums []string
	for _, s := range f.Sites {
		e, err := planEnvelope(s)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		env.Sites = append(env.Sites, b)
		sums = append(sums, e.Checksum)
	}
	env.Checksum = domainChecksum(f.Domain, sums, f.Skipped)
	return json.MarshalIndent(env, "", "  ")
}

func domainChecksum(domain string, sums, skipped []string) string {
	b, _ := json.Marshal(struct {
		Domain  string   `json:"domain"`
		Sites   []string `json:"sites"`
		Skipped []string `json:"skipped"`
	}{domain, sums, skipped})
	return checksum(b)
}

// WriteDomainPlanFile saves f at path, readable by its owner only.
func WriteDomainPlanFile(path string, f *DomainPlanFile) error {
	return writeFile(path, f, EncodeDomainPlanFile)
}

// IsDomainPlanFile reports whether b is a domain plan file (rather than a
// single site's).
func IsDomainPlanFile(b []byte) bool {
	var probe struct {
		Kind string `json:"kind"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Kind == domainKind
}

// DecodeDomainPlanFile parses a domain plan file and checks its format and
// checksums: the domain's and each site's.
func DecodeDomainPlanFile(b []byte) (*DomainPlanFile, error) {
	var env domainEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("not a vigil plan file: %v", err)
	}
	if env.Kind != domainKind || env.Checksum == "" {
		return nil, errors.New("not a vigil domain plan file: kind or checksum missing")
	}
	if err := checkFormat(env.FormatVersion); err != nil {
		return nil, err
	}
	f := &DomainPlanFile{Domain: env.Domain, Skipped: env.Skipped}
	var sums []string
	seen := map[string]bool{}
	for i, raw := range env.Sites {
		pf, sum, err := decodePlanFile(raw)
		if err != nil {
			if errors.Is(err, ErrTampered) {
				return nil, err
			}
			return nil, fmt.Errorf("site %d of the plan file: %w", i+1, err)
		}
		if seen[pf.Site] {
			return nil, fmt.Errorf("the plan file holds site %q twice; run vigil plan -out again", pf.Site)
		}
		seen[pf.Site] = true
		sums = append(sums, sum)
		f.Sites = append(f.Sites, pf)
	}
	if env.Checksum != domainChecksum(env.Domain, sums, env.Skipped) {
		return nil, ErrTampered
	}
	return f, nil
}

// ReadDomainPlanFile reads and checks the domain plan file at path.
func ReadDomainPlanFile(path string) (*DomainPlanFile, error) {
	return readFile(path, DecodeDomainPlanFile)
}
