package compiler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"

	"github.com/cuegate/cuegate/schema"
)

// This file words schema errors for a person. CUE reports one mistake as
// many errors: a value outside an enum fails every alternative of the
// disjunction ("conflicting values "ES256" and "none"", ten times), a value
// outside a constraint with a default fails the default too ("conflicting
// values "30s" and ..."), a list fails a default list's length. The errors
// are grouped by field and the most specific one is told, in terms of what
// the field wants.

// report turns what the decoder found into one diagnostic per field.
func (c *compilation) report(d *decoder, schemaFile cue.Value) {
	if len(d.errs)+len(d.unknown)+len(d.missing)+len(d.invalid) == 0 {
		return
	}
	w := c.wording(schemaFile)
	type group struct {
		at   fieldPath
		errs []cueerrors.Error
	}
	groups := map[string]*group{}
	var order []*group
	for _, e := range d.errs {
		format, _ := e.Msg()
		if strings.HasSuffix(format, "errors in empty disjunction:") {
			continue // a summary of the errors that follow it
		}
		at := cuePath(e.Path())
		g := groups[at.String()]
		if g == nil {
			g = &group{at: at}
			groups[at.String()] = g
			order = append(order, g)
		}
		g.errs = append(g.errs, e)
	}
	for _, g := range order {
		// A list that fails a default's length is only noise when an
		// element or another alternative says more.
		specific := slices.ContainsFunc(g.errs, isListLength) && slices.ContainsFunc(order, func(o *group) bool {
			return len(o.at) > len(g.at) && o.at.related(g.at)
		})
		if msg := c.describe(g.at, g.errs, specific, w); msg != "" {
			pos := c.errPos(g.errs, g.at)
			c.schemaError(pos, g.at, msg+c.alsoAt(g.errs, pos))
		}
	}
	for _, u := range d.unknown {
		c.schemaError(c.at(u.at), u.at, "field not allowed (allowed: "+strings.Join(u.allowed, ", ")+")")
	}
	c.reportMissing(d.missing, w)
	for _, f := range d.invalid {
		c.schemaError(c.at(f.at), f.at, fmt.Sprintf("invalid value %s: out of range for a 64-bit number", f.value))
	}
}

func isListLength(e cueerrors.Error) bool {
	format, _ := e.Msg()
	return format == listLengthFormat
}

// listLengthFormat is how CUE words a list that fails a list's length.
const listLengthFormat = "incompatible list lengths (%d and %d)"

// schemaError records a diagnostic about at and marks at as reported, so
// that the compiler's own checks do not report it again. An error without
// a path (one inside a comprehension) marks everything: the checks then
// stay silent rather than guess.
func (c *compilation) schemaError(pos token.Pos, at fieldPath, msg string) {
	if len(at) > 0 {
		msg = at.String() + ": " + msg
	}
	c.errs = append(c.errs, c.diag(pos, msg))
	c.reported = append(c.reported, at)
}

// errPos is the first position in the user's files that errs name, else
// the position of the nearest field of at that the user wrote.
func (c *compilation) errPos(errs []cueerrors.Error, at fieldPath) token.Pos {
	for _, e := range errs {
		if pos := c.userPos(e); pos.IsValid() {
			return pos
		}
	}
	return c.at(at)
}

// alsoAt names the other places in the user's files that errs point to,
// such as the second of two files that set a field to different values.
func (c *compilation) alsoAt(errs []cueerrors.Error, pos token.Pos) string {
	var also []string
	for _, e := range errs {
		for _, q := range cueerrors.Positions(e) {
			if c.isUserFile(q) && q != pos {
				also = appendNew(also, c.posString(q))
			}
		}
	}
	if len(also) == 0 {
		return ""
	}
	return " (also " + strings.Join(also, ", ") + ")"
}

// wording is what the schema's @cuegate attributes say about its named
// constraints.
type wording struct {
	want map[string]string // a constraint as CUE prints it → what it wants
	// structWant is what a struct definition wants, by the line of the
	// schema it starts on: CUE prints a struct in errors in a form that
	// is not worth matching, but names its position.
	structWant map[int]string
	enums      []enum
}

// enum is a named disjunction of literals, such as #Algorithm.
type enum struct {
	alts []string // as CUE prints them, in the schema's order
	hint string
}

func (c *compilation) wording(schemaFile cue.Value) *wording {
	w := &wording{
		want:       map[string]string{`!=""`: "a non-empty string"},
		structWant: map[int]string{},
	}
	it, err := schemaFile.Fields(cue.Definitions(true))
	if err != nil {
		return w
	}
	for it.Next() {
		v := it.Value()
		attr := v.Attribute("cuegate")
		want, _, _ := attr.Lookup(0, "want")
		hint, _, _ := attr.Lookup(0, "hint")
		switch {
		case want == "":
		case v.IncompleteKind() == cue.StructKind:
			w.structWant[v.Pos().Line()] = want
		default:
			w.want[fmt.Sprint(v)] = want
		}
		if op, args := v.Expr(); op == cue.OrOp {
			e := enum{hint: hint}
			for _, a := range args {
				if a.IsConcrete() {
					e.alts = append(e.alts, fmt.Sprint(a))
				}
			}
			if len(e.alts) == len(args) {
				w.enums = append(w.enums, e)
			}
		}
	}
	return w
}

// oneOf words a choice among literal values, in the schema's order and
// with its hint when they are a named enum.
func (w *wording) oneOf(alts []string) string {
	for _, e := range w.enums {
		if len(e.alts) == len(alts) && !slices.ContainsFunc(alts, func(a string) bool { return !slices.Contains(e.alts, a) }) {
			alts = e.alts
			if e.hint != "" {
				return "one of " + strings.Join(alts, ", ") + " (" + e.hint + ")"
			}
			break
		}
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "one of " + strings.Join(alts, ", ")
}

// constraint words a constraint that CUE printed as text, of kind kind.
func (w *wording) constraint(text, kind string) string {
	if want, ok := w.want[text]; ok {
		return want
	}
	if kind == "" || text == kind {
		return text
	}
	return article(kind) + " " + text
}

func article(kind string) string {
	switch kind {
	case "int":
		return "an int"
	case "null", "_|_":
		return kind
	}
	return "a " + kind
}

// describe words the errors CUE reported about the field at: the most
// specific one, in terms of what the field wants. specific says that
// errors about fields below at say more than a list length would.
func (c *compilation) describe(at fieldPath, errs []cueerrors.Error, specific bool, w *wording) string {
	got, gotKind := "", ""
	v := c.user.LookupPath(cue.MakePath(at...))
	secret := secretAt(configShape(), at) // a value never to be shown
	if v.Exists() {
		gotKind = v.IncompleteKind().String()
		if v.IsConcrete() && v.Kind() != cue.StructKind && v.Kind() != cue.ListKind && !secret {
			got = fmt.Sprint(v)
		}
	}
	var (
		bounds, wants     []string // "out of bound" errors: the value and what it wants
		alts              []string // the other side of same-kind conflicts
		mismatch          []string // the other side of type conflicts
		mismatchKinds     []string
		listLength, other string
	)
	for _, e := range errs {
		format, args := e.Msg()
		text := make([]string, len(args))
		for i, a := range args {
			text[i] = fmt.Sprint(a)
		}
		switch format {
		case "invalid value %v (out of bound %s)":
			bounds = append(bounds, text[0])
			wants = appendNew(wants, w.constraint(text[1], ""))
		case "conflicting values %s and %s":
			if o, ok := otherSide(got, text[0], text[1]); ok {
				alts = appendNew(alts, o)
				continue
			}
			other = cmp.Or(other, fmt.Sprintf(format, args...))
		case "conflicting values %s and %s (mismatched types %s and %s)":
			switch gotKind {
			case text[2]:
				mismatch, mismatchKinds = appendNew(mismatch, text[1]), appendNew(mismatchKinds, text[3])
			case text[3]:
				mismatch, mismatchKinds = appendNew(mismatch, text[0]), appendNew(mismatchKinds, text[2])
			default:
				other = cmp.Or(other, fmt.Sprintf(format, args...))
			}
		case listLengthFormat:
			listLength = fmt.Sprintf(format, args...)
		case "package %q imported but not defined in %s":
			other = cmp.Or(other, fmt.Sprintf("package %q is not in CUE's standard library: a configuration can import only standard packages", args[0]))
		default:
			other = cmp.Or(other, fmt.Sprintf(format, args...))
		}
	}
	switch {
	case len(bounds) > 0 && secret:
		return "invalid value: want " + strings.Join(wants, " and ")
	case len(bounds) > 0:
		return fmt.Sprintf("invalid value %s: want %s", bounds[0], strings.Join(wants, " and "))
	case len(mismatch) > 0:
		want := w.wantOfType(mismatch, mismatchKinds)
		if slices.Contains(mismatchKinds, "struct") {
			want = cmp.Or(w.wantOfStruct(errs), want)
		}
		return fmt.Sprintf("%s is %s: want %s", cmp.Or(got, "value"), article(gotKind), want)
	case len(alts) > 0:
		return fmt.Sprintf("%s is not allowed: want %s", got, w.oneOf(alts))
	case other != "":
		return other
	case listLength != "" && !specific:
		if v.Exists() {
			if n, err := v.Len().Int64(); err == nil && n == 0 {
				return "list is empty: want at least one element"
			}
		}
		return listLength
	}
	return ""
}

// wantOfType words what a field wants when the user's value has another
// type: the named constraint among the alternatives, else the literals,
// else the type.
func (w *wording) wantOfType(alts, kinds []string) string {
	var literals []string
	for _, a := range alts {
		if want, ok := w.want[a]; ok {
			return want
		}
		if strings.HasPrefix(a, `"`) || a == "true" || a == "false" || (a != "" && strings.Trim(a, "0123456789.-") == "") {
			literals = append(literals, a)
		}
	}
	if len(literals) > 0 && len(literals) == len(alts) {
		return w.oneOf(literals)
	}
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = article(k)
	}
	return strings.Join(words, " or ")
}

// wantOfStruct is what a named struct definition that errs point to wants.
func (w *wording) wantOfStruct(errs []cueerrors.Error) string {
	for _, e := range errs {
		for _, pos := range cueerrors.Positions(e) {
			if pos.Filename() == schema.Filename {
				if want, ok := w.structWant[pos.Line()]; ok {
					return want
				}
			}
		}
	}
	return ""
}

// otherSide returns the side of a conflict that is not the user's value.
func otherSide(got, a, b string) (string, bool) {
	switch got {
	case "":
		return "", false
	case a:
		return b, true
	case b:
		return a, true
	}
	return "", false
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// reportMissing reports required fields without a concrete value. A field
// the user did not write is reported at the outermost part of its path
// that is missing ("upstream: missing required field" rather than one line
// for each field inside it), and several missing from one struct make one
// line ("apis.users: missing required fields: listen_path, name").
func (c *compilation) reportMissing(missing []missingField, w *wording) {
	type absent struct {
		parent fieldPath
		fields []fieldPath
		msg    string // the message when only one field is missing
	}
	var groups []*absent
	byParent := map[string]*absent{}
	seen := map[string]bool{}
	for _, m := range missing {
		at, msg, written := c.describeMissing(m, w)
		if seen[at.String()] {
			continue
		}
		seen[at.String()] = true
		if written || len(at) == 0 {
			c.schemaError(c.at(at), at, msg)
			continue
		}
		parent := at[:len(at)-1]
		g := byParent[parent.String()]
		if g == nil {
			g = &absent{parent: parent, msg: msg}
			byParent[parent.String()] = g
			groups = append(groups, g)
		}
		g.fields = append(g.fields, at)
	}
	for _, g := range groups {
		if len(g.fields) == 1 {
			c.schemaError(c.at(g.fields[0]), g.fields[0], g.msg)
			continue
		}
		names := make([]string, len(g.fields))
		for i, f := range g.fields {
			names[i] = f[len(f)-1].String()
		}
		slices.Sort(names)
		c.errs = append(c.errs, c.diag(c.at(g.parent), g.parent.String()+": missing required fields: "+strings.Join(names, ", ")))
		c.reported = append(c.reported, g.fields...)
	}
}

// describeMissing words a required field without a concrete value and
// says whether the user wrote it (with a value that is not concrete).
func (c *compilation) describeMissing(m missingField, w *wording) (at fieldPath, msg string, written bool) {
	want := w.constraint(fmt.Sprint(m.want), m.want.IncompleteKind().String())
	for n := 1; n <= len(m.at); n++ {
		if !c.user.LookupPath(cue.MakePath(m.at[:n]...)).Exists() {
			if n < len(m.at) {
				return m.at[:n], "missing required field", false
			}
			return m.at, "missing required field: want " + want, false
		}
	}
	return m.at, "incomplete value: want " + want, true
}
