package gitexport

import (
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestRevisionBounds: a revision that repeats one tree under many names
// (a tree bomb: 11,110 directories here) has at most maxOtherFiles of
// them written, and one listing more than maxConfigFiles configuration
// files is an error, before anything is compiled.
func TestRevisionBounds(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	top := filepath.Dir(cfg)
	blob := blobs(t, top, "package cfg\n")[0]
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

// TestRevisionLinkBound: each link of a revision is read once (100
// configuration files linked into one chain of 38 links read 138 links,
// not 3,800), and at most maxRevisionHops links are read in all: files
// linked into chains of their own are an error past it.
func TestRevisionLinkBound(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	top := filepath.Dir(cfg)
	real := blobs(t, top, "package cfg\n")[0]
	// chain returns the tree of a chain of n links, l0 to real.cue; each
	// chain's links are read apart (by their paths).
	chain := func(n int) string {
		targets := make([]string, n)
		for i := range n {
			targets[i] = fmt.Sprintf("l%d", i+1)
		}
		targets[n-1] = "real.cue"
		entries := []string{"100644 blob " + real + "\treal.cue"}
		for i, oid := range blobs(t, top, targets...) {
			entries = append(entries, fmt.Sprintf("120000 blob %s\tl%d", oid, i))
		}
		return mktree(t, top, entries)
	}
	export := func(chains, filesPerChain int) error {
		var files, dirs []string
		for c := range chains {
			dirs = append(dirs, "040000 tree "+chain(38)+fmt.Sprintf("\tchain%d", c))
			link := blobs(t, top, fmt.Sprintf("../chain%d/l0", c))[0]
			for f := range filesPerChain {
				files = append(files, fmt.Sprintf("120000 blob %s\tc%03df%03d.cue", link, c, f))
			}
		}
		root := mktree(t, top, append(dirs, "040000 tree "+mktree(t, top, files)+"\tcfg"))
		rev := commitTree(t, top, root)
		_, err := Export(rev, cfg, t.TempDir())
		return err
	}
	if err := export(1, 100); err != nil {
		t.Errorf("100 files through one 38-link chain: %v", err)
	}
	if err := export(34, 1); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d symbolic links read", maxRevisionHops)) {
		t.Errorf("34 files through 38-link chains of their own: %v, want an error past %d links", err, maxRevisionHops)
	}
}

// blobs writes each content as a blob, in one git process, and returns
// their ids.
func blobs(t *testing.T, top string, contents ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, c := range contents {
		p := filepath.Join(dir, fmt.Sprint(i))
		testutil.WriteFile(t, p, c, 0o600)
		paths = append(paths, p)
	}
	return strings.Fields(gitIn(t, top, strings.Join(paths, "\n")+"\n", "hash-object", "-w", "--stdin-paths"))
}

// mktree writes a tree of entries (git ls-tree lines) and returns its id.
func mktree(t *testing.T, top string, entries []string) string {
	return strings.TrimSpace(gitIn(t, top, strings.Join(entries, "\n")+"\n", "mktree"))
}

// commit makes a commit whose tree holds cfg as the tree cfg, and
// returns its id.
func commit(t *testing.T, top, cfg string) string {
	root := mktree(t, top, []string{"040000 tree " + cfg + "\tcfg"})
	return commitTree(t, top, root)
}

// commitTree makes a commit of the tree root and returns its id.
func commitTree(t *testing.T, top, root string) string {
	return strings.TrimSpace(gitIn(t, top, "test\n", append(slices.Clone(gitIdentity), "commit-tree", root)...))
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

// TestRevisionListingBound: the listings of all trees an export reads
// are bounded together (maxRevisionLists), not each alone: one large
// tree listed under many names stops the export once they add up.
func TestRevisionListingBound(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	top := filepath.Dir(cfg)
	r := revision{top: top, commit: "HEAD", name: "HEAD", reads: newReads(200)}
	if _, err := r.list("HEAD:cfg", "cfg"); err != nil { // one entry: some 80 bytes
		t.Fatal(err)
	}
	if _, err := r.list("HEAD:cfg", "cfg"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.list("HEAD:cfg", "cfg"); err == nil || !errors.Is(err, errTooMuchOutput) {
		t.Errorf("a third listing past the bound: %v, want an error", err)
	}
}

// TestLinkMemoCountsFromEachStart: a remembered link counts the links
// from each file that reaches it: a file 7 links from its target exports
// though another file, 42 links from it, was left out for too many, and
// a file 63 links away is refused though one 32 away was read first.
func TestLinkMemoCountsFromEachStart(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	top := filepath.Dir(cfg)
	// chain returns the entries of n links, prefix0 to to.
	chain := func(prefix string, n int, to string) []string {
		targets := make([]string, n)
		for i := range n - 1 {
			targets[i] = fmt.Sprintf("%s%02d", prefix, i+1)
		}
		targets[n-1] = to
		var entries []string
		for i, oid := range blobs(t, top, targets...) {
			entries = append(entries, fmt.Sprintf("120000 blob %s\t%s%02d", oid, prefix, i))
		}
		return entries
	}
	api := blobs(t, top, "package cfg\n")[0]
	realTree := mktree(t, top, []string{"100644 blob " + api + "\tapi.cue"})
	export := func(files map[string]string, chains map[string][]string) error {
		var cfgEntries []string
		for name, to := range files {
			cfgEntries = append(cfgEntries, "120000 blob "+blobs(t, top, to)[0]+"\t"+name)
		}
		root := []string{"040000 tree " + mktree(t, top, cfgEntries) + "\tcfg", "040000 tree " + realTree + "\treal"}
		for dir, entries := range chains {
			root = append(root, "040000 tree "+mktree(t, top, entries)+"\t"+dir)
		}
		rev := commitTree(t, top, mktree(t, top, root))
		_, err := Export(rev, cfg, t.TempDir())
		return err
	}
	long := map[string][]string{"links": chain("l", 41, "../real/api.cue")}
	if err := export(map[string]string{"a.json": "../links/l00", "z.cue": "../links/l35"}, long); err != nil {
		t.Errorf("a file 7 links from its target, after one 42 away: %v", err)
	}
	two := map[string][]string{"l": chain("l", 31, "../real/api.cue"), "m": chain("m", 31, "../l/l00")}
	err := export(map[string]string{"a.cue": "../l/l00", "z.cue": "../m/m00"}, two)
	if want := "cfg/z.cue: more than 40 symbolic links"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a file 63 links from its target: %v, want %q", err, want)
	}
}

// TestLinkCyclesAndNames: links in a cycle cost a few reads, not 40 from
// each start (16 cycles beside a configuration export), and an error met
// through a remembered link is named after the file that reached it.
func TestLinkCyclesAndNames(t *testing.T) {
	t.Parallel()
	cfg := repo(t)
	top := filepath.Dir(cfg)
	api := blobs(t, top, "package cfg\n")[0]
	var docs []string
	for i := range 16 {
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		oids := blobs(t, top, b, a)
		docs = append(docs, "120000 blob "+oids[0]+"\t"+a, "120000 blob "+oids[1]+"\t"+b)
	}
	cycles := mktree(t, top, []string{"100644 blob " + api + "\tmain.cue", "040000 tree " + mktree(t, top, docs) + "\tdocs"})
	if _, err := Export(commit(t, top, cycles), cfg, t.TempDir()); err != nil {
		t.Errorf("a configuration beside 16 link cycles: %v", err)
	}

	shared := mktree(t, top, []string{"100644 blob " + api + "\tx.cue"})
	toShared, toDocs := blobs(t, top, "../../shared")[0], blobs(t, top, "a_docs/x.yaml")[0]
	cfgTree := mktree(t, top, []string{
		"040000 tree " + mktree(t, top, []string{"120000 blob " + toShared + "\tx.yaml"}) + "\ta_docs",
		"120000 blob " + toDocs + "\tb.cue",
	})
	root := mktree(t, top, []string{"040000 tree " + cfgTree + "\tcfg", "040000 tree " + shared + "\tshared"})
	_, err := Export(commitTree(t, top, root), cfg, t.TempDir())
	if want := "cfg/b.cue: shared: not a file"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("a configuration file through a link to a directory: %v, want %q", err, want)
	}
}
