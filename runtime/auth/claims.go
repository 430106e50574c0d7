package auth

import (
	"maps"
	"math"
	"slices"
	"strings"
)

// maxClaimDepth is how deep pack looks into nested objects: a claim at
// "a.b.c" is three deep.
const maxClaimDepth = 8

// pack lays out the string and string-list claims of m as blob and idx
// (see Claims), those of nested objects under their dotted path
// ("realm_access.roles"), and returns the token's scopes (tokenScopes).
// A path that more than one claim has, of any type (a literal top-level
// "a.b" and "b" nested in "a"), is ambiguous: neither is laid out, so
// the claim matches nothing and sets no header. ok is false when the
// claims take more than 2^16 − 1 bytes or a list has more elements,
// which a token of at most MaxTokenBytes cannot hold (its decoded payload
// is under 6 KiB, a string at most triples when invalid UTF-8 becomes
// U+FFFD, and a nested path repeats at most maxClaimDepth names).
func pack(m map[string]any) (blob string, idx []uint16, scopes []string, ok bool) {
	type claim struct {
		path string
		v    any // string or []any
	}
	var claims []claim
	paths := map[string]int{}
	type object struct {
		prefix string
		m      map[string]any
	}
	level := []object{{"", m}}
	for depth := 1; depth <= maxClaimDepth && len(level) > 0; depth++ {
		var next []object
		for _, o := range level {
			for _, k := range slices.Sorted(maps.Keys(o.m)) {
				path := o.prefix + k
				paths[path]++
				switch v := o.m[k].(type) {
				case string, []any:
					claims = append(claims, claim{path, v})
				case map[string]any:
					next = append(next, object{path + ".", v})
				}
			}
		}
		level = next
	}
	var b []byte
	add := func(s string) {
		idx = append(idx, uint16(len(b)), uint16(len(b)+len(s)))
		b = append(b, s...)
	}
	for _, c := range claims {
		if paths[c.path] > 1 {
			continue
		}
		add(c.path)
		switch v := c.v.(type) {
		case string:
			idx = append(idx, 0, 1)
			add(v)
		case []any:
			at := len(idx)
			idx = append(idx, 1, 0)
			for _, e := range v {
				if s, isString := e.(string); isString {
					if idx[at+1] == math.MaxUint16 {
						return "", nil, nil, false
					}
					add(s)
					idx[at+1]++
				}
			}
		}
		if len(b) > math.MaxUint16 {
			return "", nil, nil, false
		}
	}
	blob = string(b)
	idx = slices.Clone(idx)
	return blob, idx, tokenScopes(blob, idx), true
}

// tokenScopes returns the scopes of packed claims, sorted and without
// repeats: those of "scope" (RFC 9068, a space-separated string) and of
// "scp" (a list, as Okta sends it, or such a string, as Azure does). A
// list element is split on spaces too. The strings are substrings of
// blob.
func tokenScopes(blob string, idx []uint16) []string {
	c := Claims{blob: blob, idx: idx}
	var out []string
	for _, name := range [...]string{"scope", "scp"} {
		c.EachString(name, func(v string) bool {
			out = appendScopes(out, v)
			return true
		})
	}
	slices.Sort(out)
	return slices.Clone(slices.Compact(out)) // exactly sized: the cache accounts for its capacity
}

// appendScopes appends the scopes of a space-separated list to dst: the
// non-empty strings between spaces.
func appendScopes(dst []string, list string) []string {
	for s := range strings.SplitSeq(list, " ") {
		if s != "" {
			dst = append(dst, s)
		}
	}
	return dst
}

// HasScope reports whether the token carries scope s (in scope or scp).
// It does not allocate.
func (c *Claims) HasScope(s string) bool {
	_, ok := slices.BinarySearch(c.scopes, s)
	return ok
}

// IsList reports whether the claim name is a list (its strings are what
// EachString gives). It does not allocate.
func (c *Claims) IsList(name string) bool {
	i := c.find(name)
	return i >= 0 && c.idx[i+2] == 1
}
