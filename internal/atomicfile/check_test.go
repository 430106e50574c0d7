//go:build unix

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestReadPrivateRefusesWhatOthersMayChange(t *testing.T) {
	t.Parallel()
	const sticky = fs.ModeSticky
	for _, tt := range []struct {
		name  string
		tree  tree
		modes map[string]fs.FileMode // chmod after making the tree; "f" is the file read
		path  string
		// refused names the file or directory a *PermissionError must
		// name, with "" for a file that is read.
		refused string
	}{
		{name: "0600 file", path: "f"},
		{name: "0644 file", modes: map[string]fs.FileMode{"f": 0o644}, path: "f"},
		{name: "0400 file", modes: map[string]fs.FileMode{"f": 0o400}, path: "f"},
		{name: "0666 file", modes: map[string]fs.FileMode{"f": 0o666}, path: "f", refused: "f"},
		{name: "0620 file", modes: map[string]fs.FileMode{"f": 0o620}, path: "f", refused: "f"},
		{name: "0602 file", modes: map[string]fs.FileMode{"f": 0o602}, path: "f", refused: "f"},
		{name: "sticky 0666 file", modes: map[string]fs.FileMode{"f": sticky | 0o666}, path: "f", refused: "f"},
		{name: "0755 directory", tree: tree{dirs: []string{"d"}}, modes: map[string]fs.FileMode{"d": 0o755}, path: "d/f"},
		{name: "sticky 0777 directory", tree: tree{dirs: []string{"d"}}, modes: map[string]fs.FileMode{"d": sticky | 0o777}, path: "d/f"},
		{name: "0777 directory", tree: tree{dirs: []string{"d"}}, modes: map[string]fs.FileMode{"d": 0o777}, path: "d/f", refused: "d"},
		{name: "0770 directory", tree: tree{dirs: []string{"d"}}, modes: map[string]fs.FileMode{"d": 0o770}, path: "d/f", refused: "d"},
		{name: "0707 directory", tree: tree{dirs: []string{"d"}}, modes: map[string]fs.FileMode{"d": 0o707}, path: "d/f", refused: "d"},
		{name: "0777 directory above", tree: tree{dirs: []string{"a/d"}}, modes: map[string]fs.FileMode{"a": 0o777}, path: "a/d/f", refused: "a"},
		{name: "sticky directory above", tree: tree{dirs: []string{"a/d"}}, modes: map[string]fs.FileMode{"a": sticky | 0o777}, path: "a/d/f"},
		{
			name:  "link to a file in a 0777 directory",
			tree:  tree{dirs: []string{"safe", "open"}, links: map[string]string{"safe/l": "../open/f"}},
			modes: map[string]fs.FileMode{"safe": 0o700, "open": 0o777}, path: "safe/l", refused: "open",
		},
		{
			name:  "link in a 0777 directory to a file in a safe one",
			tree:  tree{dirs: []string{"safe", "open"}, links: map[string]string{"open/l": "../safe/f"}},
			modes: map[string]fs.FileMode{"safe": 0o700, "open": 0o777}, path: "open/l", refused: "open",
		},
		{
			name:  "link in a sticky directory to a file in a safe one",
			tree:  tree{dirs: []string{"safe", "open"}, links: map[string]string{"open/l": "../safe/f"}},
			modes: map[string]fs.FileMode{"safe": 0o700, "open": sticky | 0o777}, path: "open/l",
		},
		{
			name:  "link to a 0666 file",
			tree:  tree{dirs: []string{"safe"}, links: map[string]string{"l": "safe/f"}},
			modes: map[string]fs.FileMode{"safe/f": 0o666}, path: "l", refused: "l",
		},
		{
			name:  "linked 0777 directory",
			tree:  tree{dirs: []string{"open"}, links: map[string]string{"d": "open"}},
			modes: map[string]fs.FileMode{"open": 0o777}, path: "d/f", refused: "open",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, file := makeCase(t, tt.tree, tt.modes, tt.path)
			b, err := ReadPrivate(filepath.Join(dir, tt.path))
			if tt.refused == "" {
				if err != nil || string(b) != "content" {
					t.Errorf("ReadPrivate = %q, %v", b, err)
				}
				return
			}
			var perr *PermissionError
			refused := filepath.Join(dir, tt.refused)
			fi, _ := os.Stat(refused)
			fix := "chmod 600 " + refused
			if fi.IsDir() {
				fix = "chmod go-w " + refused
			}
			if !errors.As(err, &perr) || perr.Path != refused || (fi.IsDir() && perr.File != file && perr.File != filepath.Join(dir, tt.path)) ||
				!strings.Contains(err.Error(), fmt.Sprintf("mode %04o", fi.Mode().Perm())) || !strings.Contains(err.Error(), fix) {
				t.Errorf("ReadPrivate = %q, %v; want a *PermissionError naming %s, its mode and %q", b, err, refused, fix)
			}
			if got, _ := os.ReadFile(file); string(got) != "content" {
				t.Errorf("the refused file now holds %q", got)
			}
		})
	}
}

// makeCase makes tree in a new directory, dir, and the file that path
// (relative to dir) leads to, file, holding "content"; then it gives the
// names in modes (relative to dir, "f" for path) their modes.
func makeCase(t *testing.T, tr tree, modes map[string]fs.FileMode, path string) (dir, file string) {
	t.Helper()
	dir = realTempDir(t)
	tr.make(t, dir)
	file, err := Resolve(filepath.Join(dir, path))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, file, "content", 0o600)
	for name, mode := range modes {
		if name == "f" {
			name = path
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir, file
}

func TestReadPrivateOfAMissingFile(t *testing.T) {
	t.Parallel()
	dir := realTempDir(t)
	if _, err := ReadPrivate(filepath.Join(dir, "f")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadPrivate = %v, want fs.ErrNotExist", err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	var perr *PermissionError
	if _, err := ReadPrivate(filepath.Join(open, "f")); !errors.As(err, &perr) {
		t.Errorf("ReadPrivate of a missing file in a 0777 directory = %v, want a *PermissionError", err)
	}
}

func TestCheckDirsNamesTheLink(t *testing.T) {
	t.Parallel()
	dir := realTempDir(t)
	tree{dirs: []string{"open"}, links: map[string]string{"l": "open/f"}}.make(t, dir)
	if err := os.Chmod(filepath.Join(dir, "open"), 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "l")
	err := CheckDirs(link)
	if err == nil || !strings.Contains(err.Error(), link+" leads to "+filepath.Join(dir, "open", "f")) {
		t.Errorf("CheckDirs = %v, want it to say where the link leads", err)
	}
}

// nobody is the uid the ownership tests give what another user owns.
const nobody = 65534

// needRoot skips a test that plays another user by chown, which only
// root may do.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("chown to uid %d needs root; this test runs as uid %d", nobody, os.Geteuid())
	}
}

func TestReadPrivateRefusesWhatAnotherUserOwns(t *testing.T) {
	t.Parallel()
	needRoot(t)
	for _, tt := range []struct {
		name  string
		tree  tree
		modes map[string]fs.FileMode // chmod after making the tree; "f" is the file read
		owned string                 // chown to nobody; "f" is the file read, named by path
		path  string
	}{
		{name: "0644 file", modes: map[string]fs.FileMode{"f": 0o644}, owned: "f", path: "f"},
		{name: "0400 file in a sticky 0777 directory", tree: tree{dirs: []string{"tmp"}},
			modes: map[string]fs.FileMode{"tmp": fs.ModeSticky | 0o777, "f": 0o400}, owned: "f", path: "tmp/f"},
		{name: "0755 directory", tree: tree{dirs: []string{"d"}}, modes: map[string]fs.FileMode{"d": 0o755}, owned: "d", path: "d/f"},
		{name: "0700 directory above", tree: tree{dirs: []string{"a/d"}}, owned: "a", path: "a/d/f"},
		{name: "link to a file another user owns", tree: tree{dirs: []string{"safe"}, links: map[string]string{"l": "safe/f"}},
			owned: "f", path: "l"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, _ := makeCase(t, tt.tree, tt.modes, tt.path)
			owned := filepath.Join(dir, tt.owned)
			if tt.owned == "f" {
				owned = filepath.Join(dir, tt.path)
			}
			if err := os.Chown(owned, nobody, nobody); err != nil { // through a link, to the file
				t.Fatal(err)
			}
			b, err := ReadPrivate(filepath.Join(dir, tt.path))
			perr, ok := errors.AsType[*PermissionError](err)
			fix := fmt.Sprintf("chown 0 %s", owned)
			if !ok || perr.Owner != nobody || !strings.Contains(err.Error(), fmt.Sprintf("owned by uid %d", nobody)) || !strings.Contains(err.Error(), fix) {
				t.Errorf("ReadPrivate = %q, %v; want a *PermissionError naming uid %d and %q", b, err, nobody, fix)
			}
		})
	}
}

func TestCheckFileAcceptsTheProcessUserAndRoot(t *testing.T) {
	t.Parallel()
	needRoot(t)
	path := filepath.Join(realTempDir(t), "f")
	testutil.WriteFile(t, path, "content", 0o600)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(path, fi); err != nil {
		t.Errorf("CheckFile of a file root owns: %v", err)
	}
}
