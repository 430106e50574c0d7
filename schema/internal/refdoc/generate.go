package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/format"
	"cuelang.org/go/cue/token"

	"github.com/cuegate/cuegate/schema"
)

// root is the definition a configuration's top level is unified with.
const root = "#Config"

// Generate returns the reference as Markdown.
func Generate() ([]byte, error) {
	v := cuecontext.New().CompileString(schema.Source, cue.Filename(schema.Filename))
	if err := v.Err(); err != nil {
		return nil, err
	}
	g := &generator{schema: v, used: map[string]bool{}}
	g.intro()
	it, err := v.LookupPath(cue.ParsePath(root)).Fields(cue.Optional(true))
	if err != nil {
		return nil, err
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		fmt.Fprintf(&g.b, "\n## `%s`\n", name)
		if doc := g.docOf(it.Value()); doc != "" {
			fmt.Fprintf(&g.b, "\n%s\n", doc)
		}
		if err := g.field(name, it.Value(), it.IsOptional()); err != nil {
			return nil, err
		}
	}
	if err := g.types(); err != nil {
		return nil, err
	}
	return g.b.Bytes(), nil
}

type generator struct {
	schema cue.Value
	b      bytes.Buffer
	// used are the definitions a field's type names, for the types section.
	used map[string]bool
}

func (g *generator) intro() {
	g.b.WriteString("<!-- Generated from schema/cuegate.cue by go generate ./schema/...; edit the schema's comments, not this file. -->\n\n")
	g.b.WriteString("# Configuration reference\n\n")
	for _, cg := range ast.Comments(g.fileAST()) {
		if cg.Doc {
			g.b.WriteString(strings.TrimPrefix(paragraphs(cg.Text()), "Package schema is the contract of a cuegate configuration directory.\n\n"))
			g.b.WriteString("\n\n")
			break
		}
	}
	g.b.WriteString("Each field below is written as its path from the top of the configuration; " +
		"`<ID>` stands for a name you choose (an API's ID, say). A field marked *optional* may be left out; " +
		"one with a default takes it when left out; any other is required. " +
		"Types named `#Like` this are described under [Types](#types).\n")
}

// fileAST is the schema's syntax tree, for its package comment.
func (g *generator) fileAST() ast.Node {
	if f, ok := g.schema.Source().(*ast.File); ok {
		return f
	}
	return &ast.File{}
}

// field writes the entry of the field at path and, for a struct, the
// entries of its fields.
func (g *generator) field(path string, v cue.Value, optional bool) error {
	fld, _ := v.Source().(*ast.Field)
	if fld == nil {
		return fmt.Errorf("%s: no declaration in the schema", path)
	}
	if pattern, ok := fld.Value.(*ast.StructLit); ok && isPattern(pattern) {
		return g.pattern(path, v, pattern)
	}
	if path != topLevel(path) || !isStruct(v) { // top-level sections carry their doc already
		g.entry(path, v, fld.Value, optional)
	}
	return g.fields(path+".", v)
}

// fields writes the entries of the fields of v, when it is a struct, at
// prefix followed by each field's name.
func (g *generator) fields(prefix string, v cue.Value) error {
	if !isStruct(v) {
		return nil
	}
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return err
	}
	for it.Next() {
		if err := g.field(prefix+it.Selector().Unquoted(), it.Value(), it.IsOptional()); err != nil {
			return err
		}
	}
	return nil
}

// pattern writes the members of a map such as idps: [ID=string]: #IdP.
func (g *generator) pattern(path string, v cue.Value, lit *ast.StructLit) error {
	label := "<name>"
	if f, ok := lit.Elts[0].(*ast.Field); ok {
		if l, ok := f.Label.(*ast.ListLit); ok && len(l.Elts) == 1 {
			if a, ok := l.Elts[0].(*ast.Alias); ok {
				label = "<" + a.Ident.Name + ">"
			}
		}
	}
	member := v.LookupPath(cue.MakePath(cue.AnyString))
	if path != topLevel(path) {
		g.entry(path, v, lit, false)
	}
	return g.fields(path+"."+label+".", member)
}

// entry writes one field: path, type, default or whether it is required,
// and its doc comment.
func (g *generator) entry(path string, v cue.Value, expr ast.Expr, optional bool) {
	fmt.Fprintf(&g.b, "\n- **`%s`** `%s`", path, g.typeOf(expr))
	def, _ := v.Default()
	switch {
	case slices.ContainsFunc(disjuncts(expr), isMarked) && def.IsConcrete():
		fmt.Fprintf(&g.b, ", default `%s`", source(def.Syntax(cue.Final())))
	case optional:
		g.b.WriteString(", *optional*")
	case !isStruct(v):
		g.b.WriteString(", *required*")
	}
	g.b.WriteString("\n")
	if doc := g.docOf(v); doc != "" {
		fmt.Fprintf(&g.b, "\n  %s\n", strings.ReplaceAll(doc, "\n", "\n  "))
	}
}

// typeOf is a field's type as the schema writes it, without the default
// marker: a default that is one of an enumeration's literals stays in the
// list, one that a wider type already allows is left out. A struct
// written in place is "{…}", a map "{<ID>: …}".
func (g *generator) typeOf(expr ast.Expr) string {
	switch e := expr.(type) {
	case *ast.StructLit:
		if isPattern(e) {
			if f, ok := e.Elts[0].(*ast.Field); ok {
				return "{[string]: " + g.typeOf(f.Value) + "}"
			}
		}
		return "{…}"
	}
	terms := disjuncts(expr)
	enum := !slices.ContainsFunc(terms, func(t ast.Expr) bool { _, lit := unmark(t).(*ast.BasicLit); return !lit })
	var out []string
	for _, t := range terms {
		if isMarked(t) && !enum {
			continue
		}
		g.note(t)
		out = append(out, source(unmark(t)))
	}
	return strings.Join(out, " | ")
}

// note records the definitions e names, for the types section.
func (g *generator) note(e ast.Expr) {
	ast.Walk(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") {
			g.used[id.Name] = true
		}
		return true
	}, nil)
}

// types writes the named types the fields use that are not structs
// (those are expanded where they are used), in the schema's order.
func (g *generator) types() error {
	g.b.WriteString("\n## Types\n")
	it, err := g.schema.Fields(cue.Definitions(true))
	if err != nil {
		return err
	}
	for it.Next() {
		name := it.Selector().String()
		v := it.Value()
		if !g.used[name] || isStruct(v) {
			continue
		}
		fld, _ := v.Source().(*ast.Field)
		if fld == nil {
			return fmt.Errorf("%s: no declaration in the schema", name)
		}
		fmt.Fprintf(&g.b, "\n### `%s`\n\n`%s`\n", name, source(fld.Value))
		if doc := g.docOf(v); doc != "" {
			fmt.Fprintf(&g.b, "\n%s\n", doc)
		}
		attr := v.Attribute("cuegate")
		if want, ok, err := attr.Lookup(0, "want"); err == nil && ok {
			fmt.Fprintf(&g.b, "\nValid: %s.\n", want)
		}
	}
	return nil
}

// docOf is the doc comment of v's field, then, for a struct, that of the
// definition its value names (a field "tls?: #TLS" gets the doc of #TLS
// too), as paragraphs. The doc of a named type that is not a struct is
// under Types, once.
func (g *generator) docOf(v cue.Value) string {
	var parts []string
	for _, cg := range v.Doc() {
		parts = append(parts, paragraphs(cg.Text()))
	}
	if fld, ok := v.Source().(*ast.Field); ok {
		if id, ok := fld.Value.(*ast.Ident); ok && strings.HasPrefix(id.Name, "#") && isStruct(v) {
			for _, cg := range g.schema.LookupPath(cue.ParsePath(id.Name)).Doc() {
				if p := paragraphs(cg.Text()); !slices.Contains(parts, p) {
					parts = append(parts, p)
				}
			}
		}
	}
	return strings.Join(parts, "\n\n")
}

// paragraphs joins a comment's lines into paragraphs, so that Markdown
// flows them.
func paragraphs(text string) string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(text), "\n\n") {
		out = append(out, strings.Join(strings.Fields(p), " "))
	}
	return strings.Join(out, "\n\n")
}

func isStruct(v cue.Value) bool { return v.IncompleteKind() == cue.StructKind }

func isPattern(s *ast.StructLit) bool {
	if len(s.Elts) != 1 {
		return false
	}
	f, ok := s.Elts[0].(*ast.Field)
	if !ok {
		return false
	}
	_, ok = f.Label.(*ast.ListLit)
	return ok
}

func topLevel(path string) string {
	top, _, _ := strings.Cut(path, ".")
	return top
}

// disjuncts splits a | b | c.
func disjuncts(e ast.Expr) []ast.Expr {
	if b, ok := e.(*ast.BinaryExpr); ok && b.Op == token.OR {
		return append(disjuncts(b.X), disjuncts(b.Y)...)
	}
	return []ast.Expr{e}
}

// isMarked reports whether e is a default, *e.
func isMarked(e ast.Expr) bool {
	u, ok := e.(*ast.UnaryExpr)
	return ok && u.Op == token.MUL
}

// unmark drops a default marker.
func unmark(e ast.Expr) ast.Expr {
	if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.MUL {
		return u.X
	}
	return e
}

func source(n ast.Node) string {
	b, err := format.Node(n)
	if err != nil {
		return fmt.Sprint(n)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}
