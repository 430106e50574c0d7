package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/atomicfile"
	"github.com/cuegate/cuegate/internal/testutil"
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
			testutil.WriteFile(t, target, unformatted, mode)
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

// TestFmtLeavesAFileANewOneCannotStandFor: a file with another hard
// link, which a new file would not share, is left as it is, with an error
// saying why and what to do (the cases are atomicfile.ReplaceWithin's).
func TestFmtLeavesAFileANewOneCannotStandFor(t *testing.T) {
	t.Parallel()
	const unformatted = "package cfg\na:   1\n"
	dir := t.TempDir()
	path := filepath.Join(dir, "a.cue")
	testutil.WriteFile(t, path, unformatted, 0o640)
	if err := os.Link(path, filepath.Join(t.TempDir(), "other.cue")); err != nil {
		t.Skip("no hard links here:", err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"fmt", dir}, &stdout, &stderr)
	const want = "is not formatted, so that nothing of it is lost: it has 2 hard links, which a new file would not share; format it by hand"
	if got, _ := os.ReadFile(path); code != exitUsage || !strings.Contains(stderr.String(), want) || string(got) != unformatted {
		t.Errorf("fmt: %d %q, a.cue %q; want exit 2 with %q and a.cue untouched", code, stderr.String(), got, want)
	}
}

// TestFmtNamesEscaped: a file name with a line break or an escape
// sequence cannot start a line of fmt's output (GitHub Actions reads
// "::error" at the start of one as a command) or reach the terminal raw,
// whether fmt lists it unformatted or reports its syntax error.
func TestFmtNamesEscaped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "a\n::error file=x::pwned\x1b[31m.cue"), "package x\na:   1\n", 0o644)
	testutil.WriteFile(t, filepath.Join(dir, "b\n::error::bad.cue"), "package x\nb: {\n", 0o644)
	_, stdout, stderr := cli("fmt", "--check", dir)
	for _, out := range []string{stdout, stderr} {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "::") || strings.ContainsRune(line, '\x1b') {
				t.Errorf("a line of fmt's output carries the file name raw: %q\nstdout:\n%s\nstderr:\n%s", line, stdout, stderr)
			}
		}
	}
	if !strings.Contains(stdout, `a\n::error`) || !strings.Contains(stderr, `b\n::error::bad.cue:`) {
		t.Errorf("the names are not shown escaped:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

// TestFmtNotDurableIsFormatted: a file put in place whose directory could
// not be synced after is formatted: fmt warns, naming it, formats the
// files after it and exits 0.
func TestFmtNotDurableIsFormatted(t *testing.T) {
	t.Parallel()
	const unformatted, formatted = "package cfg\na:   1\n", "package cfg\n\na: 1\n"
	dir := t.TempDir()
	first, second := filepath.Join(dir, "a.cue"), filepath.Join(dir, "b.cue")
	testutil.WriteFile(t, first, unformatted, 0o600)
	testutil.WriteFile(t, second, unformatted, 0o600)
	notDurable := func(dir, path string, data []byte) error {
		if err := atomicfile.ReplaceWithin(dir, path, data); err != nil || path != first {
			return err
		}
		return fmt.Errorf("%w: simulated directory sync failure", atomicfile.ErrNotDurable)
	}
	var stdout, stderr bytes.Buffer
	if code := formatDir(dir, false, notDurable, &stdout, &stderr); code != exitOK {
		t.Errorf("fmt = %d, want 0; stderr:\n%s", code, stderr.String())
	}
	if want := "cuegate: warning: " + first + " is formatted, but: "; !strings.HasPrefix(stderr.String(), want) || !strings.Contains(stderr.String(), "simulated directory sync failure") {
		t.Errorf("stderr = %q, want a warning beginning %q", stderr.String(), want)
	}
	for _, f := range []string{first, second} {
		if b, _ := os.ReadFile(f); string(b) != formatted {
			t.Errorf("%s = %q, want %q", f, b, formatted)
		}
	}
}
