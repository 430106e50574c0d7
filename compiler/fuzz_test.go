package compiler_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
)

// fuzzMaxInput caps a fuzzed configuration: enough for every construct
// of the schema, small enough that most inputs evaluate in milliseconds.
// (An input can still make CUE evaluate without bound; serve and compile
// run Compile under a budget for that, this target in-process.)
const fuzzMaxInput = 4 << 10

// fuzzTimeBudget is how long an input may take before the target reports
// it: far over what any input of fuzzMaxInput that is not a runaway
// takes, so that a runaway is found and kept rather than hanging the
// fuzzer (which has no time limit of its own).
const fuzzTimeBudget = 10 * time.Second

// FuzzCompile compiles one file of arbitrary CUE: Compile never panics,
// and returns either a table, which survives MarshalResult, or
// Diagnostics, each with a file, line and column.
func FuzzCompile(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > fuzzMaxInput {
			t.Skip()
		}
		dir := writeFiles(t, map[string]string{"c.cue": string(src)})
		type outcome struct {
			tab *table.Table
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			tab, err := compiler.Compile(dir)
			done <- outcome{tab, err}
		}()
		var tab *table.Table
		var err error
		select {
		case o := <-done:
			tab, err = o.tab, o.err
		case <-time.After(fuzzTimeBudget):
			t.Fatalf("evaluation took over %s: an input the compile budget must stop", fuzzTimeBudget)
		}
		var diags table.Diagnostics
		switch {
		case errors.As(err, &diags):
			if len(diags) == 0 {
				t.Fatal("empty Diagnostics")
			}
			checkPositions(t, diags)
		case err != nil:
			t.Fatalf("not a finding: %v", err)
		default:
			checkPositions(t, tab.Warnings)
			back, err := compiler.UnmarshalResult(compiler.MarshalResult(tab, nil))
			if err != nil || back.Hash != tab.Hash {
				t.Fatalf("table does not survive encoding: %v", err)
			}
		}
	})
}

func checkPositions(t *testing.T, ds table.Diagnostics) {
	t.Helper()
	for _, d := range ds {
		if d.File == "" || d.Line < 1 || d.Column < 1 || d.Message == "" {
			t.Fatalf("finding without a position or message: %#v", d)
		}
	}
}
