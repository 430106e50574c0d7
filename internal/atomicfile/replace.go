package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// IdentityError is ReplaceWithin's refusal of a file a new one cannot
// stand for, or that is not a regular file or changed while it was
// replaced: Err says why (another hard link, an owner, group or extended
// attribute this process cannot give). The file is left as it was.
type IdentityError struct {
	Path string
	Err  error
}

var _ error = (*IdentityError)(nil)

func (e *IdentityError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *IdentityError) Unwrap() error { return e.Err }

// OutsideError is ReplaceWithin's refusal of a path that leads out of its
// root. The file is left as it was.
type OutsideError struct {
	Path, Target, Root string
}

var _ error = (*OutsideError)(nil)

func (e *OutsideError) Error() string {
	return e.Path + " links to " + e.Target + ", outside " + e.Root
}

// ReplaceWithin replaces the existing file at path (where it leads, when
// it is a symbolic link), which must be under the directory root (through
// root's own links), with data atomically, as Commit does, keeping the
// file's mode, owner, group and (on Linux) extended attributes: a reader,
// such as a gateway watching the directory, sees the old content or the
// new, never a part, and a failed write leaves the old content in place
// (but for an error wrapping ErrNotDurable, after which the new content
// is in place: see Commit).
// A path leading out of root is an *OutsideError; a file a new one cannot
// stand for (see sameIdentity) is left as it is, with an *IdentityError
// saying why. The file is replaced through an os.Root of root, so that a
// link swapped in on the way while it runs, to a directory or a file
// outside, is not followed there.
func ReplaceWithin(root, path string, data []byte) error {
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	top, err := Resolve(root)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(top, real)
	if err != nil || !filepath.IsLocal(rel) {
		return &OutsideError{Path: path, Target: real, Root: root}
	}
	r, err := os.OpenRoot(top)
	if err != nil {
		return err
	}
	defer r.Close()
	return replaceIn(r, rel, path, data)
}

// replaceIn replaces the file rel in r (path, for errors, is how the
// caller named it): its new content goes to a temporary file beside it,
// made to stand for it (sameIdentity), synced, renamed over it, and the
// directory synced, every step relative to r.
func replaceIn(r *os.Root, rel, path string, data []byte) error {
	fi, err := r.Lstat(rel)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &IdentityError{Path: path, Err: fmt.Errorf("it is not a regular file (%s)", fi.Mode().Type())}
	}
	orig, err := r.Open(rel)
	if err != nil {
		return err
	}
	defer orig.Close()
	if ofi, err := orig.Stat(); err != nil || !os.SameFile(fi, ofi) {
		return &IdentityError{Path: path, Err: errors.New("it changed while it was being replaced")}
	}
	f, err := createIn(r, rel, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := sameIdentity(f.tmp, orig, fi); err != nil {
		return &IdentityError{Path: path, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
