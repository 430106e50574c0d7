package main

import (
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
)

func TestGithubAnnotation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		d        table.Diagnostic
		severity string
		want     string
	}{
		{table.Diagnostic{File: "cfg/a.cue", Line: 3, Column: 7, Message: "x: bad"}, "error", "::error file=cfg/a.cue,line=3,col=7::x: bad"},
		{table.Diagnostic{File: "a,b:c%d.cue", Line: 1, Column: 1, Message: "m"}, "warning", "::warning file=a%2Cb%3Ac%25d.cue,line=1,col=1::m"},
		{table.Diagnostic{File: "a.cue", Line: 1, Column: 1, Message: "100% sure\r\nsecond line, with: colon"}, "error",
			"::error file=a.cue,line=1,col=1::100%25 sure%0D%0Asecond line, with: colon"},
		{table.Diagnostic{Message: "no position\n::error::injected"}, "error", "::error::no position%0A::error::injected"},
	}
	for _, c := range cases {
		if got := githubAnnotation(c.d, c.severity); got != c.want {
			t.Errorf("githubAnnotation(%+v) = %q, want %q", c.d, got, c.want)
		}
	}
}
