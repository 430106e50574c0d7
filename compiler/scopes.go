package compiler

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
)

// scopeList checks a list of scopes (each an RFC 6749 scope-token) and
// returns it sorted, without repeats; nil stays nil.
func (c *compilation) scopeList(scopes []string, at fieldPath) []string {
	for i, s := range scopes {
		if !isScopeToken(s) {
			c.errorf(at.index(i), "scope %q is not a scope token: it is one or more visible ASCII characters but space, \" and \\", s)
		}
	}
	return sortedUnique(scopes)
}

// isScopeToken reports whether s is an RFC 6749 scope-token: one or more
// of %x21 / %x23-5B / %x5D-7E.
func isScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// claimMatches compiles an API's claims: claim path: a value or a list
// of values, one of which the claim must equal or hold.
func (c *compilation) claimMatches(claims map[string]any, at fieldPath) []table.ClaimMatch {
	if len(claims) == 0 {
		return nil
	}
	out := make([]table.ClaimMatch, 0, len(claims))
	for _, name := range sortedKeys(claims) {
		q := at.key(name)
		c.checkClaimPath(name, q)
		var values []string
		switch v := claims[name].(type) {
		case string:
			values = []string{v}
		case []any:
			for _, e := range v {
				values = append(values, fmt.Sprint(e)) // the schema let strings only through
			}
		}
		if len(values) == 0 {
			c.errorf(q, "claim %q has no value to match: no token could pass", name)
		}
		sort.Strings(values)
		out = append(out, table.ClaimMatch{Claim: name, Values: slices.Compact(values)})
	}
	return out
}

// checkClaimPath checks a claim name or dotted path: no empty segment.
func (c *compilation) checkClaimPath(path string, at fieldPath) {
	if slices.Contains(strings.Split(path, "."), "") {
		c.errorf(at, "claim path %q has an empty segment: want a claim name, or names joined by \".\" for a nested claim", path)
	}
}
