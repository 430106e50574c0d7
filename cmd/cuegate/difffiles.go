package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/compiler/tablediff"
)

// setFileChanges sets d.Files to the files the new table curJSON names
// whose contents differ between the configuration directories oldDir and
// newDir (see changedFiles).
func setFileChanges(d *tablediff.Diff, oldDir, newDir string, curJSON []byte) error {
	names, err := namedFiles(curJSON)
	if err == nil {
		d.Files, err = changedFiles(oldDir, newDir, names)
	}
	return err
}

// namedFiles returns the files the table JSON tableJSON names by a path
// relative to its configuration directory, sorted, without repeats: every
// field "file" (a secret's, a catalogue entry's OpenAPI document, whose
// reference the table also holds) and every field whose name ends in
// "_file" (certificates, keys, CA bundles). The OpenAPI documents the
// table holds are not searched for names. The table holds the other
// files' paths, not their contents, so a change of their contents is not
// in the tables' diff.
func namedFiles(tableJSON []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(tableJSON, &v); err != nil {
		return nil, err
	}
	var names []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if k != "document" {
					walk(k, e)
				}
			}
		case []any:
			for _, e := range v {
				walk(key, e)
			}
		case string:
			if (key == "file" || strings.HasSuffix(key, "_file")) && filepath.IsLocal(v) {
				names = append(names, filepath.Clean(v))
			}
		}
	}
	walk("", v)
	slices.Sort(names)
	return slices.Compact(names), nil
}

// changedFiles returns those of names whose contents differ between the
// configuration directories oldDir and newDir: a file absent from one
// side only, or that either side cannot read (table.ReadFileIn: inside
// its directory, a regular file of at most table.MaxConfigFileBytes, the
// bound of the largest files a table names, its OpenAPI documents), counts
// as changed.
func changedFiles(oldDir, newDir string, names []string) ([]string, error) {
	oldRoot, err := os.OpenRoot(oldDir)
	if err != nil {
		return nil, err
	}
	defer oldRoot.Close()
	newRoot, err := os.OpenRoot(newDir)
	if err != nil {
		return nil, err
	}
	defer newRoot.Close()
	var changed []string
	for _, name := range names {
		o, oldOK := digest(oldRoot, name)
		n, newOK := digest(newRoot, name)
		if !oldOK || !newOK || o != n {
			changed = append(changed, name)
		}
	}
	return changed, nil
}

// digest returns the SHA-256 of the file name in r, or "absent" for none;
// ok is false when it cannot be read.
func digest(r *os.Root, name string) (sum [sha256.Size]byte, ok bool) {
	b, err := table.ReadFileIn(r, name, table.MaxConfigFileBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return [sha256.Size]byte{}, true // absent: no file hashes to all zeros
	case err != nil:
		return sum, false
	}
	return sha256.Sum256(b), true
}
