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

func TestAll(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"X-Request-Id", true},
		{"", false},
		{"X_Id", false},
		{"X.Id", false},
		{"X+Id", false},
		{"X~Id", false},
		{"X Id", false},
		{"X-\xc3\xa9", false},
	} {
		if got := All(tt.s, &FieldName); got != tt.want {
			t.Errorf("All(%q): %v, want %v", tt.s, got, tt.want)
		}
		if got := All([]byte(tt.s), &FieldName); got != tt.want {
			t.Errorf("All([]byte(%q)): %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s, sub string
		want   bool
	}{
		{"=cuegate_session=x", "cuegate_", true},
		{"CueGate_Session=x", "cuegate_", true},
		{"cuegate=x", "cuegate_", false},
		{"", "cuegate_", false},
		{"x", "", true},
	} {
		if got := ContainsFold([]byte(tt.s), []byte(tt.sub)); got != tt.want {
			t.Errorf("ContainsFold(%q, %q) = %v, want %v", tt.s, tt.sub, got, tt.want)
		}
	}
}

func TestEqualFold(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"Cookie", "cOOKIE", true},
		{"Cookie", "Cookies", false},
		{"Coo\u212aie", "Cookie", false}, // the Kelvin sign folds to k in Unicode only
		{"x-1_", "X-1_", true},
		{"", "", true},
	} {
		if got := EqualFold([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
