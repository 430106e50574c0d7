package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"cuelang.org/go/cue/format"
)

func init() {
	register(command{"fmt", "format the .cue files of a configuration directory", runFmt})
}

// runFmt formats the .cue files of a directory in place, or with --check
// lists the files that are not formatted and exits 1.
func runFmt(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fmt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	check := fs.Bool("check", false, "list unformatted files and exit 1 if there are any; change nothing")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: cuegate fmt [--check] DIR")
		return exitUsage
	}
	files, err := filepath.Glob(filepath.Join(fs.Arg(0), "*.cue"))
	if err != nil || len(files) == 0 {
		fmt.Fprintf(stderr, "cuegate: no .cue files in %s\n", fs.Arg(0))
		return exitUsage
	}
	code := exitOK
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(stderr, "cuegate:", err)
			return exitUsage
		}
		out, err := format.Source(src, format.Simplify())
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			code = exitInvalid
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		if *check {
			fmt.Fprintln(stdout, f)
			code = exitInvalid
			continue
		}
		if err := os.WriteFile(f, out, 0o644); err != nil {
			fmt.Fprintln(stderr, "cuegate:", err)
			return exitUsage
		}
	}
	return code
}
