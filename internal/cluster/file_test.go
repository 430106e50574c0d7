package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestBadBindingsFileStopsNewFollowerAndIsKept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		mode, dirMode os.FileMode // dirMode 0: the directory is left 0700
		want          string
	}{
		{"corrupt", `{"version":`, 0o600, 0, "is not a valid snapshot"},
		{"no version", `{"bindings":[]}`, 0o600, 0, "version 0"},
		{"duplicate", `{"version":1,"bindings":[{"client_id":"a"},{"client_id":"a"}]}`, 0o600, 0, `duplicate client_id "a"`},
		{"unknown field", `{"version":1,"bindings":[],"extra":1}`, 0o600, 0, `unknown field "extra"`},
		{"trailing", `{"version":1,"bindings":[]} {}`, 0o600, 0, "trailing data"},
		{"writable by others", `{"version":1,"bindings":[]}`, 0o666, 0, "chmod 600"},
		{"directory writable by others", `{"version":1,"bindings":[]}`, 0o600, 0o777, "chmod go-w"},
		{"directory writable by the group", `{"version":1,"bindings":[]}`, 0o600, 0o770, "chmod go-w"},
		{"no file, in a directory writable by others", "", 0o600, 0o777, "chmod go-w"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "bindings.json")
			if tt.content != "" {
				testutil.WriteFile(t, path, tt.content, 0o600)
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			if tt.dirMode != 0 {
				if err := os.Chmod(dir, tt.dirMode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := NewFollower(nil, FollowerOptions{File: path})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("NewFollower: %v; want an error naming %s and saying %q", err, path, tt.want)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Errorf("the file was changed to %q", b)
			}
		})
	}
}

func TestWriteFileReplacesAtomicallyWithMode0600(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bindings.json")
	testutil.WriteFile(t, path, "old", 0o644)
	if err := writeFile(path, []byte(`{"version":1,"bindings":[]}`)); err != nil {
		t.Fatal(err)
	}
	s, err := readFile(path)
	if err != nil || s.Version != 1 {
		t.Fatalf("readFile: %+v, %v", s, err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the bindings file", len(entries))
	}
	// Through a symbolic link, the file it leads to is written and the
	// link stays.
	vol := filepath.Join(dir, "volume")
	if err := os.Mkdir(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(filepath.Join(vol, "bindings.json"), link); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(link, []byte(`{"version":2,"bindings":[]}`)); err != nil {
		t.Fatal(err)
	}
	if s, err := readFile(link); err != nil || s.Version != 2 {
		t.Errorf("readFile through the link: %+v, %v", s, err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is now %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "bindings.json")); !strings.Contains(string(b), `"version":2`) {
		t.Errorf("the file the link leads to holds %q", b)
	}
	if err := writeFile(filepath.Join(dir, "missing", "b.json"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("writing into a missing directory: %v", err)
	}
	if s, err := readFile(filepath.Join(dir, "absent.json")); s != nil || err != nil {
		t.Errorf("absent file: %v, %v; want nothing", s, err)
	}
}
