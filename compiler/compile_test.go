package compiler_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/cuegate/cuegate/compiler"
)

// TestExamples compiles every example and checks that compiling twice gives
// the same bytes.
func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob("../examples/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			a, err := compiler.Compile(dir)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			b, err := compiler.Compile(dir)
			if err != nil {
				t.Fatalf("compile again: %v", err)
			}
			if !bytes.Equal(a.JSON(), b.JSON()) || a.Hash != b.Hash {
				t.Fatalf("two compiles of %s differ", dir)
			}
		})
	}
}
