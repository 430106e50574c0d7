package schema

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// generatedFile is where the go:generate directive writes the Go types.
const generatedFile = "cue_types_schema_gen.go"

// TestGeneratedTypesUpToDate regenerates the Go types with schema.go's
// generate directive and fails when they differ from the checked-in
// file, or when the directive runs another CUE version than the one the
// compiler links.
func TestGeneratedTypesUpToDate(t *testing.T) {
	t.Parallel()
	args := generateDirective(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	if args[0] != "go" || args[1] != "run" || !strings.HasPrefix(args[2], "cuelang.org/go/cmd/cue@") {
		t.Fatalf("go:generate directive %q: want go run cuelang.org/go/cmd/cue@VERSION ...", args)
	}
	out, err := exec.Command(goTool, "list", "-m", "-f", "{{.Version}}", "cuelang.org/go").Output()
	if err != nil {
		t.Fatalf("go list -m cuelang.org/go: %v", err)
	}
	if want := "cuelang.org/go/cmd/cue@" + strings.TrimSpace(string(out)); args[2] != want {
		t.Errorf("go:generate runs %s, but go.mod requires %s: make them agree and run go generate", args[2], want)
	}

	tmp := filepath.Join(t.TempDir(), generatedFile)
	cmd := exec.Command(goTool, append(args[1:], "--outfile", tmp)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
	}
	got := testutil.ReadFile(t, generatedFile)
	want := testutil.ReadFile(t, tmp)
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with cuegate.cue: run go generate ./schema", generatedFile)
	}
}

// generateDirective returns the words of schema.go's go:generate line.
func generateDirective(t *testing.T) []string {
	t.Helper()
	src := testutil.ReadFile(t, "schema.go")
	for line := range strings.Lines(string(src)) {
		if rest, ok := strings.CutPrefix(line, "//go:generate "); ok {
			return strings.Fields(rest)
		}
	}
	t.Fatal("schema.go has no go:generate directive")
	return nil
}
