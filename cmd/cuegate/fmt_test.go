package main

import (
	"bytes"
	"os"
	"path/filepath"
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

// TestFmtKeepsWhatANewFileWouldLose: a file with another link, or an
// owner the new file would not have, is rewritten in place, so that the
// other link sees the new content and the owner stays (a configuration
// made root:cuegate 0640 and formatted by root stays readable by the
// gateway).
func TestFmtKeepsWhatANewFileWouldLose(t *testing.T) {
	t.Parallel()
	const unformatted, formatted = "package cfg\na:   1\n", "package cfg\n\na: 1\n"
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, path string) (check func(t *testing.T))
	}{
		{"hard link", func(t *testing.T, path string) func(t *testing.T) {
			other := filepath.Join(t.TempDir(), "other.cue")
			if err := os.Link(path, other); err != nil {
				t.Skip("no hard links here:", err)
			}
			return func(t *testing.T) {
				if got, _ := os.ReadFile(other); string(got) != formatted {
					t.Errorf("the other link holds %q, want %q", got, formatted)
				}
			}
		}},
		{"owner", func(t *testing.T, path string) func(t *testing.T) {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Skip("cannot give a file another owner (run as root):", err)
			}
			return func(t *testing.T) {
				if uid, gid := owner(t, path); uid != 65534 || gid != 65534 {
					t.Errorf("owner %d:%d, want 65534:65534", uid, gid)
				}
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "a.cue")
			if err := os.WriteFile(path, []byte(unformatted), 0o640); err != nil {
				t.Fatal(err)
			}
			check := tt.setup(t, path)
			var stdout, stderr bytes.Buffer
			if code := run([]string{"fmt", dir}, &stdout, &stderr); code != exitOK {
				t.Fatalf("fmt: %d %s", code, stderr.String())
			}
			if got, _ := os.ReadFile(path); string(got) != formatted {
				t.Errorf("a.cue = %q, want %q", got, formatted)
			}
			check(t)
		})
	}
}
