package gitexport

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
)

// Bounds on what is read from a revision: the text of a symbolic link,
// the links followed to one file and read for all files, and the listing
// of one tree and of all trees together. A configuration file is bounded
// as on disk (table.MaxConfigFileBytes).
const (
	maxLinkBytes     = 4 << 10
	maxLinkHops      = 40
	maxRevisionHops  = maxConfigFiles + maxOtherFiles // the links read for all files, each once
	maxListBytes     = 16 << 20                       // the listing of one tree
	maxRevisionLists = 64 << 20                       // the listings of all trees
)

// revision reads files of one commit of the repository at top. name is
// the revision as the user gave it, for messages.
type revision struct {
	top, commit, name string
	*reads
}

// reads is what one export has read of a revision, and may still read.
type reads struct {
	hops   int                // links that may still be read (maxRevisionHops)
	listed int64              // listing bytes that may still be read (maxRevisionLists)
	links  map[string]linkEnd // where each link read leads, by its path
}

// newReads returns the reads of an export that may read maxRevisionHops
// links and listings of listed bytes.
func newReads(listed int64) *reads {
	return &reads{hops: maxRevisionHops, listed: listed, links: map[string]linkEnd{}}
}

// linkEnd is where a link leads, or why it leads nowhere, and how many
// links that takes, itself included.
type linkEnd struct {
	e     treeEntry
	err   error
	links int
}

// treeEntry is one line of git ls-tree -l: the path is from the top of
// the repository.
type treeEntry struct {
	mode, kind, oid, path string
	size                  int64
}

// writeConfig writes the files of the directory dir (from the top of the
// repository, "" for the top) at r into out, each under its own name:
// the configuration files, following symbolic links within the
// repository, and the others a configuration may read as it compiles
// (its OpenAPI documents, in subdirectories too), a link among them
// written as a link to its target when that is under dir too, so that
// the compile still tells a link to a secret's file from another file. A
// configuration file that cannot be read is an error; another file is
// left out (a link leaving dir, one over the size bound, one past
// maxOtherFiles, maxOtherBytes or maxOtherDepth), and the compile says so
// if it needs it. More than maxConfigFiles configuration files or
// maxConfigBytes of them, more than maxRevisionHops links, or listings
// past maxListBytes or maxRevisionLists are an error: a revision is read
// before the compile's budget applies.
func (r revision) writeConfig(dir, out string) error {
	b := budget{other: maxOtherFiles, otherBytes: maxOtherBytes, configBytes: maxConfigBytes}
	return r.writeTree(dir, dir, out, 0, &b)
}

// Bounds on what writeConfig writes: the other files and the
// subdirectories, together, and how deep; the configuration files, and
// their bytes.
const (
	maxOtherFiles  = 256
	maxOtherDepth  = 8
	maxOtherBytes  = 64 << 20
	maxConfigFiles = 1000
	maxConfigBytes = 64 << 20
)

// budget is what writeConfig may still write.
type budget struct {
	other                   int
	otherBytes, configBytes int64
}

// writeTree writes the files of sub, a directory at depth under root, into
// out, as writeConfig says, within b.
func (r revision) writeTree(root, sub, out string, depth int, b *budget) error {
	entries, err := r.list(r.commit+":"+sub, sub)
	if errors.Is(err, errTooMuchOutput) || errors.Is(err, errHandMade) {
		return err
	}
	if err != nil {
		return fmt.Errorf("%s/ is not a directory at %s", sub, r.name)
	}
	if depth == 0 {
		configs := 0
		for _, e := range entries {
			if e.kind == "blob" && table.IsConfigFile(path.Base(e.path)) {
				configs++
			}
		}
		if configs > maxConfigFiles {
			return fmt.Errorf("%s/ holds more than %d configuration files at %s", sub, maxConfigFiles, r.name)
		}
	}
	for _, e := range entries {
		name, config := path.Base(e.path), depth == 0 && table.IsConfigFile(path.Base(e.path))
		switch {
		case e.kind == "tree" && depth < maxOtherDepth && b.other > 0:
			b.other--
			if err := os.Mkdir(filepath.Join(out, name), 0o700); err != nil {
				return err
			}
			if err := r.writeTree(root, e.path, filepath.Join(out, name), depth+1, b); err != nil {
				return err
			}
			continue
		case e.kind != "blob", !config && b.other <= 0:
			continue
		case config: // read below, through its links
		case e.mode == "120000":
			b.other--
			if to, err := r.resolve(e); err == nil && within(root, to.path) {
				rel, _ := filepath.Rel(path.Dir(e.path), to.path)
				if err := os.Symlink(rel, filepath.Join(out, name)); err != nil {
					return err
				}
			}
			continue
		}
		src, err := r.file(e)
		switch {
		case err != nil && config:
			return err
		case err != nil:
			continue
		case !config && b.otherBytes < int64(len(src)):
			continue // left out, as one past maxOtherFiles
		case !config:
			b.other--
			b.otherBytes -= int64(len(src))
		case b.configBytes < int64(len(src)):
			return fmt.Errorf("%s/ holds more than %d MiB of configuration files at %s", sub, maxConfigBytes>>20, r.name)
		default:
			b.configBytes -= int64(len(src))
		}
		if err := writeNew(filepath.Join(out, name), src); err != nil {
			return err
		}
	}
	return nil
}

// writeNew writes data to a file it creates at name: a file or link
// already there is an error, never written through.
func writeNew(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// within reports whether the repository path p is under the directory
// root ("" for the top).
func within(root, p string) bool {
	rel, err := filepath.Rel(path.Clean("./"+root), p)
	return err == nil && filepath.IsLocal(rel)
}

// file reads the contents of the file at e, following symbolic links
// that stay inside the repository.
func (r revision) file(e treeEntry) ([]byte, error) {
	e, err := r.resolve(e)
	if err != nil {
		return nil, err
	}
	if e.size > table.MaxConfigFileBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB at %s: a configuration file must be smaller", e.path, table.MaxConfigFileBytes>>20, r.name)
	}
	return git(r.top, "cat-file", "blob", e.oid)
}

// resolve returns the file that e is, or leads to through at most
// maxLinkHops symbolic links that stay inside the repository. Each link
// is read once per export: where it leads, and through how many links,
// is remembered.
func (r revision) resolve(e treeEntry) (treeEntry, error) {
	from := e.path
	var seen []string // the links read this time, in order
	// end remembers where the links seen lead (to, or err, an error
	// about the path it names first, through beyond more links) and
	// returns it, or the error of a chain too long from e; an error about
	// another path is named from's.
	end := func(to treeEntry, err error, beyond int) (treeEntry, error) {
		for i, p := range seen {
			r.links[p] = linkEnd{to, err, len(seen) - i + beyond}
		}
		switch {
		case len(seen)+beyond > maxLinkHops:
			return e, fmt.Errorf("%s: more than %d symbolic links", from, maxLinkHops)
		case err != nil && !strings.HasPrefix(err.Error(), from+": "):
			return to, fmt.Errorf("%s: %w", from, err)
		}
		return to, err
	}
	for {
		switch {
		case e.kind != "blob":
			return end(e, fmt.Errorf("%s: not a file at %s", e.path, r.name), 0)
		case e.mode != "120000":
			return end(e, nil, 0)
		case e.size > maxLinkBytes:
			return end(e, fmt.Errorf("%s: a symbolic link over %d bytes", e.path, maxLinkBytes), 0)
		}
		if known, ok := r.links[e.path]; ok {
			return end(known.e, known.err, known.links)
		}
		if slices.Contains(seen, e.path) { // a cycle: too many links from anywhere on it
			return end(e, nil, maxLinkHops)
		}
		switch {
		case len(seen) == maxLinkHops: // where it ends is not known: nothing to remember
			return e, fmt.Errorf("%s: more than %d symbolic links", from, maxLinkHops)
		case r.hops <= 0:
			return e, fmt.Errorf("%s: more than %d symbolic links read at %s", from, maxRevisionHops, r.name)
		}
		r.hops--
		seen = append(seen, e.path)
		target, err := git(r.top, "cat-file", "blob", e.oid)
		if err != nil {
			return end(e, err, 0)
		}
		to := path.Join(path.Dir(e.path), string(target))
		if path.IsAbs(string(target)) || !filepath.IsLocal(to) {
			return end(e, fmt.Errorf("%s: the symbolic link to %s leaves the repository; at %s only links within it are followed", e.path, strconv.Quote(string(target)), r.name), 0)
		}
		found, err := r.list(r.commit, to)
		if errors.Is(err, errTooMuchOutput) {
			return e, err
		}
		if err != nil || len(found) != 1 || found[0].path != to {
			return end(e, fmt.Errorf("%s: the symbolic link's target %s does not exist at %s", e.path, to, r.name), 0)
		}
		e = found[0]
	}
}

// list runs git ls-tree -l on treeish (a tree, or the commit with a path
// to look up) and returns its entries, their paths joined to under when
// treeish is a tree at that path.
func (r revision) list(treeish, under string) ([]treeEntry, error) {
	args := []string{"ls-tree", "-z", "-l", "--end-of-options", treeish}
	tree := strings.Contains(treeish, ":") // a tree's entries, not a path looked up
	if !tree {
		args = append(args, "--", under)
		under = ""
	}
	out, err := gitLimited(r.top, min(maxListBytes, r.listed), args...)
	if errors.Is(err, errTooMuchOutput) {
		return nil, fmt.Errorf("%s: a listing over %d MiB, or past the %d MiB all listings of %s may take: %w", treeish, maxListBytes>>20, maxRevisionLists>>20, r.name, errTooMuchOutput)
	}
	if err != nil {
		return nil, err
	}
	r.listed -= int64(len(out))
	var entries []treeEntry
	for line := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if line == "" {
			continue
		}
		meta, name, ok := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 4 {
			return nil, errors.New("git ls-tree: unexpected output")
		}
		if tree && !entryName(name) {
			return nil, fmt.Errorf("%s: a tree entry named %s, which no checkout has: %w", treeish, strconv.Quote(name), errHandMade)
		}
		size, _ := strconv.ParseInt(f[3], 10, 64) // "-" for a tree
		entries = append(entries, treeEntry{mode: f[0], kind: f[1], oid: f[2], path: path.Join(under, name), size: size})
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if seen[e.path] {
			return nil, fmt.Errorf("%s: two tree entries named %s, which no checkout has: %w", treeish, strconv.Quote(path.Base(e.path)), errHandMade)
		}
		seen[e.path] = true
	}
	return entries, nil
}

// errHandMade is list's error for a tree git itself would not make.
var errHandMade = errors.New("the tree was made by hand")

// entryName reports whether name can be the name of an entry of a tree
// git itself makes: not empty, ".", ".." nor ".git", without a "/". A
// tree made by hand may hold others, which would put a file of an
// export elsewhere than its path says.
func entryName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.EqualFold(name, ".git") && !strings.Contains(name, "/")
}
