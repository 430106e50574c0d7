package ascii

import "testing"

func TestAlnumAnd(t *testing.T) {
	t.Parallel()
	set := AlnumAnd("-._~")
	for c := range 128 {
		want := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if set[c] != want {
			t.Errorf("%q: %v, want %v", rune(c), set[c], want)
		}
	}
}
