package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// IdentityError is Replace's refusal of a file a new one cannot stand
// for: Err says why (another hard link, an owner, group or extended
// attribute this process cannot give). The file is left as it was.
type IdentityError struct {
	Path string
	Err  error
}

var _ error = (*IdentityError)(nil)

func (e *IdentityError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *IdentityError) Unwrap() error { return e.Err }

// Replace replaces the existing file at path (where it leads, when it is
// a symbolic link) with data atomically, as Commit does, keeping the
// file's mode, owner, group and (on Linux) extended attributes: a reader,
// such as a gateway watching the directory, sees the old content or the
// new, never a part, and a failed write leaves the old content in place.
// A file a new one cannot stand for (see sameIdentity) is left as it is,
// with an *IdentityError saying why.
func Replace(path string, data []byte) error {
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	return replaceAt(path, real, data)
}

// OutsideError is ReplaceWithin's refusal of a path that leads out of its
// root. The file is left as it was.
type OutsideError struct {
	Path, Target, Root string
}

var _ error = (*OutsideError)(nil)

func (e *OutsideError) Error() string {
	return e.Path + " links to " + e.Target + ", outside " + e.Root
}

// ReplaceWithin is Replace for a path that must lead to a file under the
// directory root (through root's own links): path is resolved once, and
// a path leading elsewhere is an *OutsideError. A link swapped in where
// path led, after it was resolved, is replaced itself (a rename does not
// follow it), never followed.
func ReplaceWithin(root, path string, data []byte) error {
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	top, err := filepath.EvalSymlinks(root)
	if err == nil {
		top, err = filepath.Abs(top)
	}
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(top, real); err != nil || !filepath.IsLocal(rel) {
		return &OutsideError{Path: path, Target: real, Root: root}
	}
	return replaceAt(path, real, data)
}

// replaceAt replaces the file at real, the resolved form of path (which
// errors name), without following links any more.
func replaceAt(path, real string, data []byte) error {
	fi, err := os.Lstat(real)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &IdentityError{Path: path, Err: fmt.Errorf("it is not a regular file (%s)", fi.Mode().Type())}
	}
	f, err := createAt(real, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := sameIdentity(f.Name(), real, fi); err != nil {
		return &IdentityError{Path: path, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
