package cluster

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/cuegate/cuegate/internal/atomicfile"
)

// readFile returns the snapshot a follower stored at path, or nil when
// there is none. A file others may write or replace (see
// atomicfile.ReadPrivate), or that does not hold a valid snapshot, is an
// error naming it; it is left as it is.
func readFile(path string) (*snapshot, error) {
	b, err := atomicfile.ReadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: bindings file: %w", err)
	}
	s, err := decodeSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("cluster: bindings file %s is not a valid snapshot (it was left untouched; remove it to start from Redis alone): %w", path, err)
	}
	return s, nil
}

// writeFile replaces the file at path, or where path leads when it is a
// symbolic link, with b and mode 0600, atomically (see atomicfile.Write).
// On error the file is as it was, but for one wrapping
// atomicfile.ErrNotDurable: b is in place, and may not survive a crash.
func writeFile(path string, b []byte) error {
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("cluster: write bindings file %s: %w", path, err)
	}
	return nil
}
