package table

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// RouteIndex maps a normalised request path and method to an API: the
// longest listen path that is a segment-bounded prefix of the path wins,
// then the method. "/users" matches "/users" and "/users/7" but never
// "/usersfoo".
//
// A RouteIndex is immutable and safe for concurrent use. Lookup does not
// allocate.
type RouteIndex struct {
	byPrefix map[string]*prefixRoutes
	// folded holds the listen paths read without regard to case
	// (foldCase).
	folded map[string]struct{}
	// depth is the most segments a listen path has ("/" counts as one):
	// match starts from a path's first depth segments, not from the whole
	// path.
	depth int
}

// prefixRoutes are the APIs on one listen path, and the Allow header of
// a 405 there: the methods they serve.
type prefixRoutes struct {
	routes    []route
	allow     []byte
	foldedLen int // the length of the listen path folded (foldCase)
}

type route struct {
	methods MethodSet
	api     *API
}

// MethodSet is a bit set of the methods the schema knows, plus anyMethod
// for an API without a methods list, which serves every method, even one
// the schema does not name, but those neverServed.
type MethodSet uint16

// methodNames are the methods the schema knows, sorted: methodNames[i] is
// bit i of a MethodSet.
var methodNames = [...]string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

const (
	allMethods MethodSet = 1<<len(methodNames) - 1
	anyMethod  MethodSet = 1 << 15
)

// methodBit is the bit of method, 0 for a method the schema does not
// know.
func methodBit[S ~string | ~[]byte](method S) MethodSet {
	for i, name := range methodNames {
		if string(method) == name {
			return 1 << i
		}
	}
	return 0
}

// MethodsOf is the set an API's methods list serves: nil serves every
// method but those neverServed, an empty list none.
func MethodsOf(ms []string) MethodSet {
	if ms == nil {
		return anyMethod | allMethods
	}
	var s MethodSet
	for _, m := range ms {
		s |= methodBit(m)
	}
	return s
}

// Every reports whether s holds every method the schema knows.
func (s MethodSet) Every() bool { return s&allMethods == allMethods }

func (s MethodSet) has(method []byte) bool {
	if s&anyMethod != 0 {
		return !neverServed(method)
	}
	return s&methodBit(method) != 0
}

// neverServed reports whether method is one no API serves, with a
// methods list or without, in any case (a target may fold it): TRACE (and
// TRACK) would have a target echo the request back with the headers the
// gateway adds (request_headers, claim_headers), and CONNECT asks for a
// tunnel.
func neverServed(method []byte) bool {
	if n := len(method); n != len("TRACE") && n != len("CONNECT") { // TRACK: 5 too
		return false
	}
	for _, m := range neverServedNames {
		if bytes.EqualFold(method, m) {
			return true
		}
	}
	return false
}

var neverServedNames = [][]byte{[]byte("TRACE"), []byte("TRACK"), []byte("CONNECT")}

var _ fmt.Stringer = MethodSet(0)

// String lists the methods in s.
func (s MethodSet) String() string {
	if s.Every() {
		return "every method"
	}
	return string(s.header())
}

// header lists the methods in s for an Allow header, sorted.
func (s MethodSet) header() []byte {
	return []byte(strings.Join(s.Names(), ", "))
}

func newRouteIndex(apis map[string]*API) *RouteIndex {
	ix := &RouteIndex{byPrefix: make(map[string]*prefixRoutes, len(apis)), folded: make(map[string]struct{}, len(apis))}
	for _, id := range slices.Sorted(maps.Keys(apis)) {
		a := apis[id]
		pr := ix.byPrefix[a.ListenPath]
		if pr == nil {
			folded := string(foldCase(nil, []byte(a.ListenPath)))
			pr = &prefixRoutes{foldedLen: len(folded)}
			ix.byPrefix[a.ListenPath] = pr
			ix.folded[folded] = struct{}{}
		}
		pr.routes = append(pr.routes, route{MethodsOf(a.Methods), a})
		ix.depth = max(ix.depth, strings.Count(a.ListenPath, "/"))
	}
	for _, pr := range ix.byPrefix {
		var served MethodSet
		for _, r := range pr.routes {
			served |= r.methods
		}
		pr.allow = served.header()
	}
	return ix
}

// Lookup returns the API serving method on path, which must be normalised
// (see the runtime's path cleaning). When no API matches it returns nil and
// reports whether the longest matching listen path exists for other
// methods, so the caller can answer 405 rather than 404.
func (ix *RouteIndex) Lookup(path, method []byte) (api *API, pathMatched bool) {
	pr := ix.match(path)
	if pr == nil {
		return nil, false
	}
	for i := range pr.routes {
		if pr.routes[i].methods.has(method) {
			return pr.routes[i].api, true
		}
	}
	return nil, true
}

// Allow returns, for a 405 on path (normalised), the Allow header value
// of its longest matching listen path: the methods served there, sorted
// and comma-separated ("" when its APIs serve none); nil when no listen
// path matches.
func (ix *RouteIndex) Allow(path []byte) []byte {
	if pr := ix.match(path); pr != nil {
		return pr.allow
	}
	return nil
}

// match returns the routes of the longest listen path that is a
// segment-bounded prefix of path, or nil.
func (ix *RouteIndex) match(path []byte) *prefixRoutes {
	pr, _ := longest(ix.byPrefix, ix.depth, path)
	return pr
}

// longest returns the value of the longest key of m that is a
// segment-bounded prefix of path, and the key's length; keys have at
// most depth segments.
func longest[V any](m map[string]V, depth int, path []byte) (v V, n int) {
	p := path
	for i, n := 1, 0; i < len(p); i++ {
		if p[i] == '/' {
			if n++; n >= depth {
				p = p[:i]
				break
			}
		}
	}
	for len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	for {
		if v, ok := m[string(p)]; ok {
			return v, len(p)
		}
		if len(p) <= 1 {
			return v, -1
		}
		i := bytes.LastIndexByte(p, '/')
		if i <= 0 {
			p = p[:1] // "/"
		} else {
			p = p[:i]
		}
	}
}

// Len is the number of APIs in the index.
func (ix *RouteIndex) Len() int {
	n := 0
	for _, pr := range ix.byPrefix {
		n += len(pr.routes)
	}
	return n
}

// Names lists the methods in s the schema knows, sorted.
func (s MethodSet) Names() []string {
	names := []string{}
	for i, name := range methodNames {
		if s&(1<<i) != 0 {
			names = append(names, name)
		}
	}
	return names
}

// AnyOtherMethod is the key Owners gives a method the schema does not
// name, which only an API without a methods list serves.
const AnyOtherMethod = "*"

// Owners returns, for every listen path, the ID of the API that serves
// each method there, as Lookup chooses it: the schema's methods by name,
// and AnyOtherMethod for one it does not name. A method no API serves on
// a listen path is left out.
func (ix *RouteIndex) Owners() map[string]map[string]string {
	out := make(map[string]map[string]string, len(ix.byPrefix))
	for path, pr := range ix.byPrefix {
		owners := map[string]string{}
		for _, name := range append(methodNames[:], AnyOtherMethod) {
			for _, r := range pr.routes {
				if r.methods.has([]byte(name)) {
					owners[name] = r.api.ID
					break
				}
			}
		}
		out[path] = owners
	}
	return out
}
