package compiler

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"
)

// fieldPath names a field of the configuration, such as apis.users.listen_path
// or idps.gluu.algorithms.0. It is how schema errors and the compiler's own
// checks find the user's position, and how a check learns that the schema
// already reported a field.
type fieldPath []cue.Selector

// field returns the path of a top-level field and the fields nested in
// it, as in field("gateway", "read_timeout").
func field(names ...string) fieldPath {
	return fieldPath(nil).field(names...)
}

// apiPath, idpPath and policyPath return the path of an entity of apis,
// idps or policies and the fields nested in it.
func apiPath(id string, names ...string) fieldPath {
	return field("apis").key(id).field(names...)
}

func idpPath(id string, names ...string) fieldPath {
	return field("idps").key(id).field(names...)
}

func policyPath(id string, names ...string) fieldPath {
	return field("policies").key(id).field(names...)
}

// Each of field, key, index and sel returns q followed by one or more
// selectors, never sharing q's backing array.

// field appends field labels.
func (q fieldPath) field(names ...string) fieldPath {
	out := q[:len(q):len(q)]
	for _, n := range names {
		out = append(out, cue.Str(n))
	}
	return out
}

// key appends the key of a map entry, such as an API's ID.
func (q fieldPath) key(k string) fieldPath {
	return q.sel(cue.Str(k))
}

// index appends a list index.
func (q fieldPath) index(i int) fieldPath {
	return q.sel(cue.Index(i))
}

// sel appends a selector CUE gave.
func (q fieldPath) sel(s cue.Selector) fieldPath {
	return append(q[:len(q):len(q)], s)
}

var _ fmt.Stringer = fieldPath(nil)

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
