package compiler_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestResultRoundTrip: what UnmarshalResult reads back from MarshalResult
// is what Compile returned, for every golden configuration and example:
// the table (with its hash, routes and warnings), or the diagnostics with
// their positions, or the text of an I/O error.
func TestResultRoundTrip(t *testing.T) {
	t.Parallel()
	dirs := testutil.Glob(t, "../examples/*")
	for _, name := range testutil.Glob(t, "testdata/*.txtar") {
		_, dir := extractArchive(t, name)
		dirs = append(dirs, dir)
	}
	dirs = append(dirs, filepath.Join(t.TempDir(), "missing"))
	for _, dir := range dirs {
		t.Run(strings.ReplaceAll(dir, string(filepath.Separator), "_"), func(t *testing.T) {
			want, wantErr := compiler.Compile(dir)
			got, err := compiler.UnmarshalResult(compiler.MarshalResult(want, wantErr))
			var wantDiags, gotDiags table.Diagnostics
			switch {
			case errors.As(wantErr, &wantDiags):
				if !errors.As(err, &gotDiags) || !reflect.DeepEqual(gotDiags, wantDiags) {
					t.Errorf("diagnostics %#v, want %#v", err, wantDiags)
				}
			case wantErr != nil:
				if err == nil || err.Error() != wantErr.Error() || errors.Is(err, table.ErrInvalid) {
					t.Errorf("error %v, want %v", err, wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(got, want):
				t.Errorf("table read back differs:\n%s\nwant:\n%s", got.JSON(), want.JSON())
			}
		})
	}
}

func TestUnmarshalResultRefusesGarbage(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "{", "{}", `{"table": {}, "hash": "00"}`} {
		if _, err := compiler.UnmarshalResult([]byte(in)); err == nil || errors.Is(err, table.ErrInvalid) {
			t.Errorf("UnmarshalResult(%q) = %v, want an error that is not a finding", in, err)
		}
	}
}
