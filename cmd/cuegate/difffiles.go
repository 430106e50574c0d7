package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxNamedFileBytes bounds a file a table names as diff reads it: the
// serving process reads none larger (a PEM file is at most 1 MiB).
const maxNamedFileBytes = 1 << 20

// namedFiles returns the files the table JSON tableJSON names by a path
// relative to its configuration directory: a secret's "file" and every
// field whose name ends in "_file" (certificates, keys, CA bundles),
// sorted, without repeats. The table holds their paths, not their
// contents, so a change of their contents is not in the tables' diff.
func namedFiles(tableJSON []byte) ([]string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(tableJSON))
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var names []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(k, e)
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
// configuration directories oldDir and newDir (one of them absent, or
// unreadable, counts as a difference). Each is read inside its directory
// (os.Root: a link out of it reads nothing) and at most
// maxNamedFileBytes of it.
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
		if digest(oldRoot, name) != digest(newRoot, name) {
			changed = append(changed, name)
		}
	}
	return changed, nil
}

// digest is the SHA-256 of the file name in r, "absent", or
// "unreadable" (not a regular file, larger than maxNamedFileBytes, or
// failing to read).
func digest(r *os.Root, name string) string {
	fi, err := r.Stat(name) // before the open, which would wait on a named pipe
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "absent"
	case err != nil || !fi.Mode().IsRegular():
		return "unreadable"
	}
	f, err := r.Open(name)
	if err != nil {
		return "unreadable"
	}
	defer f.Close()
	h := sha256.New()
	if n, err := io.Copy(h, io.LimitReader(f, maxNamedFileBytes+1)); err != nil || n > maxNamedFileBytes {
		return "unreadable"
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}
