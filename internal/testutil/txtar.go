package testutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// CheckWant compares got with the "want" file of ar, the archive parsed
// from file, and reports a difference as "file: did:\n<got>\nwant:\n<want>",
// did saying what produced got. With update it compares nothing: it sets
// the want file to got (in place, or appended when ar has none) and
// rewrites file. It modifies ar.
func CheckWant(t testing.TB, file string, ar *txtar.Archive, got, did string, update bool) {
	t.Helper()
	want, at := "", -1
	for i, f := range ar.Files {
		if f.Name == "want" {
			want, at = string(f.Data), i
		}
	}
	if !update {
		if got != want {
			t.Errorf("%s: %s:\n%s\nwant:\n%s", file, did, got, want)
		}
		return
	}
	if at < 0 {
		ar.Files = append(ar.Files, txtar.File{Name: "want"})
		at = len(ar.Files) - 1
	}
	ar.Files[at].Data = []byte(got)
	if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Glob returns the files that match pattern (filepath.Glob's syntax), and
// fails t when there are none or the pattern is malformed.
func Glob(t testing.TB, pattern string) []string {
	t.Helper()
	names, err := filepath.Glob(pattern)
	if err != nil || len(names) == 0 {
		t.Fatalf("nothing matches %s: %v", pattern, err)
	}
	return names
}
