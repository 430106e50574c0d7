package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// PermissionError is the error of a file that users other than its owner
// may write, or of a directory in which they may replace it, or of either
// owned by a user other than this process's effective user and root.
type PermissionError struct {
	// Path is the file or the directory.
	Path string
	// Mode is its mode; Mode.IsDir() tells which of the two it is.
	Mode fs.FileMode
	// Owner is the uid of Path's owner when that owner is what is wrong
	// (see foreignOwner); 0 when the mode is.
	Owner int
	// File is the file below the directory Path; "" when Path is the file.
	File string
}

func (e *PermissionError) Error() string {
	switch {
	case e.Owner != 0 && e.Mode.IsDir():
		return fmt.Sprintf("directory %s is owned by uid %d, neither this process's user (uid %d) nor root, so that user may replace %s: keep the file elsewhere, or run chown %d %s",
			e.Path, e.Owner, os.Geteuid(), e.File, os.Geteuid(), e.Path)
	case e.Owner != 0:
		return fmt.Sprintf("%s is owned by uid %d, neither this process's user (uid %d) nor root, so that user may write it; it was left untouched: check its content, then run chown %d %s",
			e.Path, e.Owner, os.Geteuid(), os.Geteuid(), e.Path)
	case e.Mode.IsDir():
		return fmt.Sprintf("directory %s has mode %04o, so group or others may replace %s: run chmod go-w %s", e.Path, e.Mode.Perm(), e.File, e.Path)
	}
	return fmt.Sprintf("%s has mode %04o, so group or others may write it; it was left untouched: run chmod 600 %s", e.Path, e.Mode.Perm(), e.Path)
}

// CheckFile returns a *PermissionError when fi, the file at path, is one
// that group or others may write, or one owned by a user other than this
// process's effective user and root; nil otherwise.
func CheckFile(path string, fi fs.FileInfo) error {
	return check(path, fi, "")
}

// check is CheckFile of a file, or of a directory above the file named
// file.
func check(path string, fi fs.FileInfo, file string) error {
	if uid := foreignOwner(fi); uid != 0 {
		return &PermissionError{Path: path, Mode: fi.Mode(), Owner: uid, File: file}
	}
	if openToOthers(fi.Mode()) {
		return &PermissionError{Path: path, Mode: fi.Mode(), File: file}
	}
	return nil
}

// CheckDirs returns a *PermissionError for the first directory, from the
// file's own up to the root, in which group or others may replace the
// file at path, or that another user owns (see CheckFile): along the path Resolve returns for it, then along path as
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
		if err := check(dir, fi, p); err != nil {
			return err
		}
		if filepath.Dir(dir) == dir {
			return nil
		}
	}
}

// ReadPrivate returns the content of the file at path once CheckDirs has
// accepted its directories and CheckFile the file as opened (a
// *PermissionError otherwise). A missing file is an
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
	if err := CheckFile(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}
