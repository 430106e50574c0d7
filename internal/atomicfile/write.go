package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotDurable is wrapped by the error of a Commit that put the new
// content in place but could not sync its directory: the destination
// holds the new content, and every later read of it sees that, but a
// crash of the system may yet bring the old content back.
var ErrNotDurable = errors.New("atomicfile: the new content is in place, but its directory entry may not survive a crash")

// File is the new content of a file, written to a temporary file beside
// it until Commit puts it in place, every step relative to an os.Root
// (so a link swapped in on the way while it runs is not followed). A
// File is not safe for concurrent use.
type File struct {
	root     *os.Root
	ownsRoot bool // Create opened root, and Commit or Abort closes it
	tmp      *os.File
	tmpName  string // the temporary file, in root
	name     string // the destination, in root
	done     bool   // committed or aborted
	// syncDir syncs the destination's directory once the rename is made:
	// (*os.File).Sync, or a test's failure.
	syncDir func(dir *os.File) error
}

// Create starts replacing the file at path, or where path leads when it
// is a symbolic link: it creates a temporary file with mode perm in the
// destination's directory, named after it (see RemoveStale).
func Create(path string, perm fs.FileMode) (*File, error) {
	real, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(filepath.Dir(real))
	if err != nil {
		return nil, err
	}
	f, err := createIn(r, filepath.Base(real), perm)
	if err != nil {
		r.Close()
		return nil, err
	}
	f.ownsRoot = true
	return f, nil
}

// createIn starts replacing the file name in r: a temporary file beside
// it, named as RemoveStale expects, with mode perm (past the umask).
func createIn(r *os.Root, name string, perm fs.FileMode) (*File, error) {
	for {
		var b [8]byte
		rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
		tmpName := filepath.Join(filepath.Dir(name), tempPrefix(name)+hex.EncodeToString(b[:]))
		tmp, err := r.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := tmp.Chmod(perm); err != nil {
			tmp.Close()
			r.Remove(tmpName) //nolint:errcheck // best effort: RemoveStale finds it
			return nil, err
		}
		return &File{root: r, tmp: tmp, tmpName: tmpName, name: name, syncDir: (*os.File).Sync}, nil
	}
}

// Write appends b to the new content.
func (f *File) Write(b []byte) (int, error) { return f.tmp.Write(b) }

// Name returns the path of the temporary file.
func (f *File) Name() string { return filepath.Join(f.root.Name(), f.tmpName) }

// Commit syncs the new content, renames it over the destination and syncs
// the directory. When it fails before the rename, the destination is as
// it was and the temporary file is gone; when the directory cannot be
// opened or synced after it, the error wraps ErrNotDurable: the new
// content is in place (a caller that keeps a copy of the content should
// take it as written), but may not survive a crash.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: Commit after Commit or Abort")
	}
	f.done = true
	defer f.closeRoot()
	err := f.tmp.Sync()
	if cerr := f.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.root.Rename(f.tmpName, f.name)
	}
	if err != nil {
		f.root.Remove(f.tmpName) //nolint:errcheck // best effort: RemoveStale finds it
		return err
	}
	d, err := f.root.Open(filepath.Dir(f.name))
	if err == nil {
		err = f.syncDir(d)
		d.Close()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotDurable, err)
	}
	return nil
}

// Abort removes the temporary file and leaves the destination as it was.
// After Commit or Abort it does nothing, so that it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.tmp.Close()
	f.root.Remove(f.tmpName) //nolint:errcheck // best effort: RemoveStale finds it
	f.closeRoot()
}

func (f *File) closeRoot() {
	if f.ownsRoot {
		f.root.Close()
	}
}

// Write replaces the file at path, or where path leads when it is a
// symbolic link, with data and mode perm, atomically (see File). An error
// wrapping ErrNotDurable means data is in place (see Commit); after any
// other the file is as it was.
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
