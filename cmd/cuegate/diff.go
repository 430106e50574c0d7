package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/compiler/tablediff"
	"github.com/cuegate/cuegate/internal/budget"
	"github.com/cuegate/cuegate/internal/printable"
)

func init() {
	register(command{"diff", "show what a configuration change changes in the compiled table", runDiff})
}

// exitChanged is diff's status when the two sides differ.
const exitChanged = 1

// adminTokenEnv names the environment variable diff --against and the
// developer commands read the admin token from.
const adminTokenEnv = "CUEGATE_ADMIN_TOKEN"

// envAdminToken returns $CUEGATE_ADMIN_TOKEN without the white space
// around it (as a token file is read), "" when it is not set.
func envAdminToken() string { return strings.TrimSpace(os.Getenv(adminTokenEnv)) }

// runDiff is "cuegate diff [--format text|json|markdown] [budget flags]
// OLD NEW", "... --git REV DIR" or "... --against URL DIR".
//
// It compares what the two sides compile to (see tablediff), never their
// text: order, comments, layout and defaults written out are no change.
// The old side is the directory OLD; or DIR as of the git revision REV
// (the repository found from DIR); or the table a running node serves at
// URL's GET /table on its admin listener, with the admin token from
// $CUEGATE_ADMIN_TOKEN when it is set. The new side is NEW or DIR.
//
// It prints the changes on stdout in the format asked: text (nothing when
// there is no change), json (tablediff.Diff) or markdown (for a
// pull-request comment). Exit status: 0 no change, 1 changes, 2 an error
// (a side that does not compile is named, with its findings at their
// positions, on stderr; with --format json also on stdout, as
// {"error", "side", "name", "diagnostics"}).
func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("diff", "usage: cuegate diff [--format text|json|markdown] OLD NEW\n       cuegate diff --git REV [--format ...] DIR\n       cuegate diff --against URL [--format ...] DIR", stderr)
	format := fs.String("format", "text", "output format: text, json or markdown")
	rev := fs.String("git", "", "compare DIR as of this git revision with DIR")
	against := fs.String("against", "", "compare the table a node serves (its admin listener's URL) with DIR")
	var b budget.Budget
	b.Flags(fs)
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return parseExit(err)
	}
	want := 2
	if *rev != "" || *against != "" {
		want = 1
	}
	if len(dirs) != want || (*rev != "" && *against != "") || (*format != "text" && *format != "json" && *format != "markdown") {
		fs.Usage()
		return exitUsage
	}
	if !budgetValid("diff", b, stderr) {
		return exitUsage
	}
	d, err := diffSides(b, *rev, *against, dirs)
	if err == nil {
		err = writeDiff(stdout, *format, d)
	}
	switch {
	case err != nil:
		printError(stderr, "cuegate diff:", err)
		if *format == "json" {
			writeDiffError(stdout, err)
		}
		return exitUsage
	case d.Empty():
		return exitOK
	}
	return exitChanged
}

// diffSides compares the old side (dirs[0], or the last dir at rev, or
// the table the node at against serves) with the last dir; with an old
// directory (oldDir, which is "" for against), also the contents of the
// files the new table names (Diff.Files).
func diffSides(b budget.Budget, rev, against string, dirs []string) (*tablediff.Diff, error) {
	newDir, oldDir := dirs[len(dirs)-1], dirs[0]
	var old []byte
	var err error
	switch {
	case rev != "":
		var name string
		if oldDir, name, err = exportRevision(rev, newDir); err != nil {
			return nil, err
		}
		defer os.RemoveAll(oldDir)
		old, err = compileSide(b, "old", oldDir, name)
	case against != "":
		oldDir = ""
		old, err = fetchTable(against, envAdminToken())
	default:
		old, err = compileSide(b, "old", oldDir, oldDir)
	}
	if err != nil {
		return nil, err
	}
	cur, err := compileSide(b, "new", newDir, newDir)
	if err != nil {
		return nil, err
	}
	d, err := tablediff.JSON(old, cur)
	if err == nil && oldDir != "" {
		err = setFileChanges(d, oldDir, newDir, cur)
	}
	return d, err
}

func writeDiff(w io.Writer, format string, d *tablediff.Diff) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "markdown":
		return d.WriteMarkdown(w)
	default:
		return d.WriteText(w)
	}
}

// sideError is a side of a diff that does not compile: which side, its
// name, and its findings with file names as the user knows them.
type sideError struct {
	Side  string            `json:"side"`
	Name  string            `json:"name"`
	Diags table.Diagnostics `json:"diagnostics"`
}

var _ error = (*sideError)(nil)

// Error is the side's findings, one a line, each escaped
// (table.Diagnostic.String), as its name is.
func (e *sideError) Error() string {
	lines := make([]string, len(e.Diags))
	for i, d := range e.Diags {
		lines[i] = "  " + d.String()
	}
	return fmt.Sprintf("the %s configuration (%s) does not compile:\n%s", e.Side, printable.Escape(e.Name), strings.Join(lines, "\n"))
}

// writeDiffError writes err for --format json as {"error": message}, and
// a side that does not compile with its "side", "name" and "diagnostics".
func writeDiffError(w io.Writer, err error) {
	out := struct {
		Error string `json:"error"`
		*sideError
	}{Error: err.Error()}
	if errors.As(err, &out.sideError) {
		out.Error = fmt.Sprintf("the %s configuration (%s) does not compile", out.Side, out.Name)
	}
	b, _ := json.MarshalIndent(out, "", "  ") // plain data: cannot fail
	fmt.Fprintf(w, "%s\n", b)
}

// compileSide compiles dir and returns its table's JSON. A configuration
// that does not compile is a *sideError naming the side (as name, e.g.
// "REV:path" for a checkout) and every finding at its position; file
// names under dir are shown under name.
func compileSide(b budget.Budget, side, dir, name string) ([]byte, error) {
	t, err := b.Compile(context.Background(), dir)
	var diags table.Diagnostics
	switch {
	case errors.As(err, &diags):
		shown := make(table.Diagnostics, len(diags))
		for i, d := range diags {
			if rel, ok := strings.CutPrefix(d.File, dir); ok && name != dir {
				if strings.HasSuffix(name, ":") { // the top of a repository
					rel = strings.TrimLeft(rel, string(filepath.Separator))
				}
				d.File = name + rel
			}
			shown[i] = d
		}
		return nil, &sideError{Side: side, Name: name, Diags: shown}
	case err != nil:
		return nil, fmt.Errorf("the %s configuration (%s): %w", side, name, err)
	}
	return t.JSON(), nil
}
