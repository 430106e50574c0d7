package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// PermissionError is the error of a file that users other than its owner
// may write, or of a directory in which they may replace it.
type PermissionError struct {
	// Path is the file or the directory.
	Path string
	// Mode is its mode; Mode.IsDir() tells which of the two it is.
	Mode fs.FileMode
	// File is the file below the directory Path; "" when Path is the file.
	File string
}

func (e *PermissionError) Error() string {
	if e.Mode.IsDir() {
		return fmt.Sprintf("directory %s has mode %04o, so group or others may replace %s: run chmod go-w %s", e.Path, e.Mode.Perm(), e.File, e.Path)
	}
	return fmt.Sprintf("%s has mode %04o, so group or others may write it; it was left untouched: run chmod 600 %s", e.Path, e.Mode.Perm(), e.Path)
}

// CheckDirs returns a *PermissionError for the first directory, from the
// file's own up to the root, in which group or others may replace the
// file at path: along the path Resolve returns for it, then along path as
// given. Errors that are not about permissions (a missing directory)
// are returned as they are.
func CheckDirs(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	real, err := Resolve(abs)
	if err != nil {
		return err
	}
	if err := checkAncestors(real); err != nil {
		if real != abs {
			return fmt.Errorf("%s leads to %s: %w", abs, real, err)
		}
		return err
	}
	if real == abs {
		return nil
	}
	return checkAncestors(abs)
}

// checkAncestors checks every directory above the absolute path p.
func checkAncestors(p string) error {
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if openToOthers(fi.Mode()) {
			return &PermissionError{Path: dir, Mode: fi.Mode(), File: p}
		}
		if filepath.Dir(dir) == dir {
			return nil
		}
	}
}

// ReadPrivate returns the content of the file at path once CheckDirs has
// accepted its directories and the file, as opened, is not one that group
// or others may write (a *PermissionError otherwise). A missing file is an
// error matching fs.ErrNotExist, returned after the directories were
// checked.
func ReadPrivate(path string) ([]byte, error) {
	if err := CheckDirs(path); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if openToOthers(fi.Mode()) {
		return nil, &PermissionError{Path: path, Mode: fi.Mode()}
	}
	return io.ReadAll(f)
}
