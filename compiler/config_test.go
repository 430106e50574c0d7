package compiler_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// writeFiles writes files (slash-separated name → content) into a new
// directory, making the directories a name has, and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, path, data, 0o644)
	}
	return dir
}

// compileSource compiles a configuration of the one file src.
func compileSource(t *testing.T, src string) (*table.Table, error) {
	t.Helper()
	return compiler.Compile(writeFiles(t, map[string]string{"cfg.cue": src}))
}

// mustCompile is compileSource for a configuration that must compile.
func mustCompile(t *testing.T, src string) *table.Table {
	t.Helper()
	tab, err := compileSource(t, src)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}
