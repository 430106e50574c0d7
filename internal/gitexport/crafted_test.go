package gitexport

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestBareRepositoryInDirIsNotUsed: a pull request that commits the files
// of a bare repository into the configuration directory, its config
// naming a program for git to run when it fetches a missing object, gets
// an error, and the program does not run.
func TestBareRepositoryInDirIsNotUsed(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	marker := filepath.Join(t.TempDir(), "ran")
	missing := strings.Repeat("1", 40)
	for name, text := range map[string]string{
		"HEAD":        "ref: refs/heads/main\n",
		"packed-refs": missing + " refs/heads/main\n",
		"config": "[core]\n\trepositoryformatversion = 1\n\tworktree = .\n" +
			"[extensions]\n\tpartialClone = origin\n" +
			"[remote \"origin\"]\n\turl = /nonexistent\n\tpromisor = true\n" +
			"\tuploadpack = \"sh -c 'touch " + marker + "' #\"\n",
		"objects/.keep":      "",
		"refs/heads/.keep":   "",
		"refs/tags/.keep":    "",
		"objects/info/.keep": "",
	} {
		p := filepath.Join(cfg, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, p, text, 0o600)
	}
	for _, rev := range []string{"main", missing} {
		if _, err := Export(rev, cfg, t.TempDir()); err == nil {
			t.Errorf("Export(%s) of a directory holding a bare repository: no error", rev)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("git ran the program the directory's config names")
	}
}

// TestHandMadeTrees: a tree git would not make (an entry name with a
// "/", "..", or two entries of one name: a link out of the export and a
// file written through it) is an error, and nothing is written outside
// the export.
func TestHandMadeTrees(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		atTop   bool // the configuration is the repository's top directory
		entries func(outside string) []craftedEntry
	}{
		{"a name with a slash", false, func(outside string) []craftedEntry {
			return []craftedEntry{{"120000", "a/b/c/d/e/f/g/h/w", "../../../../../../../../" + outside}, {"100644", "w", "written"}, {"100644", "a.cue", "package cfg\n"}}
		}},
		{"a name of ..", false, func(string) []craftedEntry {
			return []craftedEntry{{"100644", "..", "written"}, {"100644", "a.cue", "package cfg\n"}}
		}},
		{"two entries of one name", false, func(outside string) []craftedEntry {
			return []craftedEntry{{"120000", "w", "../../../../../../../../" + outside}, {"100644", "w", "written"}, {"100644", "a.cue", "package cfg\n"}}
		}},
		{"a name with a slash at the top", true, func(string) []craftedEntry {
			return []craftedEntry{{"120000", "a/b/l", "../../etc/passwd"}, {"100644", "etc", "x"}, {"100644", "a.cue", "package cfg\n"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := repo(t)
			top := filepath.Dir(cfg)
			outside := filepath.Join(t.TempDir(), "victim")
			testutil.WriteFile(t, outside, "original", 0o600)
			dir, root := cfg, mkTree(t, top, tc.entries(strings.TrimPrefix(outside, "/")))
			if tc.atTop {
				dir = top
			} else {
				root = mkTree(t, top, []craftedEntry{{"40000", "cfg", root}})
			}
			commit := commitTree(t, top, root)
			if _, err := Export(commit, dir, t.TempDir()); err == nil || !strings.Contains(err.Error(), "made by hand") {
				t.Errorf("Export of a hand-made tree: %v, want an error saying it was made by hand", err)
			}
			if got := string(testutil.ReadFile(t, outside)); got != "original" {
				t.Fatalf("the file outside the export now holds %q", got)
			}
		})
	}
}

// craftedEntry is an entry of a hand-made tree: for a blob or a link, its
// content; for a tree ("40000"), its object ID.
type craftedEntry struct{ mode, name, content string }

// mkTree writes a tree object of entries into the repository at top, as
// given (unsorted, any names), and returns its ID.
func mkTree(t *testing.T, top string, entries []craftedEntry) string {
	t.Helper()
	var contents []string
	for _, e := range entries {
		if e.mode != "40000" {
			contents = append(contents, e.content)
		}
	}
	var ids []string
	if len(contents) > 0 {
		ids = blobs(t, top, contents...)
	}
	var tree []byte
	for _, e := range entries {
		id := e.content
		if e.mode != "40000" {
			id, ids = ids[0], ids[1:]
		}
		raw, err := hex.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		tree = append(append(tree, e.mode+" "+e.name+"\x00"...), raw...)
	}
	return strings.TrimSpace(gitIn(t, top, string(tree), "hash-object", "-t", "tree", "--literally", "-w", "--stdin"))
}
