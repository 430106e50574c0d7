package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFmtReplacesAtomically: fmt puts a new file in place of an
// unformatted one (a reader never sees it part written), with the old
// file's mode, and through a symbolic link to the file it leads to.
func TestFmtReplacesAtomically(t *testing.T) {
	t.Parallel()
	const unformatted, formatted = "package cfg\na:   1\n", "package cfg\n\na: 1\n"
	for _, mode := range []os.FileMode{0o600, 0o640, 0o755} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path, target := filepath.Join(dir, "a.cue"), filepath.Join(dir, "b.cue.txt")
			if err := os.WriteFile(target, []byte(unformatted), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(target, mode); err != nil { // past the umask
				t.Fatal(err)
			}
			if err := os.Symlink("b.cue.txt", path); err != nil {
				t.Fatal(err)
			}
			before, err := os.Stat(target)
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			if code := run([]string{"fmt", dir}, &stdout, &stderr); code != exitOK {
				t.Fatalf("fmt: %d %s", code, stderr.String())
			}
			after, err := os.Stat(target)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(target)
			switch {
			case string(got) != formatted:
				t.Errorf("b.cue.txt = %q, want %q", got, formatted)
			case after.Mode().Perm() != mode:
				t.Errorf("mode %v, want %v", after.Mode().Perm(), mode)
			case os.SameFile(before, after):
				t.Error("the file was rewritten in place, not replaced")
			}
			if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("a.cue is no longer a symbolic link: %v %v", fi, err)
			}
		})
	}
}

// TestFmtKeepsWhatANewFileWouldLose: a file is replaced keeping its
// owner and group (a configuration made root:cuegate 0640 and formatted
// by root stays readable by the gateway) and its extended attributes; a
// file with another hard link, which a new file would not share, is
// left as it is, with an error saying why.
func TestFmtKeepsWhatANewFileWouldLose(t *testing.T) {
	t.Parallel()
	const unformatted, formatted = "package cfg\na:   1\n", "package cfg\n\na: 1\n"
	for _, tt := range []struct {
		name    string
		setup   func(t *testing.T, path string) (check func(t *testing.T))
		refused string // the error, when the file must be left as it is
	}{
		{"hard link", func(t *testing.T, path string) func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "other.cue")
			if err := os.Link(path, other); err != nil {
				t.Skip("no hard links here:", err)
			}
			return func(t *testing.T) {
				if got, _ := os.ReadFile(other); string(got) != unformatted {
					t.Errorf("the other link holds %q, want it untouched", got)
				}
			}
		}, "is not formatted, so that nothing of it is lost: it has 2 hard links, which a new file would not share; format it by hand"},
		{"owner", func(t *testing.T, path string) func(t *testing.T) {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Skip("cannot give a file another owner (run as root):", err)
			}
			return func(t *testing.T) {
				if uid, gid := owner(t, path); uid != 65534 || gid != 65534 {
					t.Errorf("owner %d:%d, want 65534:65534", uid, gid)
				}
			}
		}, ""},
		{"extended attribute", func(t *testing.T, path string) func(t *testing.T) {
			if !setXattr(t, path, "user.cuegate", "kept") {
				t.Skip("no user extended attributes on this file system")
			}
			return func(t *testing.T) {
				if got := getXattr(t, path, "user.cuegate"); got != "kept" {
					t.Errorf("user.cuegate = %q, want kept", got)
				}
			}
		}, ""},
		{"ACL the directory would give", func(t *testing.T, path string) func(t *testing.T) {
			if !grantDefaultACL(t, filepath.Dir(path)) {
				t.Skip("no ACLs on this file system")
			}
			return func(t *testing.T) {
				if hasXattr(t, path, "system.posix_acl_access") {
					t.Error("a.cue gained the directory's ACL (uid 1234 may read it)")
				}
			}
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "a.cue")
			if err := os.WriteFile(path, []byte(unformatted), 0o640); err != nil {
				t.Fatal(err)
			}
			check := tt.setup(t, path)
			before, _ := os.Stat(path)
			var stdout, stderr bytes.Buffer
			code := run([]string{"fmt", dir}, &stdout, &stderr)
			got, _ := os.ReadFile(path)
			after, _ := os.Stat(path)
			switch {
			case tt.refused != "" && (code != exitUsage || !strings.Contains(stderr.String(), tt.refused) || string(got) != unformatted):
				t.Errorf("fmt: %d %q, a.cue %q; want exit 2 with %q and a.cue untouched", code, stderr.String(), got, tt.refused)
			case tt.refused == "" && (code != exitOK || string(got) != formatted):
				t.Errorf("fmt: %d %q, a.cue %q; want %q", code, stderr.String(), got, formatted)
			case tt.refused == "" && os.SameFile(before, after):
				t.Error("a.cue was rewritten in place, not replaced")
			}
			check(t)
		})
	}
}
