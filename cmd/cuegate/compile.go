package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cuegate/cuegate/compiler"
)

func init() {
	register(command{"compile", "check or compile a configuration directory", runCompile})
}

func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	check := fs.Bool("check", false, "only check the configuration; print nothing on success")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	format := fs.String("format", "text", "diagnostics format: text or json")
	out := fs.String("o", "", "write the compiled table to this file instead of stdout")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cuegate compile [--check] [--strict] [--format text|json] [-o FILE] DIR")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 || (*format != "text" && *format != "json") {
		fs.Usage()
		return exitUsage
	}
	t, err := compiler.Compile(fs.Arg(0))
	var diags compiler.Diagnostics
	switch {
	case errors.As(err, &diags):
		printDiagnostics(stderr, *format, diags, "error")
		return exitInvalid
	case err != nil:
		fmt.Fprintln(stderr, "cuegate:", err)
		return exitUsage
	}
	printDiagnostics(stderr, *format, t.Warnings, "warning")
	if *strict && len(t.Warnings) > 0 {
		return exitInvalid
	}
	if *check {
		return exitOK
	}
	if *out == "" {
		stdout.Write(t.JSON())
		return exitOK
	}
	if err := os.WriteFile(*out, t.JSON(), 0o644); err != nil {
		fmt.Fprintln(stderr, "cuegate:", err)
		return exitUsage
	}
	return exitOK
}

// printDiagnostics writes ds as text lines or as one JSON array of
// {file, line, column, message, severity} objects.
func printDiagnostics(w io.Writer, format string, ds compiler.Diagnostics, severity string) {
	if len(ds) == 0 {
		return
	}
	if format == "json" {
		type jsonDiag struct {
			compiler.Diagnostic
			Severity string `json:"severity"`
		}
		out := make([]jsonDiag, len(ds))
		for i, d := range ds {
			out[i] = jsonDiag{d, severity}
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	for _, d := range ds {
		if severity == "warning" {
			fmt.Fprintln(w, "warning:", d)
		} else {
			fmt.Fprintln(w, d)
		}
	}
}
