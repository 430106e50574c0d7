//go:build unix

package cluster

import (
	"fmt"
	"io/fs"
)

// checkFileMode refuses a bindings file that group or others may write:
// whoever can write it can take a deleted client's tombstone away.
func checkFileMode(path string, fi fs.FileInfo) error {
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("cluster: bindings file %s has mode %04o, so group or others may write it; it was left untouched: run chmod 600 %s", path, m, path)
	}
	return nil
}
