//go:build unix

package store

import (
	"bytes"
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
			path := statePath(t)
			content := []byte(`{"version": 2, "developers": [], "clients": [], "tombstones": []}`)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
			}
			if tt.ok {
				if err != nil {
					t.Errorf("Open: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), path) ||
				!strings.Contains(err.Error(), fmt.Sprintf("mode %04o", tt.mode)) || !strings.Contains(err.Error(), "chmod 600 "+path) {
				t.Errorf("Open: error %v, want ErrPermissions naming the path, the mode and chmod 600", err)
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

// TestStateAnotherUserOwnsIsRefused: a state file, lock file or
// directory that another user owns (uid 65534 here), who could have
// planted accounts and bindings or could hold the lock, is refused and
// left as it is, even where its mode alone would do (a 0644 file in a
// sticky, world-writable directory such as /tmp).
func TestStateAnotherUserOwnsIsRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skipf("playing another user takes chown, which needs root; this test runs as uid %d", os.Geteuid())
	}
	const nobody = 65534
	planted := []byte(`{"version": 2, "developers": [{"email": "mallory@example.com", "password_hash": "h", "created": "2026-01-01T00:00:00Z"}], "clients": [], "tombstones": []}`)
	for _, tt := range []struct {
		name  string
		owned string // "state.json", "state.json.lock" or "." (the directory)
	}{
		{"state file", "state.json"},
		{"lock file", "state.json.lock"},
		{"directory", "."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "tmp")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "state.json")
			for name, content := range map[string][]byte{"state.json": planted, "state.json.lock": nil} {
				if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			mode := os.ModeSticky | 0o777 // like /tmp
			if tt.owned == "." {
				mode = 0o755 // another user's own directory
			}
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			owned := filepath.Join(dir, tt.owned)
			if err := os.Chown(owned, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path)
			if err == nil {
				s.Close()
				t.Fatalf("Open took a state whose %s uid %d owns", tt.name, nobody)
			}
			if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), fmt.Sprintf("owned by uid %d", nobody)) ||
				!strings.Contains(err.Error(), "chown 0 "+filepath.Clean(owned)) {
				t.Errorf("Open: %v, want ErrPermissions naming the owner and chown 0 %s", err, owned)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, planted) {
				t.Errorf("the refused state file now holds %s", b)
			}
		})
	}
}

func TestSymlinkedStateFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// modes of the link's directory and of the target's
		linkDir, targetDir os.FileMode
		exists             bool   // the target exists before Open
		refused            string // "link" or "target": the directory named
	}{
		{name: "target in a 0777 directory", linkDir: 0o700, targetDir: 0o777, exists: true, refused: "target"},
		{name: "target in a 0770 directory", linkDir: 0o700, targetDir: 0o770, exists: true, refused: "target"},
		{name: "link in a 0777 directory", linkDir: 0o777, targetDir: 0o700, exists: true, refused: "link"},
		{name: "safe directories", linkDir: 0o700, targetDir: 0o700, exists: true},
		{name: "link in a sticky directory", linkDir: os.ModeSticky | 0o777, targetDir: 0o755, exists: true},
		{name: "target not there yet", linkDir: 0o700, targetDir: 0o700},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			linkDir, targetDir := filepath.Join(root, "etc"), filepath.Join(root, "volume")
			link, target := filepath.Join(linkDir, "state.json"), filepath.Join(targetDir, "state.json")
			for _, d := range []string{linkDir, targetDir} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			content := []byte(`{"version": 2, "developers": [], "clients": [], "tombstones": []}`)
			if tt.exists {
				if err := os.WriteFile(target, content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("../volume/state.json", link); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(linkDir, tt.linkDir); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(targetDir, tt.targetDir); err != nil {
				t.Fatal(err)
			}
			linkKept := func() {
				t.Helper()
				if to, err := os.Readlink(link); err != nil || to != "../volume/state.json" {
					t.Errorf("the link is now %q, %v", to, err)
				}
			}

			if tt.refused != "" {
				dir := map[string]string{"link": linkDir, "target": targetDir}[tt.refused]
				s, err := Open(link)
				if err == nil {
					s.Close()
				}
				if !errors.Is(err, ErrPermissions) || !strings.Contains(err.Error(), "directory "+dir) || !strings.Contains(err.Error(), "chmod go-w "+dir) {
					t.Errorf("Open(%s) = %v, want ErrPermissions naming %s and chmod go-w", link, err, dir)
				}
				linkKept()
				if b, _ := os.ReadFile(target); !bytes.Equal(b, content) {
					t.Errorf("the refused file now holds %s", b)
				}
				for _, d := range []string{linkDir, targetDir} {
					if entries, _ := os.ReadDir(d); len(entries) != 1 {
						t.Errorf("%s holds %v, want only what was there", d, entries)
					}
				}
				return
			}

			s, err := Open(link)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Path() != target {
				t.Errorf("Path = %s, want the target %s", s.Path(), target)
			}
			addDevelopers(t, s, "a@example.com")
			linkKept()
			if b, _ := os.ReadFile(target); !bytes.Contains(b, []byte("a@example.com")) {
				t.Errorf("the target holds %s, want the new developer", b)
			}
			if _, err := os.Stat(target + ".lock"); err != nil {
				t.Errorf("no lock beside the target: %v", err)
			}
			if _, err := os.Lstat(link + ".lock"); err == nil {
				t.Error("a lock beside the link")
			}
			if s2, err := Open(target); !errors.Is(err, ErrLocked) {
				if err == nil {
					s2.Close()
				}
				t.Errorf("Open of the target while the link is open = %v, want ErrLocked", err)
			}
		})
	}
}
