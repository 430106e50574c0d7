//go:build unix

package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// tree makes the directories, files ("old" content, mode 0644) and
// symbolic links under dir that a test starts from.
type tree struct {
	dirs  []string
	files []string
	links map[string]string // name → target, as written in the link
}

func (tr tree) make(t *testing.T, dir string) {
	t.Helper()
	for _, d := range tr.dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range tr.files {
		testutil.WriteFile(t, filepath.Join(dir, f), "old", 0o644)
	}
	for name, target := range tr.links {
		if err := os.Symlink(strings.ReplaceAll(target, "$DIR", dir), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// tempFiles returns the temporary files Create left under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// realTempDir is t.TempDir without symbolic links, as Resolve returns it.
// createWritten is Create of path (mode 0600) with content written,
// not committed.
func createWritten(t *testing.T, path, content string) *File {
	t.Helper()
	f, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	return f
}

func realTempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestWriteReplacesTheFileWhereThePathLeads(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		tree   tree
		path   string // written
		target string // where the content must land
		perm   fs.FileMode
	}{
		{name: "new file", path: "f", target: "f", perm: 0o600},
		{name: "existing file gets the new mode", tree: tree{files: []string{"f"}}, path: "f", target: "f", perm: 0o600},
		{name: "mode 0640", tree: tree{files: []string{"f"}}, path: "f", target: "f", perm: 0o640},
		{name: "relative link to a file", tree: tree{dirs: []string{"vol"}, files: []string{"vol/f"}, links: map[string]string{"l": "vol/f"}}, path: "l", target: "vol/f", perm: 0o600},
		{name: "link to a file not there yet", tree: tree{dirs: []string{"vol"}, links: map[string]string{"l": "vol/f"}}, path: "l", target: "vol/f", perm: 0o600},
		{name: "chain of absolute links", tree: tree{dirs: []string{"vol"}, files: []string{"vol/f"}, links: map[string]string{"l1": "$DIR/l2", "l2": "$DIR/vol/f"}}, path: "l1", target: "vol/f", perm: 0o600},
		{name: "relative link with ..", tree: tree{dirs: []string{"a", "vol"}, links: map[string]string{"a/l": "../vol/f"}}, path: "a/l", target: "vol/f", perm: 0o600},
		{name: "linked directory on the way", tree: tree{dirs: []string{"vol"}, files: []string{"vol/f"}, links: map[string]string{"d": "vol"}}, path: "d/f", target: "vol/f", perm: 0o600},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := realTempDir(t)
			tt.tree.make(t, dir)
			if err := Write(filepath.Join(dir, tt.path), []byte("new"), tt.perm); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(dir, tt.target)
			fi, err := os.Lstat(target)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != tt.perm {
				t.Fatalf("%s: %v, %v; want a regular file of mode %04o", tt.target, fi, err, tt.perm)
			}
			if b, _ := os.ReadFile(target); string(b) != "new" {
				t.Errorf("%s holds %q", tt.target, b)
			}
			for name, to := range tt.tree.links {
				if got, err := os.Readlink(filepath.Join(dir, name)); err != nil || got != strings.ReplaceAll(to, "$DIR", dir) {
					t.Errorf("link %s: %q, %v; want it kept, leading to %s", name, got, err, to)
				}
			}
			if tmp := tempFiles(t, dir); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
	}
}

func TestFailedWriteKeepsTheDestination(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, path, want string
		tree             tree
	}{
		{name: "missing directory", path: "missing/f", want: "missing"},
		{name: "destination is a directory", tree: tree{dirs: []string{"f/x"}}, path: "f", want: "f"},
		{name: "link loop", tree: tree{links: map[string]string{"l": "m", "m": "l"}}, path: "l", want: "symbolic links"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := realTempDir(t)
			tt.tree.make(t, dir)
			err := Write(filepath.Join(dir, tt.path), []byte("new"), 0o600)
			if err == nil || !strings.Contains(err.Error(), tt.want) || errors.Is(err, ErrNotDurable) {
				t.Errorf("Write = %v, want an error naming %q, not ErrNotDurable", err, tt.want)
			}
			if tmp := tempFiles(t, dir); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
	}
}

// TestCommitSaysWhetherTheNewContentIsInPlace: a Commit whose directory
// sync fails after the rename returns an error wrapping ErrNotDurable
// (and the failure), with the new content in place and no temporary file
// left.
func TestCommitSaysWhetherTheNewContentIsInPlace(t *testing.T) {
	t.Parallel()
	failure := errors.New("simulated directory sync failure")
	for _, tt := range []struct {
		name    string
		syncDir func(*os.File) error
		want    error // nil: Commit succeeds
	}{
		{"directory synced", (*os.File).Sync, nil},
		{"directory sync fails", func(*os.File) error { return failure }, failure},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := realTempDir(t)
			path := filepath.Join(dir, "f")
			testutil.WriteFile(t, path, "old", 0o600)
			f := createWritten(t, path, "new")
			f.syncDir = tt.syncDir
			err := f.Commit()
			if tt.want == nil && err != nil {
				t.Errorf("Commit = %v", err)
			}
			if tt.want != nil && (!errors.Is(err, ErrNotDurable) || !errors.Is(err, tt.want)) {
				t.Errorf("Commit = %v, want ErrNotDurable wrapping %v", err, tt.want)
			}
			if b, _ := os.ReadFile(path); string(b) != "new" {
				t.Errorf("destination holds %q, want the new content", b)
			}
			if tmp := tempFiles(t, dir); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
	}
}

func TestAbortKeepsTheDestination(t *testing.T) {
	t.Parallel()
	dir := realTempDir(t)
	path := filepath.Join(dir, "f")
	testutil.WriteFile(t, path, "old", 0o600)
	f := createWritten(t, path, "new")
	if b, _ := os.ReadFile(f.Name()); string(b) != "new" || filepath.Dir(f.Name()) != dir {
		t.Errorf("temporary file %s holds %q; want the new content beside the destination", f.Name(), b)
	}
	f.Abort()
	f.Abort()
	if err := f.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("destination holds %q after Abort", b)
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestCommitOnce(t *testing.T) {
	t.Parallel()
	path := filepath.Join(realTempDir(t), "f")
	f, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	if err := f.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}
}

func TestRemoveStaleRemovesOnlyTheFilesTemporaryFiles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, path, in string
	}{
		{name: "plain", path: "f", in: "."},
		{name: "through a link", path: "l", in: "vol"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := realTempDir(t)
			tree{dirs: []string{"vol"}, links: map[string]string{"l": "vol/f"}}.make(t, dir)
			in := filepath.Join(dir, tt.in)
			stale := []string{".f.tmp-1", ".f.tmp-abc"}
			kept := []string{"f", ".g.tmp-1", "f.tmp-1", ".f.tmp", ".ff.tmp-1"}
			for _, name := range append(stale, kept...) {
				testutil.WriteFile(t, filepath.Join(in, name), "", 0o600)
			}
			if err := RemoveStale(filepath.Join(dir, tt.path)); err != nil {
				t.Fatal(err)
			}
			for _, name := range stale {
				if _, err := os.Stat(filepath.Join(in, name)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: %v; want it removed", name, err)
				}
			}
			for _, name := range kept {
				if _, err := os.Stat(filepath.Join(in, name)); err != nil {
					t.Errorf("%s: %v; want it kept", name, err)
				}
			}
		})
	}
}
