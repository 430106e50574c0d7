package table_test

import (
	"os/exec"
	"strings"
	"testing"
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
