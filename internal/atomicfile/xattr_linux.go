package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// copyXattrs makes the extended attributes of the open file to those of
// the open file from: it gives to those it lacks or holds otherwise, and
// removes those from has not (an ACL inherited from the directory's
// default). Attributes this process cannot list (trusted.* without
// CAP_SYS_ADMIN) are not seen, and so not kept.
func copyXattrs(from, to *os.File) error {
	list := func(f *os.File) ([]string, error) {
		names, err := sized(func(b []byte) (int, error) { return unix.Flistxattr(int(f.Fd()), b) })
		return strings.FieldsFunc(string(names), func(r rune) bool { return r == 0 }), err
	}
	names, err := list(from)
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("its extended attributes cannot be read: %w", err)
	}
	extra, err := list(to)
	if err != nil {
		return fmt.Errorf("a new file's extended attributes cannot be read: %w", err)
	}
	for _, name := range extra {
		if slices.Contains(names, name) {
			continue
		}
		if err := unix.Fremovexattr(int(to.Fd()), name); err != nil {
			return fmt.Errorf("a new file gets the extended attribute %s, which the file has not, and cannot lose it: %w", name, err)
		}
	}
	for _, name := range names {
		want, err := sized(func(b []byte) (int, error) { return unix.Fgetxattr(int(from.Fd()), name, b) })
		if err != nil {
			return fmt.Errorf("its extended attribute %s cannot be read: %w", name, err)
		}
		have, err := sized(func(b []byte) (int, error) { return unix.Fgetxattr(int(to.Fd()), name, b) })
		if err == nil && bytes.Equal(have, want) {
			continue // a default the new file has already, such as its security label
		}
		if err := unix.Fsetxattr(int(to.Fd()), name, want, 0); err != nil {
			return fmt.Errorf("a new file cannot have its extended attribute %s: %w", name, err)
		}
	}
	return nil
}

// sized reads a list or a value of unknown size through f, which reads
// into b as listxattr(2) and getxattr(2) do (an empty b asks for the
// size).
func sized(f func(b []byte) (int, error)) ([]byte, error) {
	for {
		n, err := f(nil)
		if err != nil || n == 0 {
			return nil, err
		}
		b := make([]byte, n)
		n, err = f(b)
		if errors.Is(err, unix.ERANGE) {
			continue // it grew between the calls
		}
		if err != nil {
			return nil, err
		}
		return b[:n], nil
	}
}
