package table

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cuegate/cuegate/internal/printable"
)

// ErrInvalid is wrapped by every error Compile returns for a configuration
// that is wrong (as opposed to one that cannot be read).
var ErrInvalid = errors.New("compiler: invalid configuration")

// Diagnostic is one finding with the position of the offending field in the
// user's file. File is empty when no position exists.
type Diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

var (
	_ fmt.Stringer                = Diagnostic{}
	_ error                       = Diagnostics(nil)
	_ interface{ Is(error) bool } = Diagnostics(nil) // for errors.Is
)

// String formats d as file:line:col: message, one line: a character of
// the file name or the message that a terminal would not show as itself
// (a line break that would start a line of its own, such as a CI
// runner's "::error" command) is escaped (printable.Escape).
func (d Diagnostic) String() string {
	if d.File == "" {
		return printable.Escape(d.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", printable.Escape(d.File), d.Line, d.Column, printable.Escape(d.Message))
}

// Diagnostics is a sorted list of findings. As an error it is every
// finding, one a line.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Is lets errors.Is(err, ErrInvalid) hold for Diagnostics.
func (ds Diagnostics) Is(target error) bool { return target == ErrInvalid }

// Sorted orders ds by file, line, column and message and drops duplicates.
func (ds Diagnostics) Sorted() Diagnostics {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Message < b.Message
	})
	out := ds[:0]
	for i, d := range ds {
		if i > 0 && d == ds[i-1] {
			continue
		}
		out = append(out, d)
	}
	return out
}
