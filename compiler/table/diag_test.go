package table

import "testing"

func TestDiagnosticString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{Message: "no position"}, "no position"},
		{Diagnostic{File: "cfg/a.cue", Line: 3, Column: 2, Message: "m"}, "cfg/a.cue:3:2: m"},
		// A name or message that would start a line of its own (a CI
		// runner's command) is escaped.
		{Diagnostic{File: "cfg/z\n::error title=x::approved.cue", Line: 1, Column: 1, Message: "m"}, `cfg/z\n::error title=x::approved.cue:1:1: m`},
		{Diagnostic{File: "cfg/a.cue", Line: 1, Column: 1, Message: "OpenAPI document m\n::error::x.yaml: no such file"}, `cfg/a.cue:1:1: OpenAPI document m\n::error::x.yaml: no such file`},
		{Diagnostic{File: "cfg/é.cue", Line: 1, Column: 1, Message: "m"}, "cfg/é.cue:1:1: m"},
	} {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}
