package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestMain lets the scripts in testdata/script run "cuegate" as a command:
// the test binary re-executes itself as cuegate.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"cuegate": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs every testdata/script/*.txtar through testscript. Each
// command's file may add its own scripts there. Condition [race] holds
// under the race detector.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script", Condition: func(cond string) (bool, error) {
		if cond == "race" {
			return testutil.RaceEnabled, nil
		}
		return false, fmt.Errorf("unknown condition %q", cond)
	}})
}
