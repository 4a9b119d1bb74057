package planner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"vigil/hcl/spec"
	"vigil/runtime/atomicfile"
)

// PlanFile is what `vigil plan -out FILE` saves and `vigil apply FILE` reads.
// It holds the desired spec with real camera passwords: plan files are
// secrets, written with mode 0600.
type PlanFile struct {
	Site string `json:"site"`
	// BaseRevision is the live revision the plan was made against; apply
	// refuses the file when the site has moved on.
	BaseRevision uint64 `json:"base_revision"`
	// Version of vigil that wrote the file.
	Version string    `json:"vigil_version"`
	Created time.Time `json:"created"`
	Summary Summary   `json:"summary"`
	// MasterTransfer is the server the master role moves to before the
	// apply, when the plan removes or replaces the master.
	MasterTransfer string `json:"master_transfer,omitempty"`
	// Sensitive are the values of the configuration's sensitive variables,
	// so that showing the plan again at apply time hides them too.
	Sensitive []string   `json:"sensitive,omitempty"`
	Spec      *spec.Site `json:"spec"`
}

// envelope is the file on disk: the checksum covers the compact JSON of Plan.
type envelope struct {
	FormatVersion FormatVersion   `json:"format_version"`
	Checksum      string          `json:"checksum"`
	Plan          json.RawMessage `json:"plan"`
}

// ErrTampered is returned for a plan file whose content does not match its
// checksum.
var ErrTampered = errors.New("the plan file was modified after vigil plan wrote it (checksum mismatch); run vigil plan -out again")

// NewPlanFile is the saved form of p; sensitive are the configuration's
// sensitive values (hcl.Config.Sensitive).
func NewPlanFile(p *SitePlan, sensitive []string, version string, now time.Time) *PlanFile {
	f := &PlanFile{
		Site: p.Site, BaseRevision: p.BaseRevision, Version: version,
		Created: now.UTC(), Summary: p.Summary, Sensitive: sensitive, Spec: p.Desired,
	}
	for _, c := range p.Changes {
		if c.Action == TransferMaster {
			f.MasterTransfer = c.To
		}
	}
	return f
}

// EncodePlanFile returns the file's bytes.
func EncodePlanFile(f *PlanFile) ([]byte, error) {
	env, err := planEnvelope(f)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(env, "", "  ")
}

// planEnvelope is f as it is saved, with its checksum.
func planEnvelope(f *PlanFile) (envelope, error) {
	body, err := json.Marshal(f)
	if err != nil {
		return envelope{}, err
	}
	return envelope{FormatVersion: Format, Checksum: checksum(body), Plan: body}, nil
}

// checksum is the "sha256:<hex>" form the plan files use.
func checksum(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// WritePlanFile saves f at path, readable by its owner only.
func WritePlanFile(path string, f *PlanFile) error { return writeFile(path, f, EncodePlanFile) }

// writeFile encodes f and saves it at path, readable by its owner only: a
// site's or a domain's plan file.
func writeFile[F any](path string, f F, encode func(F) ([]byte, error)) error {
	b, err := encode(f)
	if err != nil {
		return err
	}
	// Not remove-then-write: a symlink planted in between was followed.
	return atomicfile.Write(path, append(b, '\n'), 0o600, "."+filepath.Base(path)+".*")
}

// readFile reads the plan file at path and decodes it, naming path in the
// decoding errors.
func readFile[F any](path string, decode func([]byte) (F, error)) (F, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var zero F
		return zero, err
	}
	f, err := decode(b)
	if err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// DecodePlanFile parses a plan file and checks its format and checksum.
func DecodePlanFile(b []byte) (*PlanFile, error) {
	f, _, err := decodePlanFile(b)
	return f, err
}

// decodePlanFile is DecodePlanFile that also returns the file's checksum,
// which a domain plan file's own checksum covers.
func decodePlanFile(b []byte) (*PlanFile, string, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, "", fmt.Errorf("not a vigil plan file: %v", err)
	}
	if env.FormatVersion == "" || env.Checksum == "" || len(env.Plan) == 0 {
		return nil, "", errors.New("not a vigil plan file: format_version, checksum or plan missing")
	}
	if err := checkFormat(env.FormatVersion); err != nil {
		return nil, "", err
	}
	// Whitespace does not count: the checksum covers the compact form.
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Plan); err != nil {
		return nil, "", fmt.Errorf("not a vigil plan file: %v", err)
	}
	if env.Checksum != checksum(compact.Bytes()) {
		return nil, "", ErrTampered
	}
	var f PlanFile
	dec := json.NewDecoder(bytes.NewReader(compact.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, "", fmt.Errorf("reading plan file: %v", err)
	}
	if f.Spec == nil || f.Site == "" || f.Spec.Name != f.Site {
		return nil, "", errors.New("the plan file holds no spec for its site; run vigil plan -out again")
	}
	return &f, env.Checksum, nil
}

// ReadPlanFile reads and checks the plan file at path.
func ReadPlanFile(path string) (*PlanFile, error) { return readFile(path, DecodePlanFile) }

// StalePlanError is a saved plan made against an older revision.
type StalePlanError struct {
	Planned, Live uint64
}

func (e *StalePlanError) Error() string {
	return fmt.Sprintf("the site changed since this plan was made: planned against revision %d, the site is at revision %d; run vigil plan again", e.Planned, e.Live)
}

// CheckCurrent refuses a plan file made against another site or an older
// revision than live.
func (f *PlanFile) CheckCurrent(liveSite string, liveRevision uint64) error {
	if liveSite != "" && liveSite != f.Site {
		return fmt.Errorf("the plan file is for site %q, but the server that answered belongs to site %q; point -address (or VIGIL_ADDR) at a server of site %q", f.Site, liveSite, f.Site)
	}
	if liveRevision != f.BaseRevision {
		return &StalePlanError{Planned: f.BaseRevision, Live: liveRevision}
	}
	return nil
}
