package printable

import (
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string
	}{
		{"My app", ""},
		{"Ünï アプリ🚀", ""},
		{"tab\there", "contains the control character U+0009 at byte 3"},
		{"nul\x00", "contains the control character U+0000 at byte 3: only printable text is allowed"},
		{"esc\x1b[31mred", "contains the control character U+001B at byte 3"},
		{"line\r\nbreak", "contains the control character U+000D at byte 4"},
		{"del\x7f", "contains the control character U+007F at byte 3"},
		{"c1\u0085", "contains the control character U+0085 at byte 2"},
		{"csi\u009b", "contains the control character U+009B at byte 3"},
		{"bidi\u202egpj.exe", "contains the control character U+202E at byte 4"},
		{"isolate\u2066x", "contains the control character U+2066 at byte 7"},
		{"mark\u200f", "contains the control character U+200F at byte 4"},
		{"arabic mark\u061c", "contains the control character U+061C at byte 11"},
		{"line sep\u2028", "contains the control character U+2028 at byte 8"},
		{"para sep\u2029", "contains the control character U+2029 at byte 8"},
		{"zero\u200bwidth", "contains the invisible character U+200B at byte 4: only printable text is allowed"},
		{"zw\u200cnj", "contains the invisible character U+200C at byte 2"},
		{"zw\u200dj", "contains the invisible character U+200D at byte 2"},
		{"\ufeffbom", "contains the invisible character U+FEFF at byte 0"},
		{"word\u2060joiner", "contains the invisible character U+2060 at byte 4"},
		{"invisible\u2064plus", "contains the invisible character U+2064 at byte 9"},
		{"soft\u00adhyphen", "contains the invisible character U+00AD at byte 4"},
		{"tag\U000e0041", "contains the invisible character U+E0041 at byte 3"},
		{"tag\U000e0001", "contains the invisible character U+E0001 at byte 3"},
		{"tag\U000e007f", "contains the invisible character U+E007F at byte 3"},
		{"tag\U000e0000", "contains the invisible character U+E0000 at byte 3"},
		{"tag\U000e0002", "contains the invisible character U+E0002 at byte 3"},
		{"filler\u3164", "contains the invisible character U+3164 at byte 6"},
		{"filler\uffa0", "contains the invisible character U+FFA0 at byte 6"},
		{"grapheme\u034fjoiner", "contains the invisible character U+034F at byte 8"},
		{"mongolian\u180e", "contains the invisible character U+180E at byte 9"},
		{"selector\ufe0f", "contains the invisible character U+FE0F at byte 8"},
		{"selector\U000e0100", "contains the invisible character U+E0100 at byte 8"},
		{"interlinear\ufff9", "contains the invisible character U+FFF9 at byte 11"},
		{"cafe\u0301", ""}, // a combining accent shows on its letter
		{"a\u00a0b", ""},   // a no-break space shows as a space
		{"bad \xff utf-8", "is not valid UTF-8"},
		{strings.Repeat("x", 21), "is longer than 20 bytes"},
	} {
		if got := Problem(tt.in, 20); !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
			t.Errorf("Problem(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscape(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"dev@example.com", "dev@example.com"},
		{"Ünï アプリ 🚀 \uFFFD", "Ünï アプリ 🚀 \uFFFD"},
		{"a\x1b[2Jb", `a\x1b[2Jb`},
		{"line\r\nrevoked client x", `line\r\nrevoked client x`},
		{"tab\tnul\x00del\x7f", `tab\tnul\x00del\x7f`},
		{"c1\u0085\u009b", `c1\u0085\u009b`},
		{"bidi\u202egpj.exe\u2066", `bidi\u202egpj.exe\u2066`},
		{"bad\xffbyte", `bad\xffbyte`},
	} {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
