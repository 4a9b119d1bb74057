package devsite

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// keptFile, in a data directory given to Start (vigil dev -data DIR), holds
// what must stay the same when the site is run again from it: the API
// token (the operator's VIGIL_TOKEN keeps working), the site key, and
// whether a configuration was ever applied (then the site's own state, with
// the operator's applies, is what runs next time).
const keptFile = "dev-site.json"

type kept struct {
	Site    string `json:"site"`
	Token   string `json:"token"`
	SiteKey []byte `json:"site_key"`
	Applied bool   `json:"applied"`
}

// keep reads dir's kept file, or makes one for a directory that has none.
func keep(dir, site string) (k kept, err error) {
	path := filepath.Join(dir, keptFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &k); err != nil {
			return k, fmt.Errorf("%s: %v", path, err)
		}
		if k.Site != site {
			return k, fmt.Errorf("%s holds site %s, not %s: give another -data directory", dir, k.Site, site)
		}
		return k, nil
	case !errors.Is(err, fs.ErrNotExist):
		return k, err
	}
	k = kept{Site: site, SiteKey: make([]byte, 32)}
	tok := make([]byte, 18)
	rand.Read(tok)
	rand.Read(k.SiteKey)
	k.Token = base64.RawURLEncoding.EncodeToString(tok)
	return k, writeKept(dir, k)
}

func writeKept(dir string, k kept) error {
	b, _ := json.MarshalIndent(k, "", "  ")
	return os.WriteFile(filepath.Join(dir, keptFile), append(b, '\n'), 0o600)
}

// MarkApplied records in a kept data directory that a configuration was
// applied, so that the next run continues from the site's state instead of
// applying again.
func (s *Site) MarkApplied() error {
	if s.TempDir {
		return nil
	}
	s.kept.Applied = true
	return writeKept(s.Dir, s.kept)
}
