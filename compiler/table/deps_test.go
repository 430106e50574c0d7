package table_test

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestServingNeedsNoCUE: the model, the runtime and the portal link no
// CUE. Only the compiler evaluates configuration; whatever serves a table
// gets it compiled.
func TestServingNeedsNoCUE(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to list dependencies with")
	}
	pkgs := []string{
		"github.com/cuegate/cuegate/compiler/table",
		"github.com/cuegate/cuegate/runtime/...",
		"github.com/cuegate/cuegate/portal/...",
	}
	out, err := exec.Command(goBin, append([]string{"list", "-deps"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "cuelang.org/") || dep == "github.com/cuegate/cuegate/compiler" {
			t.Errorf("%s links %s: import compiler/table, not the compiler", strings.Join(pkgs, " "), dep)
		}
	}
}

// TestImportsAsArchitectureSays: every package of the module has a row in
// ARCHITECTURE.md's package table, and the cuegate packages it imports
// (tests aside) are exactly those its row lists, so that the table a
// newcomer reads first is the code's.
func TestImportsAsArchitectureSays(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to list imports with")
	}
	doc := testutil.ReadFile(t, "../../ARCHITECTURE.md")
	said := architectureImports(t, string(doc))
	out, err := exec.Command(goBin, "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	listed := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		pkg, _ := strings.CutPrefix(fields[0], module+"/")
		listed[pkg] = true
		want, ok := said[pkg]
		if !ok {
			t.Errorf("%s has no row in ARCHITECTURE.md's package table", pkg)
			continue
		}
		var got []string
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok {
				got = append(got, rel)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s imports %v; ARCHITECTURE.md says %v", pkg, got, want)
		}
	}
	for pkg := range said {
		if !listed[pkg] {
			t.Errorf("ARCHITECTURE.md has a row for %s, which is no package of the module", pkg)
		}
	}
}

const module = "github.com/cuegate/cuegate"

// architectureImports reads the package table of ARCHITECTURE.md: rows
// "| `pkg`[, `pkg`] | concern | `imp`, `dir/{a,b}`, ... |" ("—" for
// none; `table` is compiler/table), and returns each package's imports,
// sorted.
func architectureImports(t *testing.T, doc string) map[string][]string {
	t.Helper()
	quoted := regexp.MustCompile("`([^`]+)`")
	said := map[string][]string{}
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cols) != 3 {
			t.Fatalf("ARCHITECTURE.md: a package row without its three columns: %s", line)
		}
		var imports []string
		for _, m := range quoted.FindAllStringSubmatch(cols[2], -1) {
			imports = append(imports, expandBraces(m[1])...)
		}
		for i, imp := range imports {
			if imp == "table" {
				imports[i] = "compiler/table"
			}
		}
		slices.Sort(imports)
		for _, m := range quoted.FindAllStringSubmatch(cols[0], -1) {
			if _, twice := said[m[1]]; twice {
				t.Errorf("ARCHITECTURE.md has two rows for %s", m[1])
			}
			said[m[1]] = imports
		}
	}
	return said
}

// expandBraces expands "dir/{a,b}" to "dir/a" and "dir/b".
func expandBraces(s string) []string {
	prefix, rest, ok := strings.Cut(s, "{")
	if !ok {
		return []string{s}
	}
	var out []string
	for name := range strings.SplitSeq(strings.TrimSuffix(rest, "}"), ",") {
		out = append(out, prefix+name)
	}
	return out
}
