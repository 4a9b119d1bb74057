package spec

import (
	"fmt"
	"path/filepath"
	"strings"
)

// systemDirs are the trees a storage path may never name or lie in: the
// agent would write recordings over, and retention delete, what the system
// runs from.
var systemDirs = []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run", "/sbin", "/sys", "/usr"}

// CheckStoragePath is the rule for a storage block's path, the one place
// both configuration files and the API apply it: a relative path stays
// inside the agent's data directory (no "..", not the data directory
// itself, which holds the agent's own state); an absolute path is neither
// the root nor inside a system directory (/etc, /proc, /usr, ...). Which absolute trees a server may
// record to is the agent's own setting (storage_roots).
func CheckStoragePath(p string) error {
	if strings.TrimSpace(p) == "" {
		return fmt.Errorf("the path is empty")
	}
	if strings.ContainsRune(p, 0) {
		return fmt.Errorf("the path contains a NUL byte")
	}
	clean := filepath.Clean(p)
	if !filepath.IsAbs(clean) {
		if clean == "." {
			return fmt.Errorf("%q is the agent's data directory itself, which holds its state: name a directory inside it, such as \"recordings\"", p)
		}
		if clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("%q leaves the agent's data directory: a relative path must stay inside it", p)
		}
		return nil
	}
	if clean == "/" {
		return fmt.Errorf("%q is the root directory: name a directory for recordings, such as /var/lib/vigil/recordings or /srv/recordings", p)
	}
	for _, d := range systemDirs {
		if clean == d || strings.HasPrefix(clean, d+"/") {
			return fmt.Errorf("%q is inside the system directory %s", p, d)
		}
	}
	return nil
}
