package testutil

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// errorsTB records what a check reports.
type errorsTB struct {
	testing.TB
	errs []string
}

func (e *errorsTB) Helper() {}

func (e *errorsTB) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// Fatalf records like Errorf and ends the goroutine, as testing.T's does.
func (e *errorsTB) Fatalf(format string, args ...any) {
	e.Errorf(format, args...)
	runtime.Goexit()
}

// TestGlob: the files that match, sorted; no match and a malformed
// pattern fail the test, naming the pattern.
func TestGlob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"b.txtar", "a.txtar", "c.txt"} {
		WriteFile(t, filepath.Join(dir, name), "", 0o644)
	}
	if got, want := Glob(t, filepath.Join(dir, "*.txtar")), []string{filepath.Join(dir, "a.txtar"), filepath.Join(dir, "b.txtar")}; !slices.Equal(got, want) {
		t.Errorf("Glob = %q, want %q", got, want)
	}
	for _, pattern := range []string{filepath.Join(dir, "*.cue"), filepath.Join(dir, "[")} {
		rec := &errorsTB{TB: t}
		done := make(chan []string)
		go func() {
			defer close(done)
			done <- Glob(rec, pattern)
		}()
		if got, ok := <-done; ok {
			t.Errorf("Glob(%q) = %q, want the test failed", pattern, got)
		}
		if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], pattern) {
			t.Errorf("Glob(%q) reported %q, want one failure naming the pattern", pattern, rec.errs)
		}
	}
}

// TestCheckWant: without update a matching want passes and a different or
// missing one is reported with the file; with update the want file is
// replaced in place, or appended, and the other files are kept.
func TestCheckWant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, archive string
		got           string
		update        bool
		errs          int
		file          string
	}{
		{name: "match", archive: "-- in --\nx\n-- want --\nok\n", got: "ok\n"},
		{name: "differ", archive: "-- in --\nx\n-- want --\nok\n", got: "bad\n", errs: 1},
		{name: "missing", archive: "-- in --\nx\n", got: "ok\n", errs: 1},
		{name: "update in place", archive: "-- want --\nold\n-- in --\nx\n", got: "new\n", update: true, file: "-- want --\nnew\n-- in --\nx\n"},
		{name: "update appends", archive: "-- in --\nx\n", got: "new\n", update: true, file: "-- in --\nx\n-- want --\nnew\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "case.txtar")
			WriteFile(t, file, tc.archive, 0o644)
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			rec := &errorsTB{TB: t}
			CheckWant(rec, file, ar, tc.got, "it did", tc.update)
			if len(rec.errs) != tc.errs {
				t.Errorf("reported %q, want %d errors", rec.errs, tc.errs)
			}
			for _, e := range rec.errs {
				if want := fmt.Sprintf("%s: it did:\n%s\nwant:\n", file, tc.got); !strings.HasPrefix(e, want) {
					t.Errorf("reported %q, want it to begin %q", e, want)
				}
			}
			b := ReadFile(t, file)
			want := tc.file
			if want == "" {
				want = tc.archive
			}
			if string(b) != want {
				t.Errorf("the file is now\n%s\nwant\n%s", b, want)
			}
		})
	}
}
