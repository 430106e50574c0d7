//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateFileOpenToOthersIsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true}, {0o640, true}, {0o644, true}, {0o400, true},
		{0o666, false}, {0o660, false}, {0o620, false}, {0o602, false}, {0o622, false},
	} {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.json")
			content := []byte(`{"version": 2, "developers": [], "clients": [], "tombstones": []}`)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			for name, open := range map[string]func(string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
				s, err := open(path)
				if tt.ok {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					} else {
						s.Close()
					}
					continue
				}
				if s != nil {
					s.Close()
				}
				if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), path) ||
					!strings.Contains(err.Error(), fmt.Sprintf("mode %04o", tt.mode)) || !strings.Contains(err.Error(), "chmod 600 "+path) {
					t.Errorf("%s: error %v, want ErrPermissions naming the path, the mode and chmod 600", name, err)
				}
			}
			if tt.ok {
				return
			}
			b, _ := os.ReadFile(path)
			fi, _ := os.Stat(path)
			if string(b) != string(content) || fi.Mode().Perm() != tt.mode {
				t.Errorf("the refused file changed: mode %04o, content %s", fi.Mode().Perm(), b)
			}
		})
	}
}

func TestStateDirectoryOpenToOthersIsRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o700, true}, {0o755, true}, {os.ModeSticky | 0o777, true},
		{0o777, false}, {0o770, false}, {0o707, false},
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.mode); err != nil {
				t.Fatal(err)
			}
			s, err := Open(filepath.Join(dir, "state.json"))
			if err == nil {
				s.Close()
			}
			if tt.ok != (err == nil) {
				t.Fatalf("Open in a %04o directory: %v", tt.mode, err)
			}
			if tt.ok {
				return
			}
			if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "directory "+dir) || !strings.Contains(err.Error(), "chmod go-w "+dir) {
				t.Errorf("error %v, want ErrPermissions naming the directory and chmod go-w", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a refused directory got %v", entries)
			}
		})
	}
}

func TestReloadRefusesAFileOpenedToOthers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.json")
	w := open(t, path)
	if err := w.AddDeveloper(Developer{Email: "a@example.com", PasswordHash: "h", Created: t0}); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); !errors.Is(err, ErrPermissions) {
		t.Errorf("Reload = %v, want ErrPermissions", err)
	}
	if _, ok := r.Developer("a@example.com"); !ok {
		t.Error("the previous content is gone after a refused reload")
	}
}
