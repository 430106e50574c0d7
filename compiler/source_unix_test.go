//go:build unix

package compiler_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cuegate/cuegate/compiler"
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
