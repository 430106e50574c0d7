package compiler_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the want section of the golden files in testdata")

// TestGolden compiles each testdata/*.txtar archive: every file in it but
// "want" is written to a directory of its own, and what Compile reports
// (its errors, or its warnings prefixed "warning: ", or "ok") must equal
// the "want" file. File names are reported relative to that directory.
// Run with -update to rewrite the want files from what Compile reports.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, name := range testutil.Glob(t, "testdata/*.txtar") {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
			ar, dir := extractArchive(t, name)
			testutil.CheckWant(t, name, ar, report(dir), "Compile reports", *update)
		})
	}
}

// extractArchive parses the txtar archive name and writes every file in
// it but "want" to a new directory, which it returns.
func extractArchive(t *testing.T, name string) (*txtar.Archive, string) {
	t.Helper()
	ar, err := txtar.ParseFile(name)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]string, len(ar.Files))
	for _, f := range ar.Files {
		if f.Name != "want" {
			files[f.Name] = string(f.Data)
		}
	}
	return ar, writeFiles(t, files)
}

// report is what Compile says about dir, one finding a line.
func report(dir string) string {
	var b bytes.Buffer
	t, err := compiler.Compile(dir)
	switch {
	case err != nil:
		b.WriteString(err.Error())
		b.WriteByte('\n')
	case len(t.Warnings) == 0:
		b.WriteString("ok\n")
	default:
		for _, w := range t.Warnings {
			b.WriteString("warning: " + w.String() + "\n")
		}
	}
	return strings.ReplaceAll(b.String(), dir+string(filepath.Separator), "")
}

// TestSecretsNeverShown: of the golden configurations with literals at
// #Secret positions, no finding shows a literal, as text or as JSON.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"testdata/secrets_literal.txtar", "testdata/secrets_and_dcr.txtar"} {
		_, dir := extractArchive(t, name)
		_, err := compiler.Compile(dir)
		if err == nil {
			t.Fatalf("%s compiles", name)
		}
		js, jerr := json.Marshal(err)
		if jerr != nil {
			t.Fatal(jerr)
		}
		for _, out := range []string{err.Error(), string(js)} {
			for _, secret := range []string{"SUPERSECRET", "s3cr3t", "1234567890123"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s: the findings show %q:\n%s", name, secret, out)
				}
			}
		}
	}
}
