package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File is the new content of a file, written to a temporary file beside
// it until Commit puts it in place. A File is not safe for concurrent use.
type File struct {
	tmp  *os.File
	path string // the destination, resolved
	done bool   // committed or aborted
}

// Create starts replacing the file at path, or where path leads when it
// is a symbolic link: it creates a temporary file with mode perm in the
// destination's directory, named after it (see RemoveStale).
func Create(path string, perm fs.FileMode) (*File, error) {
	real, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(real), tempPrefix(real)+"*")
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return &File{tmp: tmp, path: real}, nil
}

// Write appends b to the new content.
func (f *File) Write(b []byte) (int, error) { return f.tmp.Write(b) }

// Name returns the path of the temporary file.
func (f *File) Name() string { return f.tmp.Name() }

// Commit syncs the new content, renames it over the destination and syncs
// the directory. When it fails before the rename, the destination is as
// it was and the temporary file is gone; when only the directory sync
// fails, the new content is in place but may not survive a crash.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: Commit after Commit or Abort")
	}
	f.done = true
	err := f.tmp.Sync()
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(f.tmp.Name())
		return err
	}
	d, err := os.Open(filepath.Dir(f.path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Abort removes the temporary file and leaves the destination as it was.
// After Commit or Abort it does nothing, so that it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.tmp.Close()
	os.Remove(f.tmp.Name())
}

// Write replaces the file at path, or where path leads when it is a
// symbolic link, with data and mode perm, atomically (see File).
func Write(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// RemoveStale removes the temporary files that Create made for the file at
// path (resolved as Create does) and that a crash left behind. The caller
// must know that no other write to path is under way, for instance by
// holding a lock.
func RemoveStale(path string) error {
	real, err := Resolve(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(real)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix(real)) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// tempPrefix begins the names of the temporary files for the file at path.
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }
