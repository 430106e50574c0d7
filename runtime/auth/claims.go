package auth

import (
	"bytes"
	"math"
	"slices"
	"strings"

	"github.com/valyala/fastjson"
)

// maxClaimDepth is how deep pack looks into nested objects: a claim at
// "a.b.c" is three deep.
const maxClaimDepth = 8

// packer lays out claims (see pack). Its fields are scratch space, reused
// from one token to the next; a packer is used by one goroutine at a time.
type packer struct {
	members   []member // in the order pack lays them out
	paths     []byte   // the members' paths, one after the other
	order     []int    // indexes of members, sorted by path
	ambiguous []bool   // per member
	blob      []byte
	idx       []uint16
}

// member is one claim pack walks, of any type, nested or not.
type member struct {
	path [2]int // of packer.paths
	v    *fastjson.Value
}

// pack lays out the string and string-list claims of o as blob and idx
// (see Claims), those of nested objects under their dotted path
// ("realm_access.roles"). Members are laid out level by level, each object's sorted by name. A
// path that more than one claim has, of any type (a literal top-level
// "a.b" and "b" nested in "a"), is ambiguous: neither is laid out, so
// the claim matches nothing and sets no header. Strings read as
// appendText decodes them. ok is false when the claims take more than
// 2^16 − 1 bytes or a list has more elements, which a token of at most
// MaxTokenBytes cannot hold (its decoded payload is under 6 KiB, a string
// at most triples when invalid UTF-8 becomes U+FFFD, and a nested path
// repeats at most maxClaimDepth names). o may be nil (no claims); the
// results do not refer to it.
func (p *packer) pack(o *fastjson.Object) (blob string, idx []uint16, ok bool) {
	p.members, p.paths = p.members[:0], p.paths[:0]
	p.walk(o, -1)
	for depth, start := 1, 0; depth < maxClaimDepth; depth++ {
		end := len(p.members)
		for i := start; i < end; i++ {
			if v := p.members[i].v; v.Type() == fastjson.TypeObject {
				p.walk(v.GetObject(), i)
			}
		}
		start = end
	}
	p.markAmbiguous()
	p.blob, p.idx = p.blob[:0], p.idx[:0]
	for i, m := range p.members {
		t := m.v.Type()
		if p.ambiguous[i] || t != fastjson.TypeString && t != fastjson.TypeArray {
			continue
		}
		p.add(p.paths[m.path[0]:m.path[1]])
		if t == fastjson.TypeString {
			p.idx = append(p.idx, 0, 1)
			p.add(m.v.GetStringBytes())
		} else {
			at := len(p.idx)
			p.idx = append(p.idx, 1, 0)
			for _, e := range m.v.GetArray() {
				if e.Type() == fastjson.TypeString {
					if p.idx[at+1] == math.MaxUint16 {
						return "", nil, false
					}
					p.add(e.GetStringBytes())
					p.idx[at+1]++
				}
			}
		}
		if len(p.blob) > math.MaxUint16 {
			return "", nil, false
		}
	}
	blob = string(p.blob)
	idx = slices.Clone(p.idx)
	return blob, idx, true
}

// derive sets what c keeps read out of its packed claims: its scopes
// (tokenScopes) and its issuer.
func (c *Claims) derive() {
	c.scopes = tokenScopes(c.blob, c.idx)
	c.iss, _ = c.String("iss")
}

// walk appends the members of o, sorted by name, under the path of
// p.members[parent] (top level when parent is -1).
func (p *packer) walk(o *fastjson.Object, parent int) {
	first := len(p.members)
	o.Visit(func(name []byte, v *fastjson.Value) {
		start := len(p.paths)
		if parent >= 0 {
			at := p.members[parent].path
			p.paths = append(append(p.paths, p.paths[at[0]:at[1]]...), '.')
		}
		p.paths = appendText(p.paths, name)
		p.members = append(p.members, member{[2]int{start, len(p.paths)}, v})
	})
	slices.SortFunc(p.members[first:], func(a, b member) int { return bytes.Compare(p.path(a), p.path(b)) })
}

func (p *packer) path(m member) []byte { return p.paths[m.path[0]:m.path[1]] }

// markAmbiguous sets p.ambiguous for the members whose path another has.
func (p *packer) markAmbiguous() {
	n := len(p.members)
	p.order, p.ambiguous = p.order[:0], slices.Grow(p.ambiguous[:0], n)[:n]
	for i := range n {
		p.order = append(p.order, i)
		p.ambiguous[i] = false
	}
	slices.SortFunc(p.order, func(a, b int) int { return bytes.Compare(p.path(p.members[a]), p.path(p.members[b])) })
	for k := 1; k < n; k++ {
		a, b := p.order[k-1], p.order[k]
		if bytes.Equal(p.path(p.members[a]), p.path(p.members[b])) {
			p.ambiguous[a], p.ambiguous[b] = true, true
		}
	}
}

// add appends s, as appendText decodes it, to the blob and its offsets to
// the index.
func (p *packer) add(s []byte) {
	start := len(p.blob)
	p.blob = appendText(p.blob, s)
	p.idx = append(p.idx, uint16(start), uint16(len(p.blob)))
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
