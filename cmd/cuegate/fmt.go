package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/parser"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/atomicfile"
	"github.com/cuegate/cuegate/internal/printable"
)

func init() {
	register(command{"fmt", "format the .cue files of a configuration directory", runFmt})
}

// runFmt is "cuegate fmt [--check] DIR": it formats (cue fmt's
// style, simplified) the .cue files of DIR (table.ConfigFiles: hidden
// files and editor backups are left alone),
// replacing each changed file atomically through its symbolic link (see
// rewrite), or with --check lists on stdout the files that are not
// formatted, changes nothing and exits 1 if there are any. A file that
// does not parse, or whose link leads out of DIR (left as it is), is
// reported on stderr (a syntax error as file:line:col, without its text)
// and exits 1 once the other files are formatted; a file formatted whose
// directory could not be synced after (atomicfile.ErrNotDurable) is a
// warning on stderr; a directory that
// cannot be read or has no .cue files, or a file that cannot be replaced
// without losing something of it, exits 2 there, leaving that file and
// the ones after it as they are.
func runFmt(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("fmt", "usage: cuegate fmt [--check] DIR", stderr)
	check := fs.Bool("check", false, "list unformatted files and exit 1 if there are any; change nothing")
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(dirs) != 1 {
		fs.Usage()
		return exitUsage
	}
	return formatDir(dirs[0], *check, atomicfile.ReplaceWithin, stdout, stderr)
}

// formatDir is runFmt's work on dir, once its flags are read: replace puts
// a formatted file in place (atomicfile.ReplaceWithin, or a test's stand-in).
func formatDir(dir string, check bool, replace func(dir, path string, data []byte) error, stdout, stderr io.Writer) int {
	files, err := table.ConfigFiles(dir)
	if err != nil {
		printError(stderr, "cuegate:", err)
		return exitUsage
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "cuegate: no .cue files in %s\n", printable.Escape(dir))
		return exitUsage
	}
	code := exitOK
	for _, f := range files {
		src, err := table.ReadFile(f, table.MaxConfigFileBytes)
		if err != nil {
			printError(stderr, "cuegate:", err)
			return exitUsage
		}
		file, err := parser.ParseFile(f, src, parser.ParseComments)
		if err != nil {
			for _, e := range cueerrors.Errors(err) {
				pos := e.Position()
				fmt.Fprintf(stderr, "%s:%d:%d: %s\n", printable.Escape(f), pos.Line(), pos.Column(), printable.Escape(compiler.QuotingNothing(e, src)))
			}
			code = exitInvalid
			continue
		}
		out, err := format.Node(file, format.Simplify())
		if err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", printable.Escape(f), printable.Escape(err.Error()))
			code = exitInvalid
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		if check {
			fmt.Fprintln(stdout, printable.Escape(f))
			code = exitInvalid
			continue
		}
		err = rewrite(replace, dir, f, out)
		if errors.Is(err, atomicfile.ErrNotDurable) { // formatted: the others are too
			fmt.Fprintf(stderr, "cuegate: warning: %s is formatted, but: %s\n", printable.Escape(f), printable.Escape(err.Error()))
			continue
		}
		if oe, outside := errors.AsType[*atomicfile.OutsideError](err); outside { // left as it is: the others are formatted
			fmt.Fprintf(stderr, "cuegate: %s is not formatted: it links to %s, outside %s; format it where it is\n", printable.Escape(oe.Path), printable.Escape(oe.Target), printable.Escape(oe.Root))
			code = exitInvalid
			continue
		}
		if err != nil {
			printError(stderr, "cuegate:", err)
			return exitUsage
		}
	}
	return code
}

// rewrite replaces the file at path in dir with data through replace
// (atomicfile.ReplaceWithin's contract); a file a new one cannot stand for
// is left as it is, with an error saying why and what to do, and one whose
// symbolic link leads out of dir (a checkout's link to a file elsewhere)
// with the *atomicfile.OutsideError.
func rewrite(replace func(dir, path string, data []byte) error, dir, path string, data []byte) error {
	err := replace(dir, path, data)
	if ie, ok := errors.AsType[*atomicfile.IdentityError](err); ok {
		return fmt.Errorf("%s is not formatted, so that nothing of it is lost: %w; format it by hand", path, ie.Err)
	}
	return err
}
