//go:build unix

package compiler_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestSourceMustBeARegularFile: a named pipe, a device or an oversized
// file that ends in .cue is refused by name before the compile reads it,
// so it can neither block the compile nor feed it without end.
func TestSourceMustBeARegularFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		make func(path string) error
		want string
	}{
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "is not a regular file (p"},
		{"device", func(p string) error { return os.Symlink("/dev/zero", p) }, "is not a regular file (D"},
		{"oversized", func(p string) error {
			return os.WriteFile(p, []byte("package x\n// "+strings.Repeat("x", 5<<20)+"\n"), 0o600)
		}, "is larger than 4 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "bad.cue")
			if err := tt.make(path); err != nil {
				t.Skipf("cannot make the file here: %v", err)
			}
			_, err := compiler.Compile(dir)
			if err == nil || !strings.Contains(err.Error(), path+" "+tt.want) {
				t.Fatalf("Compile: %v, want an error with %q", err, path+" "+tt.want)
			}
		})
	}
}

// TestConfigMapGenerationPinned: in a ConfigMap volume, the files of the
// generation "..data" leads to are compiled, a file the update added
// included before the kubelet adds its link (after it swaps "..data"), and
// a file beside them that is not linked through "..data" too.
func TestConfigMapGenerationPinned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gen := func(name string, files map[string]string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		for f, src := range files {
			testutil.WriteFile(t, filepath.Join(dir, name, f), src, 0o600)
		}
	}
	const api = "package cfg\n\napis: users: {name: \"Users\", listen_path: \"/users\", upstream: targets: [\"http://127.0.0.1:9000\"], auth: keyless: true}\n"
	gen("..2026_12_07_01", map[string]string{"a.cue": api})
	gen("..2026_12_07_02", map[string]string{"a.cue": api, "b.cue": "package cfg\n\napis: orders: {name: \"Orders\", listen_path: \"/orders\", upstream: targets: [\"http://127.0.0.1:9000\"], auth: keyless: true}\n"})
	testutil.WriteFile(t, filepath.Join(dir, "c.cue"), "package cfg\n\napis: items: {name: \"Items\", listen_path: \"/items\", upstream: targets: [\"http://127.0.0.1:9000\"], auth: keyless: true}\n", 0o600)
	for link, to := range map[string]string{"..data": "..2026_12_07_02", "a.cue": "..data/a.cue"} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	tb, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(tb.APIs)); !slices.Equal(got, []string{"items", "orders", "users"}) {
		t.Errorf("the APIs compiled are %v, want the second generation's (orders, users) and items", got)
	}
}

// TestUnlinkedDataGenerationNotRead: a "..data" link to a sibling
// generation, with no file linked through it (committed to a repository
// beside plain files), pulls in no file of that generation.
func TestUnlinkedDataGenerationNotRead(t *testing.T) {
	t.Parallel()
	const api = "package cfg\n\napis: %s: {name: \"X\", listen_path: \"/%s\", upstream: targets: [\"http://127.0.0.1:9000\"], auth: keyless: true}\n"
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "..gen"), 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(dir, "..gen", "zz.cue"), fmt.Sprintf(api, "admin", "admin"), 0o600)
	testutil.WriteFile(t, filepath.Join(dir, "a.cue"), fmt.Sprintf(api, "users", "users"), 0o600)
	if err := os.Symlink("..gen", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	tb, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(tb.APIs)); !slices.Equal(got, []string{"users"}) {
		t.Errorf("the APIs compiled are %v, want users only", got)
	}
}

// TestForeignDataLinkNotRead: a "..data" link that is not the kubelet's
// (absolute, or out of the directory) pulls in no file that no link names.
func TestForeignDataLinkNotRead(t *testing.T) {
	t.Parallel()
	const api = "package cfg\n\napis: %s: {name: \"X\", listen_path: \"/%s\", upstream: targets: [\"http://127.0.0.1:9000\"], auth: keyless: true}\n"
	elsewhere := t.TempDir()
	testutil.WriteFile(t, filepath.Join(elsewhere, "other.cue"), fmt.Sprintf(api, "other", "other"), 0o600)
	for _, to := range []string{elsewhere, "../" + filepath.Base(elsewhere)} {
		top := t.TempDir()
		dir := filepath.Join(top, "cfg")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, filepath.Join(top, filepath.Base(elsewhere))); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(dir, "a.cue"), fmt.Sprintf(api, "users", "users"), 0o600)
		if err := os.Symlink(to, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		tb, err := compiler.Compile(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(tb.APIs)); !slices.Equal(got, []string{"users"}) {
			t.Errorf("..data -> %s: the APIs compiled are %v, want users only", to, got)
		}
	}
}
