// Reading, decoding and checking the state file.

package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cuegate/cuegate/internal/atomicfile"
	"github.com/cuegate/cuegate/internal/strictjson"
)

// readState reads and migrates the file and reports the schema version it
// was written in; a missing file is fs.ErrNotExist. A file or directory
// open to other users' writes is ErrPermissions.
func readState(path string) (*state, int, error) {
	b, err := atomicfile.ReadPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, checkError("read", path, err)
	}
	st, from, err := decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("store: %s is not a valid state file (it was left untouched): %w", path, err)
	}
	return st, from, nil
}

// decode parses any supported schema version into the current one.
func decode(b []byte) (*state, int, error) {
	var head struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, 0, err
	}
	if head.Version == nil {
		return nil, 0, errors.New(`no "version" field`)
	}
	v := *head.Version
	switch {
	case v == 1:
		st, err := migrateV1(b)
		return st, v, err
	case v == Version:
		var st state
		if err := strictjson.Unmarshal(b, &st); err != nil {
			return nil, v, err
		}
		return &st, v, st.check()
	case v > Version:
		return nil, v, fmt.Errorf("schema version %d is newer than this cuegate understands (%d)", v, Version)
	default:
		return nil, v, fmt.Errorf("unknown schema version %d", v)
	}
}

// copyFile copies src to dst with mode 0600, replacing dst (and its mode).
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err == nil {
		err = atomicfile.Write(dst, b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("store: back up %s: %w", src, err)
	}
	return nil
}

// check rejects a state that would break the indexes.
func (st *state) check() error {
	if err := uniqueKeys("developers", "email", st.Developers, func(d *Developer) string { return d.Email }); err != nil {
		return err
	}
	if err := uniqueKeys("clients", "client_id", st.Clients, func(c *Client) string { return c.ClientID }); err != nil {
		return err
	}
	for i, t := range st.Tombstones {
		if t == nil || t.ClientID == "" {
			return fmt.Errorf("tombstones[%d]: no client_id", i)
		}
	}
	return nil
}

// uniqueKeys rejects a nil record in list, one whose key (the field
// named field) is empty, and two records with the same key.
func uniqueKeys[T any](list, field string, records []*T, key func(*T) string) error {
	seen := make(map[string]bool, len(records))
	for i, r := range records {
		if r == nil || key(r) == "" {
			return fmt.Errorf("%s[%d]: no %s", list, i, field)
		}
		k := key(r)
		if seen[k] {
			return fmt.Errorf("%s[%d]: duplicate %s %q", list, i, field, k)
		}
		seen[k] = true
	}
	return nil
}
