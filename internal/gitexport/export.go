// Package gitexport writes a configuration directory as of a git
// revision into a directory of its own, read from git's objects, so that
// neither .gitattributes nor a checkout has a say: what cuegate diff
// --git compiles as the old side.
package gitexport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Error is an error about the revision or its files (not git's failure
// to read the work tree): its text begins with the revision, quoted when
// it looks like an option.
type Error struct {
	Rev string
	Err error
}

var _ error = (*Error)(nil)

func (e *Error) Error() string { return e.Rev + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Export writes the directory dir of a git work tree, as of the revision
// rev, into out, and returns the name findings should give it,
// "rev:path/in/repo". It writes the configuration files of the directory
// (table.IsConfigFile, not those of subdirectories), following symbolic
// links within the repository at rev, and the other files a
// configuration may read as it compiles (see revision.writeConfig).
func Export(rev, dir, out string) (name string, err error) {
	if strings.HasPrefix(rev, "-") {
		return "", &Error{Rev: strconv.Quote(rev), Err: errors.New("a revision does not start with -")}
	}
	got, err := git(dir, "rev-parse", "--show-toplevel", "--show-prefix")
	if err != nil {
		return "", err
	}
	top, prefix, _ := strings.Cut(strings.TrimSuffix(string(got), "\n"), "\n")
	prefix = strings.TrimSuffix(prefix, "/")
	if _, err := os.Lstat(filepath.Join(top, ".git")); err != nil {
		// A work tree has its .git, which no commit can hold; a bare
		// repository committed into dir, which a git older than 2.38
		// (without safe.bareRepository) uses, has none.
		return "", fmt.Errorf("%s is not the work tree of a repository (it has no .git): refusing a repository found in the directory", top)
	}
	got, err = git(top, "rev-parse", "--verify", "--end-of-options", rev+"^{commit}")
	if err != nil {
		return "", &Error{Rev: rev, Err: fmt.Errorf("not a commit of the repository %s", top)}
	}
	r := revision{top: top, commit: strings.TrimSpace(string(got)), name: rev,
		reads: newReads(maxRevisionLists)}
	if err := r.writeConfig(prefix, out); err != nil {
		return "", &Error{Rev: rev, Err: err}
	}
	return rev + ":" + prefix, nil
}

// git runs git in dir and returns its output; a failure carries git's
// own message.
func git(dir string, args ...string) ([]byte, error) {
	return gitLimited(dir, -1, args...)
}

// errTooMuchOutput is gitLimited's error past its limit.
var errTooMuchOutput = errors.New("more output than allowed")

// gitSettings are the settings every git command runs with. The
// directory exported is a pull request's to fill: a bare repository
// committed into it (HEAD, config, objects, refs) would otherwise be the
// repository git finds there, and its config could name a program for a
// fetch of a missing object to run (a promisor remote's uploadpack), a
// hook or a file-system monitor. None is used, and no transport is
// allowed.
var gitSettings = []string{
	"-c", "safe.bareRepository=explicit",
	"-c", "protocol.allow=never",
	"-c", "core.fsmonitor=false",
	"-c", "core.hooksPath=" + os.DevNull,
}

// gitEnv is the environment git runs in: the process's, without a lazy
// fetch of missing objects, any transport (GIT_ALLOW_PROTOCOL, which a
// repository's config cannot undo, as it can protocol.allow) or a prompt
// for credentials.
func gitEnv() []string {
	return append(os.Environ(), "GIT_NO_LAZY_FETCH=1", "GIT_ALLOW_PROTOCOL=none", "GIT_TERMINAL_PROMPT=0")
}

// gitLimited is git with an output of at most limit bytes (-1: any):
// past it, git is stopped and the output is errTooMuchOutput.
func gitLimited(dir string, limit int64, args ...string) ([]byte, error) {
	cmd := exec.Command("git", slices.Concat(gitSettings, []string{"-C", dir}, args)...)
	cmd.Env = gitEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var r io.Reader = stdout
	if limit >= 0 {
		r = io.LimitReader(stdout, limit+1)
	}
	out, rerr := io.ReadAll(r)
	over := limit >= 0 && int64(len(out)) > limit
	if over {
		cmd.Process.Kill() //nolint:errcheck // it is stopped either way
	}
	err = cmd.Wait()
	switch {
	case over:
		return nil, fmt.Errorf("git %s: %w", strings.Join(args, " "), errTooMuchOutput)
	case rerr != nil:
		return nil, rerr
	case err != nil:
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
