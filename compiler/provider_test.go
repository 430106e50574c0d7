package compiler

import (
	"slices"
	"testing"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"

	"github.com/cuegate/cuegate/compiler/table"
)

// TestSchemaProvidersAreRegistered checks that the schema's #Provider
// values and the provider registry name the same providers: a provider the
// schema accepts has a DCR driver and the compiler's warnings.
func TestSchemaProvidersAreRegistered(t *testing.T) {
	t.Parallel()
	file, _ := compileSchema(cuecontext.New())
	op, args := file.LookupPath(cue.MakePath(cue.Def("#Provider"))).Expr()
	if op != cue.OrOp {
		t.Fatalf("#Provider is %v, want a disjunction of names", op)
	}
	var names []string
	for _, a := range args {
		s, err := a.String()
		if err != nil {
			t.Fatalf("#Provider value %v: %v", a, err)
		}
		names = append(names, s)
	}
	slices.Sort(names)
	if want := table.ProviderNames(); !slices.Equal(names, want) {
		t.Errorf("schema #Provider is %q, registry has %q", names, want)
	}
}
