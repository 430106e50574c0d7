//go:build unix

package store

import (
	"fmt"
	"io/fs"
	"os"
)

// checkFileMode refuses a state file that group or others may write:
// whoever can write it can add accounts and bind clients to policies.
func checkFileMode(path string, fi fs.FileInfo) error {
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o, so group or others may write it; it was left untouched: run chmod 600 %s", ErrPermissions, path, m, path)
	}
	return nil
}

// checkDirMode refuses a directory of the state file in which group or
// others may replace it (writable by them, without the sticky bit).
func checkDirMode(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if m := fi.Mode(); m.Perm()&0o022 != 0 && m&fs.ModeSticky == 0 {
		return fmt.Errorf("%w: directory %s has mode %04o, so group or others may replace the state file in it: run chmod go-w %s", ErrPermissions, dir, m.Perm(), dir)
	}
	return nil
}
