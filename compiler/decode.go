package compiler

import (
	"encoding/json"
	"fmt"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
)

// decoder applies the schema to the user's configuration and decodes the
// result in one walk. It collects every schema error, including required
// fields without a concrete value and fields the schema does not know, and
// builds a plain Go tree (maps, slices, strings, numbers, bools) of every
// valid value with the schema's defaults applied. A field in error is left
// out of the tree, an element of a list is left null so that indices keep
// their meaning, and an entity (an IdP, API, policy, grant or catalogue
// entry) in error becomes an empty object so that references to it still
// resolve: the cross-reference checks then run on what is valid and report
// every mistake in the same run.
//
// Each entity of a map such as apis is unified with the schema on its own
// and encoded to JSON once decoded, so memory holds the user's
// configuration and one entity at a time rather than the whole
// configuration twice. CUE does
// not check closedness when values are unified through the API, so the
// decoder checks every field against the schema's shape itself.
type decoder struct {
	errs    []cueerrors.Error
	unknown []unknownField
	missing []missingField
	invalid []invalidField
}

// unknownField is a field the schema does not allow.
type unknownField struct {
	at      fieldPath
	allowed []string
}

// missingField is a field the schema requires that has no concrete value.
type missingField struct {
	at   fieldPath
	want cue.Value // the schema's constraint for it
}

// invalidField is a value the schema accepts that Go cannot hold, such as
// an integer beyond 64 bits.
type invalidField struct {
	at    fieldPath
	value string // as CUE prints it
}

// config decodes the user's package against the schema's #Config, one
// top-level field, or one entity of a map, at a time.
func (d *decoder) config(user, config cue.Value, sh *shape) any {
	it, err := user.Fields()
	if err != nil {
		d.errs = append(d.errs, cueerrors.Errors(user.Err())...)
		return nil
	}
	for it.Next() {
		d.check(sh, nil, it.Selector())
	}
	out := map[string]any{}
	sections, _ := config.Fields(cue.Optional(true))
	for sections.Next() {
		sel := sections.Selector()
		name := sel.Unquoted()
		at, schemaV, sub := field(name), sections.Value(), sh.fields[name]
		u := user.LookupPath(cue.MakePath(sel))
		switch {
		case !u.Exists() && sections.IsOptional():
			// An optional section (cluster) left out is absent.
		case !u.Exists():
			out[name] = d.value(schemaV, at, sub) // the defaults
		case sub != nil && sub.isMap && u.IncompleteKind() == cue.StructKind:
			elem := schemaV.LookupPath(cue.MakePath(cue.AnyString))
			m := map[string]any{}
			entities, _ := u.Fields()
			for entities.Next() {
				key := entities.Selector()
				m[key.Unquoted()] = encode(d.value(entities.Value().Unify(elem), at.sel(key), sub.elem))
			}
			out[name] = m
		default:
			out[name] = d.value(u.Unify(schemaV), at, sub)
		}
	}
	return out
}

// encode turns a decoded entity into JSON at once: its bytes take a tenth
// of the memory of its tree.
func encode(tree any) json.RawMessage {
	b, err := json.Marshal(tree)
	if err != nil {
		panic("compiler: decoded value does not encode: " + err.Error()) // plain data
	}
	return b
}

// check records a field that the struct of shape sh at does not allow.
func (d *decoder) check(sh *shape, at fieldPath, sel cue.Selector) bool {
	if sh == nil || sh.allows(sel.Unquoted()) {
		return true
	}
	d.unknown = append(d.unknown, unknownField{at.sel(sel), sh.names()})
	return false
}

func (d *decoder) value(v cue.Value, at fieldPath, sh *shape) any {
	switch k := v.IncompleteKind(); k {
	case cue.StructKind, cue.BottomKind:
		// A struct or list with an error below it is still iterable; a
		// scalar in error iterates as an empty struct, and is reported.
		if it, err := v.Fields(); err == nil && (k == cue.StructKind || hasFields(v)) {
			return d.fields(it, at, sh)
		}
	case cue.ListKind:
		if it, err := v.List(); err == nil {
			out := []any{}
			for it.Next() {
				out = append(out, d.value(it.Value(), at.sel(it.Selector()), sh.element()))
			}
			return out
		}
	default:
		return d.scalar(v, at)
	}
	d.errs = append(d.errs, cueerrors.Errors(v.Err())...)
	if sh != nil && sh.entity {
		return map[string]any{}
	}
	return nil
}

// hasFields reports whether v, in error, iterates as a struct with at
// least one field (a struct or list with an error below it).
func hasFields(v cue.Value) bool {
	it, err := v.Fields()
	return err == nil && it.Next()
}

// fields decodes a struct, or a list whose element is in error (CUE then
// iterates it like a struct with index labels).
func (d *decoder) fields(it *cue.Iterator, at fieldPath, sh *shape) any {
	var (
		m map[string]any
		l []any
	)
	for it.Next() {
		sel := it.Selector()
		if sel.LabelType() == cue.IndexLabel {
			l = append(l, d.value(it.Value(), at.sel(sel), sh.element()))
			continue
		}
		if m == nil {
			m = map[string]any{}
		}
		if !d.check(sh, at, sel) {
			continue
		}
		if x := d.value(it.Value(), at.sel(sel), sh.field(sel.Unquoted())); x != nil {
			m[sel.Unquoted()] = x
		}
	}
	if l != nil {
		return l
	}
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// scalar decodes a value that is not a struct or a list. The happy path
// asks CUE nothing that needs an evaluation context: each one is an
// allocation of several KiB, and a configuration has many leaves.
func (d *decoder) scalar(v cue.Value, at fieldPath) any {
	dv, _ := v.Default()
	var (
		x   any
		err error
	)
	switch dv.Kind() {
	case cue.StringKind:
		x, err = dv.String()
	case cue.IntKind:
		x, err = dv.Int64()
	case cue.FloatKind:
		x, err = dv.Float64()
	case cue.BoolKind:
		x, err = dv.Bool()
	case cue.NullKind:
		return nil
	default: // in error, or not concrete
		if err := v.Err(); err != nil {
			d.errs = append(d.errs, cueerrors.Errors(err)...)
		} else {
			d.missing = append(d.missing, missingField{at, dv})
		}
		return nil
	}
	if err != nil {
		d.invalid = append(d.invalid, invalidField{at, fmt.Sprint(dv)})
		return nil
	}
	return x
}

// shape is the fields a struct of the schema allows, and the shapes of
// those fields: what closedness means for the decoder. A nil shape allows
// anything (a scalar's conflicts are CUE's to report).
type shape struct {
	fields map[string]*shape
	elem   *shape // any field of a map, or any element of a list
	isMap  bool   // any label is allowed
	// entity: a field of a map ([ID=string] in the schema), an object other
	// parts of the configuration refer to by its key.
	entity bool
	// secret: the schema's #Secret, whose values never appear in a
	// diagnostic (see secretLiterals).
	secret bool
}

// shapeOf derives the shape of the schema value v; secret is the
// schema's #Secret.
func shapeOf(v, secret cue.Value) *shape {
	switch v.IncompleteKind() {
	case cue.StructKind:
		s := &shape{fields: map[string]*shape{}, secret: v.Subsume(secret) == nil && secret.Subsume(v) == nil}
		it, _ := v.Fields(cue.Optional(true))
		for it.Next() {
			s.fields[it.Selector().Unquoted()] = shapeOf(it.Value(), secret)
		}
		if e := v.LookupPath(cue.MakePath(cue.AnyString)); e.Exists() {
			s.isMap, s.elem = true, shapeOf(e, secret)
			if s.elem != nil {
				s.elem.entity = true
			}
		}
		return s
	case cue.ListKind:
		v, _ = v.Default()
		if e := v.LookupPath(cue.MakePath(cue.AnyIndex)); e.Exists() {
			if elem := shapeOf(e, secret); elem != nil {
				return &shape{elem: elem}
			}
		}
	}
	return nil
}

func (s *shape) allows(label string) bool {
	if s.isMap {
		return true
	}
	_, ok := s.fields[label]
	return ok
}

func (s *shape) field(label string) *shape {
	if s == nil {
		return nil
	}
	if f, ok := s.fields[label]; ok {
		return f
	}
	return s.elem
}

func (s *shape) element() *shape {
	if s == nil {
		return nil
	}
	return s.elem
}

// names lists the fields s allows, sorted.
func (s *shape) names() []string {
	return sortedKeys(s.fields)
}
