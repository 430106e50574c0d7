package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/budget"
)

func init() {
	register(command{"compile", "check or compile a configuration directory", runCompile})
}

// runCompile is "cuegate compile [--check] [--strict] [--format
// text|json|github] [-o FILE] [--compile-timeout D] [--compile-memory
// SIZE] DIR". Flags may come before or after DIR.
//
// It compiles the .cue files of DIR (one package) and reports its
// findings (see printDiagnostics for the formats): text on stderr; json
// and github on stdout, for a tool to read, unless the table goes there
// (neither --check nor -o), when they go to stderr too.
//
// A configuration with errors reports only its errors (warnings need a
// valid configuration). Without --check the compiled table is written to
// stdout, or to FILE with -o, as canonical JSON: object keys sorted, two
// spaces of indent, a final newline, so the same configuration always
// gives the same bytes; secrets appear as references ({"env": "NAME"} or
// {"file": "PATH"}), never as values.
//
// Exit status: 0 valid (warnings allowed unless --strict), 1 errors (or
// warnings with --strict), 2 usage or I/O error (a missing directory, one
// without .cue files, an unwritable -o FILE).
//
// The configuration is evaluated in a child process within a budget of
// time and memory (--compile-timeout, --compile-memory; see
// budget.Budget): a compile over it is an error at the configuration's
// first file, exit 1. Unless GOMEMLIMIT is set, the child keeps a soft
// memory limit of 240 MiB (or the budget, when lower; see
// budget.RunChild).
func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("compile", "usage: cuegate compile [--check] [--strict] [--format text|json|github] [-o FILE] [--compile-timeout D] [--compile-memory SIZE] DIR", stderr)
	check := fs.Bool("check", false, "only check the configuration; print nothing on success")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	format := fs.String("format", "text", "diagnostics format: text, json or github")
	out := fs.String("o", "", "write the compiled table to this file instead of stdout")
	var b budget.Budget
	b.Flags(fs)
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return parseExit(err)
	}
	if len(dirs) != 1 || !validDiagFormat(*format) || (*check && *out != "") {
		fs.Usage()
		return exitUsage
	}
	if !budgetValid("compile", b, stderr) {
		return exitUsage
	}
	diagOut := stderr
	if *format != "text" && (*check || *out != "") {
		diagOut = stdout
	}
	t, err := b.Compile(context.Background(), dirs[0])
	var diags table.Diagnostics
	switch {
	case errors.As(err, &diags):
		printDiagnostics(diagOut, *format, diags, "error")
		return exitInvalid
	case err != nil:
		printError(stderr, "cuegate:", err)
		return exitUsage
	}
	printDiagnostics(diagOut, *format, t.Warnings, "warning")
	if *strict && len(t.Warnings) > 0 {
		return exitInvalid
	}
	switch {
	case *check:
	case *out == "":
		_, err = stdout.Write(t.JSON())
	default:
		err = os.WriteFile(*out, t.JSON(), 0o644)
	}
	if err != nil {
		printError(stderr, "cuegate:", err)
		return exitUsage
	}
	return exitOK
}

// validDiagFormat reports whether printDiagnostics knows format.
func validDiagFormat(format string) bool {
	return format == "text" || format == "json" || format == "github"
}

// printDiagnostics writes ds, all of one severity ("error" or
// "warning"), in format:
//
//   - text: every error as "file:line:col: message", one a line, sorted
//     by file and position; every warning as "warning: file:line:col:
//     message". File names are DIR joined with the file's base name, as
//     DIR was given.
//   - json: one JSON array of {"file", "line", "column", "message",
//     "severity"} objects; [] when there is nothing to report.
//   - github: GitHub Actions workflow commands, one a line:
//     "::error file=F,line=L,col=C::message" (or ::warning), which a
//     workflow shows as annotations on the lines of a pull request.
func printDiagnostics(w io.Writer, format string, ds table.Diagnostics, severity string) {
	switch format {
	case "json":
		type jsonDiag struct {
			table.Diagnostic
			Severity string `json:"severity"`
		}
		out := make([]jsonDiag, len(ds))
		for i, d := range ds {
			out[i] = jsonDiag{d, severity}
		}
		b, _ := json.MarshalIndent(out, "", "  ") // plain data: cannot fail
		fmt.Fprintf(w, "%s\n", b)
	case "github":
		for _, d := range ds {
			fmt.Fprintln(w, githubAnnotation(d, severity))
		}
	default:
		for _, d := range ds {
			if severity == "warning" {
				fmt.Fprintln(w, "warning:", d)
			} else {
				fmt.Fprintln(w, d)
			}
		}
	}
}

// githubAnnotation is d as a GitHub Actions workflow command, escaped as
// the runner unescapes it: % CR LF in the message; those and : , in a
// property value.
func githubAnnotation(d table.Diagnostic, severity string) string {
	msg := ghData.Replace(d.Message)
	if d.File == "" {
		return "::" + severity + "::" + msg
	}
	return fmt.Sprintf("::%s file=%s,line=%d,col=%d::%s", severity, ghProperty.Replace(d.File), d.Line, d.Column, msg)
}

var (
	ghData     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	ghProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)
