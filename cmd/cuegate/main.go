// Command cuegate is a declarative API gateway: it compiles a directory of
// CUE files into a routing and policy table, serves it, and runs a
// developer portal that registers OAuth clients by Dynamic Client
// Registration.
//
// Exit codes: 0 ok, 1 invalid input (a configuration with mistakes), 2
// usage or I/O error.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/cuegate/cuegate/internal/printable"
)

// Exit codes.
const (
	exitOK      = 0
	exitInvalid = 1
	exitUsage   = 2
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// command is one subcommand. run gets the arguments after the name. A
// name that begins with "__" is for cuegate's own use: the usage does not
// list it.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// registry holds the subcommands; each command's file registers itself in
// an init function, so adding one touches no other file.
var registry []command

func register(c command) { registry = append(registry, c) }

// commands returns the subcommands sorted by name.
func commands() []command {
	out := slices.Clone(registry)
	slices.SortFunc(out, func(a, b command) int { return strings.Compare(a.name, b.name) })
	return out
}

func init() {
	register(command{"version", "print the version", runVersion})
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: testscript calls it in-process.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cuegate: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cuegate <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		if strings.HasPrefix(c.name, "__") {
			continue
		}
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'cuegate <command> -h' for a command's flags.")
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintln(stderr, "usage: cuegate version")
		return exitUsage
	}
	fmt.Fprintln(stdout, "cuegate", versionString())
	return exitOK
}

// versionString is version when set at build time, else the module
// version (go install ...@v1.2.3), else dev and the VCS revision.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return version + "-" + s.Value[:12]
		}
	}
	return version
}

// printError prints err on w after prefix ("cuegate:"), as errorText
// gives it.
func printError(w io.Writer, prefix string, err error) {
	fmt.Fprintln(w, prefix, errorText(err))
}

// errorText is err's text for the terminal, one line a finding: a side
// that does not compile as its lines (sideError.Error, escaped), any other
// error escaped whole (printable.Escape), so that no name in it (a file's,
// an OpenAPI document's) can start a line of its own, such as a CI
// runner's "::error" command.
func errorText(err error) string {
	if se, ok := err.(*sideError); ok {
		return se.Error()
	}
	return printable.Escape(err.Error())
}
