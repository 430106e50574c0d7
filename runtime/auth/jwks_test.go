package auth

import "testing"

// TestSameKeys: two key lists are the same when they hold the same keys as
// many times each, in any order; a repeated key replaced in one copy is a
// change, so the new key is installed.
func TestSameKeys(t *testing.T) {
	t.Parallel()
	k := func(kid, alg, der string) *key { return &key{kid: kid, alg: alg, der: []byte(der)} }
	a, b, c := k("", "RS256", "A"), k("", "RS256", "B"), k("", "RS256", "C")
	tests := []struct {
		name string
		x, y []*key
		same bool
	}{
		{"both empty", nil, nil, true},
		{"same order", []*key{a, b}, []*key{a, b}, true},
		{"other order", []*key{a, b, c}, []*key{c, a, b}, true},
		{"equal copies", []*key{a, b}, []*key{k("", "RS256", "A"), k("", "RS256", "B")}, true},
		{"repeated key, same counts", []*key{a, a, b}, []*key{a, b, a}, true},
		{"one copy of a repeated key replaced", []*key{a, a}, []*key{a, b}, false},
		{"replaced the other way", []*key{a, b}, []*key{a, a}, false},
		{"counts differ", []*key{a, a, b}, []*key{a, b, b}, false},
		{"a key added", []*key{a}, []*key{a, b}, false},
		{"a key removed", []*key{a, b}, []*key{a}, false},
		{"kid differs", []*key{k("1", "RS256", "A")}, []*key{k("2", "RS256", "A")}, false},
		{"alg differs", []*key{k("1", "RS256", "A")}, []*key{k("1", "PS256", "A")}, false},
		{"material differs", []*key{k("1", "RS256", "A")}, []*key{k("1", "RS256", "B")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sameKeys(tc.x, tc.y); got != tc.same {
				t.Errorf("sameKeys = %v, want %v", got, tc.same)
			}
			if got := sameKeys(tc.y, tc.x); got != tc.same {
				t.Errorf("sameKeys, swapped = %v, want %v", got, tc.same)
			}
		})
	}
}
