package budget

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestMain runs the test binary as the child when Budget.Compile
// re-executes it with Command, as the cuegate binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Command {
		os.Exit(RunChild(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestCompileMatchesInProcess: the child's table, warnings and errors are
// what compiler.Compile gives in this process.
func TestCompileMatchesInProcess(t *testing.T) {
	t.Parallel()
	budget := Budget{Timeout: 20 * time.Second, Memory: DefaultMemory}
	bad := t.TempDir()
	testutil.WriteFile(t, filepath.Join(bad, "c.cue"), "package t\n\napis: x: listen_path: 7\n", 0o644)
	for _, dir := range []string{"../../examples/gluu", "../../examples/quickstart", bad, filepath.Join(bad, "missing")} {
		want, wantErr := compiler.Compile(dir)
		got, err := budget.Compile(context.Background(), dir)
		switch {
		case wantErr != nil:
			if err == nil || err.Error() != wantErr.Error() || errors.Is(err, table.ErrInvalid) != errors.Is(wantErr, table.ErrInvalid) {
				t.Errorf("%s: error %v, want %v", dir, err, wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", dir, err)
		case got.Hash != want.Hash || string(got.JSON()) != string(want.JSON()) || len(got.Warnings) != len(want.Warnings):
			t.Errorf("%s: the child's table differs from the in-process one", dir)
		}
	}
}

func TestByteSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want ByteSize
		text string
		bad  bool
	}{
		{in: "1GiB", want: 1 << 30, text: "1 GiB"},
		{in: "64 MiB", want: 64 << 20, text: "64 MiB"},
		{in: "1536MiB", want: 1536 << 20, text: "1536 MiB"},
		{in: "4096", want: 4096, text: "4 KiB"},
		{in: "1000B", want: 1000, text: "1000 B"},
		{in: "lots", bad: true},
		{in: "-1MiB", bad: true},
		{in: "1.5GiB", bad: true},
		{in: "99999999TiB", bad: true},
	} {
		var s ByteSize
		err := s.Set(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (s != tt.want || s.String() != tt.text)) {
			t.Errorf("Set(%q) = %d (%s), %v; want %d (%s), error %v", tt.in, s, s, err, tt.want, tt.text, tt.bad)
		}
	}
}

// TestCompileEndsWithItsContext: a compile whose context has ended gives
// up, with the context's error rather than a budget's.
func TestCompileEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Budget{Timeout: 20 * time.Second, Memory: DefaultMemory}.Compile(ctx, "../../examples/quickstart")
	var diags table.Diagnostics
	if !errors.Is(err, context.Canceled) || errors.As(err, &diags) {
		t.Errorf("Compile with its context ended: %v, want context.Canceled, no finding", err)
	}
}
