package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/cuegate/cuegate/internal/budget"
)

// newFlagSet returns the flag set of the subcommand name: it reports to
// stderr, and its usage is the text usage (a final newline added) then
// the flags' defaults.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseExit is the exit status of a subcommand whose flags did not parse
// (the flag package has printed why, or the usage): 0 for -h or -help,
// which asked for the usage, else exitUsage.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// budgetValid reports whether b, parsed from the flags of the subcommand
// name, is valid; when it is not it says why on stderr.
func budgetValid(name string, b budget.Budget, stderr io.Writer) bool {
	if err := b.Valid(); err != nil {
		fmt.Fprintf(stderr, "cuegate %s: %v\n", name, err)
		return false
	}
	return true
}
