package gitexport

import (
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRevisionBounds: a revision that repeats one tree under many names
// (a tree bomb: 11,110 directories here) has at most maxOtherFiles of
// them written, and one listing more than maxConfigFiles configuration
// files is an error, before anything is compiled.
func TestRevisionBounds(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	top := filepath.Dir(cfg)
	blob := strings.TrimSpace(gitIn(t, top, "package cfg\n", "hash-object", "-w", "--stdin"))
	tree := mktree(t, top, []string{"100644 blob " + blob + "\tdoc.yaml"})
	for range 4 {
		var entries []string
		for i := range 10 {
			entries = append(entries, fmt.Sprintf("040000 tree %s\td%d", tree, i))
		}
		tree = mktree(t, top, entries)
	}
	bomb := commit(t, top, mktree(t, top, []string{"100644 blob " + blob + "\ta.cue", "040000 tree " + tree + "\tdocs"}))
	out := t.TempDir()
	if _, err := Export(bomb, cfg, out); err != nil {
		t.Fatal(err)
	}
	dirs := 0
	filepath.WalkDir(out, func(_ string, d fs.DirEntry, _ error) error { //nolint:errcheck
		if d.IsDir() {
			dirs++
		}
		return nil
	})
	if dirs-1 > maxOtherFiles {
		t.Errorf("the tree bomb wrote %d directories, more than %d", dirs-1, maxOtherFiles)
	}

	var many []string
	for i := range maxConfigFiles + 1 {
		many = append(many, fmt.Sprintf("100644 blob %s\tf%04d.cue", blob, i))
	}
	_, err := Export(commit(t, top, mktree(t, top, many)), cfg, t.TempDir())
	if want := fmt.Sprintf("holds more than %d configuration files", maxConfigFiles); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Export of %d configuration files: %v, want an error saying it %s", maxConfigFiles+1, err, want)
	}
}

// TestRevisionLinkBound: links are followed at most maxRevisionHops
// times for a whole revision: 100 configuration files each linked into
// one chain of 38 links are an error, not 7,600 hops of two git
// processes each.
func TestRevisionLinkBound(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	top := filepath.Dir(cfg)
	blob := func(content string) string {
		return strings.TrimSpace(gitIn(t, top, content, "hash-object", "-w", "--stdin"))
	}
	chain := []string{"100644 blob " + blob("package cfg\n") + "\treal.cue"}
	for i := range 38 {
		to := "real.cue"
		if i < 37 {
			to = fmt.Sprintf("l%d", i+1)
		}
		chain = append(chain, fmt.Sprintf("120000 blob %s\tl%d", blob(to), i))
	}
	var files []string
	link := blob("../chain/l0")
	for i := range 100 {
		files = append(files, fmt.Sprintf("120000 blob %s\tf%03d.cue", link, i))
	}
	root := mktree(t, top, []string{"040000 tree " + mktree(t, top, files) + "\tcfg", "040000 tree " + mktree(t, top, chain) + "\tchain"})
	rev := strings.TrimSpace(gitIn(t, top, "chain\n", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit-tree", root))
	_, err := Export(rev, cfg, t.TempDir())
	if want := fmt.Sprintf("more than %d symbolic links followed", maxRevisionHops); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Export of 100 files through a 38-link chain: %v, want an error saying %s", err, want)
	}
}

// mktree writes a tree of entries (git ls-tree lines) and returns its id.
func mktree(t *testing.T, top string, entries []string) string {
	return strings.TrimSpace(gitIn(t, top, strings.Join(entries, "\n")+"\n", "mktree"))
}

// commit makes a commit whose tree holds cfg as the tree cfg, and
// returns its id.
func commit(t *testing.T, top, cfg string) string {
	root := mktree(t, top, []string{"040000 tree " + cfg + "\tcfg"})
	return strings.TrimSpace(gitIn(t, top, "bomb\n", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit-tree", root))
}

// gitIn runs git in top with stdin and returns its output.
func gitIn(t *testing.T, top, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", top}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}
