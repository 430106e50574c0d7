package table

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Bounds of the files a table names and the serving process reads on
// its own (ReadFile's max): a secret (a token or password), and a PEM
// file (a certificate chain, a key, a CA bundle).
const (
	MaxSecretFileBytes = 64 << 10
	MaxPEMFileBytes    = 1 << 20
)

// ReadFile reads the file at path (through symlinks), which must be a
// regular file of at most max bytes. A named pipe, device or socket is
// refused before it is opened, and should the path become one between
// that check and the open, it is opened without waiting (on Unix) and
// refused then (opening a pipe waits for a writer, and a device may never
// end), so a file swapped for one cannot hold up or exhaust the process
// that reads it. Errors are *fs.PathError naming path; a file over max is
// ErrTooLarge.
func ReadFile(path string, max int) ([]byte, error) {
	return readRegular(os.Stat, os.OpenFile, path, max)
}

// ReadFileIn is ReadFile for name in root, which it may not leave.
func ReadFileIn(root *os.Root, name string, max int) ([]byte, error) {
	return readRegular(root.Stat, root.OpenFile, name, max)
}

func readRegular(stat func(string) (fs.FileInfo, error), open func(string, int, fs.FileMode) (*os.File, error), path string, max int) ([]byte, error) {
	if err := regular(stat(path)); err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f, err := open(path, os.O_RDONLY|openNonBlocking, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := regular(f.Stat()); err != nil { // replaced since the Stat
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	switch {
	case err != nil:
		return nil, err
	case len(b) > max:
		return nil, &fs.PathError{Op: "read", Path: path, Err: &ErrTooLarge{Max: max}}
	}
	return b, nil
}

// ReadPEM reads a PEM file a table names (see ConfigPath), of at most
// MaxPEMFileBytes.
func ReadPEM(dir, name string) ([]byte, error) {
	return ReadFile(ConfigPath(dir, name), MaxPEMFileBytes)
}

// ErrTooLarge is a file over ReadFile's bound (a whole number of KiB).
type ErrTooLarge struct{ Max int }

var _ error = (*ErrTooLarge)(nil)

func (e *ErrTooLarge) Error() string {
	return fmt.Sprintf("is larger than %d KiB", e.Max>>10)
}

// ErrNotRegular is a file that is not a regular one: a directory, named
// pipe, device or socket.
type ErrNotRegular struct{ Mode fs.FileMode }

var _ error = (*ErrNotRegular)(nil)

func (e *ErrNotRegular) Error() string {
	return fmt.Sprintf("is not a regular file (%s)", e.Mode.Type())
}

func regular(fi fs.FileInfo, err error) error {
	switch {
	case err != nil:
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return pe.Err
		}
		return err
	case !fi.Mode().IsRegular():
		return &ErrNotRegular{Mode: fi.Mode()}
	}
	return nil
}
