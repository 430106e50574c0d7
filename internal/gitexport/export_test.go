package gitexport

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// repo makes a git repository holding cfg/a.cue, committed, and returns
// the path of cfg in it.
// gitIdentity are the git flags of the tests' commits.
var gitIdentity = []string{"-c", "user.name=t", "-c", "user.email=t@example.com"}

func repo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		testutil.NeedOrSkip(t, "git", "apt-get install git")
	}
	top := t.TempDir()
	cfg := filepath.Join(top, "cfg")
	if err := os.Mkdir(cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, filepath.Join(cfg, "a.cue"), "package cfg\n", 0o600)
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, append(slices.Clone(gitIdentity), "commit", "-q", "-m", "c")} {
		if _, err := git(top, args...); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func TestExport(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	for _, tt := range []struct {
		rev      string
		name     string // on success
		revError string // else the *Error's text
	}{
		{rev: "HEAD", name: "HEAD:cfg"},
		{rev: "-x", revError: `"-x": a revision does not start with -`},
		{rev: "nope", revError: "nope: not a commit of the repository "},
	} {
		t.Run(tt.rev, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			name, err := Export(tt.rev, cfg, out)
			var ge *Error
			switch {
			case tt.revError != "" && (!errors.As(err, &ge) || !strings.HasPrefix(err.Error(), tt.revError)):
				t.Errorf("Export(%q) = %v, want an *Error %q", tt.rev, err, tt.revError)
			case tt.revError == "" && (err != nil || name != tt.name):
				t.Errorf("Export(%q) = %q, %v; want %q", tt.rev, name, err, tt.name)
			case tt.revError == "":
				if b, err := os.ReadFile(filepath.Join(out, "a.cue")); string(b) != "package cfg\n" {
					t.Errorf("a.cue = %q, %v", b, err)
				}
			}
		})
	}
}
