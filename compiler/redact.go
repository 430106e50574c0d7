package compiler

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/literal"

	"github.com/cuegate/cuegate/compiler/table"
)

// This file keeps secrets out of diagnostics. A #Secret position holds a
// reference ({env: "NAME"} or {file: "PATH"}); a value written there
// instead is most likely the secret itself, and CUE's errors repeat the
// values they conflict on. Every literal found at a #Secret position that
// is not a valid reference, in the evaluated configuration (which follows
// references to other fields) and in the source as written (which keeps
// the literals of a conflict that does not evaluate), is replaced in
// every diagnostic's message, in every form CUE or Go would print it.

// redacted replaces a secret's value in a diagnostic.
const redacted = "<redacted>"

// maxSecretDepth bounds the walk into a value at a #Secret position.
const maxSecretDepth = 16

// secretValues is what the user's configuration holds at #Secret
// positions, in the forms it may be printed in.
type secretValues struct {
	literals []string
}

// secretLiterals collects the literals at the #Secret positions of sh in
// the user's package user and in its files.
func secretLiterals(user cue.Value, files []*ast.File, sh *shape) secretValues {
	var s secretValues
	s.walkValue(user, sh, 0)
	for _, f := range files {
		s.walkSyntax(user, f.Decls, sh, nil)
	}
	// Longest first, so that a literal inside another is not replaced
	// in part.
	slices.SortFunc(s.literals, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	s.literals = slices.Compact(s.literals)
	return s
}

// walkValue finds the #Secret positions under the evaluated value v, of
// shape sh.
func (s *secretValues) walkValue(v cue.Value, sh *shape, depth int) {
	switch {
	case sh == nil || depth > 64:
	case sh.secret:
		if !isReference(v) {
			s.collectValue(v, 0)
		}
	case v.IncompleteKind() == cue.ListKind:
		if it, err := v.List(); err == nil {
			for it.Next() {
				s.walkValue(it.Value(), sh.element(), depth+1)
			}
		}
	default:
		if it, err := v.Fields(); err == nil {
			for it.Next() {
				s.walkValue(it.Value(), sh.field(it.Selector().Unquoted()), depth+1)
			}
		}
	}
}

// isReference reports whether v is a valid secret reference: a struct
// with exactly one of env (a variable name) and file (not empty).
func isReference(v cue.Value) bool {
	var ref struct {
		Env  *string `json:"env"`
		File *string `json:"file"`
	}
	n := 0
	if it, err := v.Fields(); err == nil {
		for it.Next() {
			n++
		}
	}
	if n != 1 || v.Decode(&ref) != nil {
		return false
	}
	switch {
	case ref.Env != nil:
		return envName.MatchString(*ref.Env)
	case ref.File != nil:
		return *ref.File != ""
	}
	return false
}

// envName is the schema's form of #Secret.env.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// collectValue adds every concrete scalar in v, and every operand of an
// expression that did not evaluate (a conflict).
func (s *secretValues) collectValue(v cue.Value, depth int) {
	if depth > maxSecretDepth {
		return
	}
	switch v.Kind() {
	case cue.StructKind:
		if it, err := v.Fields(); err == nil {
			for it.Next() {
				s.collectValue(it.Value(), depth+1)
			}
		}
	case cue.ListKind:
		if it, err := v.List(); err == nil {
			for it.Next() {
				s.collectValue(it.Value(), depth+1)
			}
		}
	case cue.BottomKind:
		if op, args := v.Expr(); op != cue.NoOp {
			for _, a := range args {
				s.collectValue(a, depth+1)
			}
		}
	default:
		s.add(fmt.Sprint(v))
		if str, err := v.String(); err == nil {
			s.addString(str)
		}
	}
}

// walkSyntax finds the fields of decls, of shape sh at path at, that are
// #Secret positions, and collects the literals written there unless the
// evaluated value is a valid reference.
func (s *secretValues) walkSyntax(user cue.Value, decls []ast.Decl, sh *shape, at fieldPath) {
	for _, d := range decls {
		f, ok := d.(*ast.Field)
		if !ok || sh == nil {
			continue
		}
		name, _, err := ast.LabelName(f.Label)
		if err != nil {
			continue
		}
		s.walkSyntaxValue(user, f.Value, sh.field(name), at.field(name))
	}
}

func (s *secretValues) walkSyntaxValue(user cue.Value, x ast.Expr, sh *shape, at fieldPath) {
	switch {
	case sh == nil:
	case sh.secret:
		if !isReference(user.LookupPath(cue.MakePath(at...))) {
			ast.Walk(x, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok {
					s.add(lit.Value)
					if str, err := literal.Unquote(lit.Value); err == nil {
						s.addString(str)
					}
				}
				return true
			}, nil)
		}
	default:
		switch x := x.(type) {
		case *ast.StructLit:
			s.walkSyntax(user, x.Elts, sh, at)
		case *ast.BinaryExpr:
			s.walkSyntaxValue(user, x.X, sh, at)
			s.walkSyntaxValue(user, x.Y, sh, at)
		case *ast.ListLit:
			for i, e := range x.Elts {
				s.walkSyntaxValue(user, e, sh.element(), at.index(i))
			}
		}
	}
}

// addString adds a string value as written and as Go quotes it.
func (s *secretValues) addString(str string) {
	s.add(str)
	s.add(strconv.Quote(str))
}

func (s *secretValues) add(text string) {
	if text != "" && text != `""` {
		s.literals = append(s.literals, text)
	}
}

// redact replaces every secret literal in the messages of ds. A literal
// is replaced where it does not continue a word on either side, so that
// a short value does not eat into the words around it.
func (c *compilation) redact(ds table.Diagnostics) {
	for i := range ds {
		for _, lit := range c.secrets.literals {
			ds[i].Message = replaceWord(ds[i].Message, lit)
		}
		ds[i].Message = redactUserinfo(ds[i].Message)
	}
}

// replaceWord replaces each occurrence of old in s that is not preceded
// or followed by a letter, digit or underscore with redacted.
func replaceWord(s, old string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			break
		}
		end := i + len(old)
		if (i > 0 && isWordByte(s[i-1]) && isWordByte(old[0])) || (end < len(s) && isWordByte(s[end]) && isWordByte(old[len(old)-1])) {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		b.WriteString(redacted)
		s = s[end:]
	}
	b.WriteString(s)
	return b.String()
}

// secretAt reports whether at is a #Secret position of sh, or inside one.
func secretAt(sh *shape, at fieldPath) bool {
	for _, sel := range at {
		if sh == nil || sh.secret {
			break
		}
		if sel.LabelType() == cue.IndexLabel {
			sh = sh.element()
		} else {
			sh = sh.field(sel.Unquoted())
		}
	}
	return sh != nil && sh.secret
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
