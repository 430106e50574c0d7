//go:build unix

package table

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestReadFile: only a regular file within the bound is read; a named
// pipe or a device is refused without being opened, and a secret or PEM
// file read through it is too.
func TestReadFile(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		make    func(path string) error
		want    string // the content read, or
		wantErr error
	}{
		{"regular", func(p string) error { return os.WriteFile(p, []byte("s3cret\n"), 0o600) }, "s3cret\n", nil},
		{"at the bound", func(p string) error { return os.WriteFile(p, make([]byte, 1024), 0o600) }, strings.Repeat("\x00", 1024), nil},
		{"over the bound", func(p string) error { return os.WriteFile(p, make([]byte, 1025), 0o600) }, "", &ErrTooLarge{}},
		{"named pipe", func(p string) error { return syscall.Mkfifo(p, 0o600) }, "", &ErrNotRegular{}},
		{"device", func(p string) error { return os.Symlink("/dev/zero", p) }, "", &ErrNotRegular{}},
		{"directory", func(p string) error { return os.Mkdir(p, 0o700) }, "", &ErrNotRegular{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "f")
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			b, err := ReadFile(path, 1024)
			switch {
			case tt.wantErr == nil && (err != nil || string(b) != tt.want):
				t.Fatalf("ReadFile: %q, %v; want %q", b, err, tt.want)
			case tt.wantErr != nil && (err == nil || !strings.Contains(err.Error(), path) ||
				errKind(err) != errKind(tt.wantErr)):
				t.Fatalf("ReadFile: %v; want a %T naming %s", err, tt.wantErr, path)
			}
			if errKind(tt.wantErr) != "not regular" {
				return
			}
			// A secret or a PEM file is refused the same way.
			dir, name := filepath.Dir(path), filepath.Base(path)
			if _, err := (&Secret{File: name}).Resolve(dir); err == nil || errKind(err) != errKind(tt.wantErr) {
				t.Errorf("Secret.Resolve: %v, want a %T", err, tt.wantErr)
			}
			if _, err := ReadPEM(dir, name); err == nil || errKind(err) != errKind(tt.wantErr) {
				t.Errorf("ReadPEM: %v, want a %T", err, tt.wantErr)
			}
		})
	}
}

// errKind names which of ReadFile's own errors err's chain holds, or ""
// for none.
func errKind(err error) string {
	if _, ok := errors.AsType[*ErrTooLarge](err); ok {
		return "too large"
	}
	if _, ok := errors.AsType[*ErrNotRegular](err); ok {
		return "not regular"
	}
	return ""
}

// TestReadFileSwappedAfterStat: a path that becomes a named pipe between
// the check and the open (here, a Stat that still sees the regular file)
// is opened without waiting for a writer and refused.
func TestReadFileSwappedAfterStat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	regularFile, pipe := filepath.Join(dir, "regular"), filepath.Join(dir, "pipe")
	testutil.WriteFile(t, regularFile, "s3cret", 0o600)
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	staleStat := func(string) (fs.FileInfo, error) { return os.Stat(regularFile) }
	if _, err := readRegular(staleStat, os.OpenFile, pipe, 1024); errKind(err) != "not regular" {
		t.Errorf("ReadFile of a pipe swapped in after the check: %v, want a *ErrNotRegular", err)
	}
}
