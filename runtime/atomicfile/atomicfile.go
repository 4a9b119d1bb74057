// Package atomicfile writes files so that a crash or a full disk never
// leaves one half written: configuration files (vigil fmt, config import),
// plan files and export manifests.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data: written to a new file of mode
// perm beside it (opened with O_EXCL, so no planted symlink is followed),
// synced and renamed over path, so that a crash or a full disk leaves the
// old file whole and path is never a file of another mode. prefix starts
// the temporary file's name (a leftover must not look like what the
// directory holds, such as *.hcl).
func Write(path string, data []byte, perm os.FileMode, prefix string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), prefix)
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
