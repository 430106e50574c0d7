package compiler

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"
)

// path names a field of the configuration, such as apis.users.listen_path
// or idps.gluu.algorithms.0. It is how schema errors and the compiler's own
// checks find the user's position, and how a check learns that the schema
// already reported a field.
type fieldPath []cue.Selector

// p builds a path: a string is a field label, an int a list index.
func p(parts ...any) fieldPath {
	out := make(fieldPath, len(parts))
	for i, part := range parts {
		switch x := part.(type) {
		case cue.Selector:
			out[i] = x
		case string:
			out[i] = cue.Str(x)
		case int:
			out[i] = cue.Index(x)
		default:
			panic(fmt.Sprintf("compiler: path part %v of type %T", part, part))
		}
	}
	return out
}

// add returns q followed by parts, never sharing q's backing array.
func (q fieldPath) add(parts ...any) fieldPath {
	return append(q[:len(q):len(q)], p(parts...)...)
}

// String formats q as dot-separated labels, as in apis.users.listen_path
// or idps.gluu.algorithms.0; a label that is not an identifier is quoted.
func (q fieldPath) String() string {
	parts := make([]string, len(q))
	for i, sel := range q {
		parts[i] = sel.String()
	}
	return strings.Join(parts, ".")
}

// related reports whether one of q and r is a prefix of the other: an
// error about one makes a finding about the other redundant.
func (q fieldPath) related(r fieldPath) bool {
	n := min(len(q), len(r))
	for i := range n {
		if q[i].String() != r[i].String() {
			return false
		}
	}
	return true
}

// cuePath converts the path of a CUE error, dropping the schema's
// definition (#Config) it starts with. A path through a comprehension
// (with parts such as "for[]" or "?") names no field: it converts to nil.
func cuePath(parts []string) fieldPath {
	var out fieldPath
	for _, s := range parts {
		if strings.HasPrefix(s, "#") {
			continue
		}
		q := cue.ParsePath(s)
		if q.Err() != nil || len(q.Selectors()) != 1 {
			return nil
		}
		out = append(out, q.Selectors()[0])
	}
	return out
}
