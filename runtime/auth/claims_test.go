package auth

import (
	"slices"
	"strings"
	"testing"
)

func TestPackNestedAndScopes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		claims map[string]any
		path   string
		want   []string // the strings of path
		scopes []string
	}{
		{"nested list", map[string]any{"realm_access": map[string]any{"roles": []any{"admin", 7, "user"}}}, "realm_access.roles", []string{"admin", "user"}, nil},
		{"deeper", map[string]any{"a": map[string]any{"b": map[string]any{"c": "x"}}}, "a.b.c", []string{"x"}, nil},
		{"object itself is no string", map[string]any{"a": map[string]any{"b": "x"}}, "a", nil, nil},
		{"literal dotted name and nested claim: ambiguous", map[string]any{"a.b": "top", "a": map[string]any{"b": "nested"}}, "a.b", nil, nil},
		{"ambiguous whatever the other's type", map[string]any{"a.b": "top", "a": map[string]any{"b": 7}}, "a.b", nil, nil},
		{"ambiguous at equal depth", map[string]any{"a": map[string]any{"b.c": "x", "b": map[string]any{"c": []any{"y"}}}}, "a.b.c", nil, nil},
		{"one ambiguous path leaves the others", map[string]any{"scope": "read", "scp": []any{"write"}, "x": map[string]any{"y": "1"}, "x.y": "2"}, "scope", []string{"read"}, []string{"read", "write"}},
		{"scope string", map[string]any{"scope": "read  write read"}, "scope", []string{"read  write read"}, []string{"read", "write"}},
		{"scp list", map[string]any{"scp": []any{"b", "a"}}, "scp", []string{"b", "a"}, []string{"a", "b"}},
		{"scp string", map[string]any{"scp": "User.Read Mail.Send"}, "scp", []string{"User.Read Mail.Send"}, []string{"Mail.Send", "User.Read"}},
		{"both", map[string]any{"scope": "x y", "scp": []any{"y", "z w"}}, "scope", []string{"x y"}, []string{"w", "x", "y", "z"}},
		{"nested scope is not the scope", map[string]any{"o": map[string]any{"scope": "x"}}, "o.scope", []string{"x"}, nil},
		{"too deep", map[string]any{"1": map[string]any{"2": map[string]any{"3": map[string]any{"4": map[string]any{"5": map[string]any{"6": map[string]any{"7": map[string]any{"8": map[string]any{"9": "x"}}}}}}}}}, "1.2.3.4.5.6.7.8.9", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			blob, idx, scopes, _ := pack(tt.claims)
			c := &Claims{blob: blob, idx: idx, scopes: scopes}
			var got []string
			c.EachString(tt.path, func(s string) bool { got = append(got, s); return true })
			if !slices.Equal(got, tt.want) {
				t.Errorf("EachString(%s) = %q, want %q", tt.path, got, tt.want)
			}
			if !slices.Equal(scopes, tt.scopes) {
				t.Errorf("scopes = %q, want %q", scopes, tt.scopes)
			}
			for _, s := range tt.scopes {
				if !c.HasScope(s) {
					t.Errorf("HasScope(%q) = false", s)
				}
			}
			if c.HasScope("") || c.HasScope("absent") {
				t.Error("HasScope of an absent scope")
			}
		})
	}
}

// FuzzScopes holds appendScopes to its contract: the scopes are the
// non-empty space-free pieces of the list, in order, and joined by
// spaces they are the list with its runs of spaces collapsed.
func FuzzScopes(f *testing.F) {
	for _, s := range []string{"", " ", "read", "read write", "  a  b  ", "a\tb", "a,b c", "\x00 \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		got := appendScopes(nil, list)
		for _, s := range got {
			if s == "" || strings.Contains(s, " ") {
				t.Fatalf("scope %q of %q", s, list)
			}
		}
		if want := strings.Join(strings.FieldsFunc(list, func(r rune) bool { return r == ' ' }), " "); strings.Join(got, " ") != want {
			t.Fatalf("appendScopes(%q) = %q", list, got)
		}
	})
}

func TestIsList(t *testing.T) {
	t.Parallel()
	blob, idx, _, _ := pack(map[string]any{"s": "x", "l": []any{"x"}, "e": []any{}, "o": map[string]any{"l": []any{"y"}}})
	c := &Claims{blob: blob, idx: idx}
	for name, want := range map[string]bool{"s": false, "l": true, "e": true, "o.l": true, "o": false, "absent": false} {
		if got := c.IsList(name); got != want {
			t.Errorf("IsList(%q) = %v, want %v", name, got, want)
		}
	}
}
