package compiler

import (
	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
)

// decoder walks the configuration unified with the schema exactly once.
// It collects every schema error, including required fields left without
// a concrete value, and builds a plain Go tree (maps, slices, strings,
// numbers, bools) of every valid value with the schema's defaults applied.
// A field in error is left out of the tree, an element of a list is left
// null so that indices keep their meaning, and an entity (an IdP, API,
// policy, grant or catalogue entry) in error becomes an empty object so
// that references to it still resolve: the cross-reference checks then
// run on what is valid and report every mistake in the same run.
type decoder struct {
	errs    []cueerrors.Error
	missing []missingField
	invalid []invalidField
}

// invalidField is a value the schema accepts that Go cannot hold, such as
// an integer beyond 64 bits.
type invalidField struct {
	at  fieldPath
	err error
}

// missingField is a field the schema requires that has no concrete value.
type missingField struct {
	at   fieldPath
	want cue.Value // the schema's constraint for it
}

func (d *decoder) value(v cue.Value, at fieldPath) any {
	switch v.IncompleteKind() {
	case cue.StructKind:
		if it, err := v.Fields(); err == nil {
			return d.fields(it, at)
		}
	case cue.ListKind:
		if it, err := v.List(); err == nil {
			var out []any
			for it.Next() {
				out = append(out, d.value(it.Value(), at.add(it.Selector())))
			}
			if out == nil {
				out = []any{}
			}
			return out
		}
	case cue.BottomKind:
		// A struct or list with an error below it is still iterable.
		if it, err := v.Fields(); err == nil {
			return d.fields(it, at)
		}
	}
	if err := v.Err(); err != nil {
		d.errs = append(d.errs, cueerrors.Errors(err)...)
		if isEntity(at) {
			return map[string]any{}
		}
		return nil
	}
	return d.scalar(v, at)
}

// fields decodes a struct, or a list whose element is in error (CUE then
// iterates it like a struct with index labels).
func (d *decoder) fields(it *cue.Iterator, at fieldPath) any {
	var m map[string]any
	var l []any
	for it.Next() {
		sel := it.Selector()
		x := d.value(it.Value(), at.add(sel))
		if sel.LabelType() == cue.IndexLabel {
			l = append(l, x)
			continue
		}
		if m == nil {
			m = map[string]any{}
		}
		if x != nil {
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

func (d *decoder) scalar(v cue.Value, at fieldPath) any {
	v, _ = v.Default()
	var (
		x   any
		err error
	)
	switch v.Kind() {
	case cue.StringKind:
		x, err = v.String()
	case cue.IntKind:
		x, err = v.Int64()
	case cue.FloatKind:
		x, err = v.Float64()
	case cue.BoolKind:
		x, err = v.Bool()
	case cue.NullKind:
		return nil
	default: // not concrete
		d.missing = append(d.missing, missingField{at, v})
		return nil
	}
	if err != nil {
		d.invalid = append(d.invalid, invalidField{at, err})
		return nil
	}
	return x
}

// isEntity reports whether at names an object that other parts of the
// configuration refer to by its key.
func isEntity(at fieldPath) bool {
	switch len(at) {
	case 2:
		switch at[0].String() {
		case "idps", "apis", "policies":
			return true
		}
	case 3:
		return at[0].String() == "portal" && at[1].String() == "catalogue"
	case 4:
		return at[0].String() == "policies" && at[2].String() == "access"
	}
	return false
}
