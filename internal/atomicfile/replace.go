package atomicfile

import (
	"os"
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
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	f, err := Create(path, fi.Mode().Perm())
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := sameIdentity(f.Name(), path, fi); err != nil {
		return &IdentityError{Path: path, Err: err}
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}
