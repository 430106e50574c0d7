package compiler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cuegate/cuegate/compiler/table"
)

// Bounds of a schema's summary: deeper levels and further lines are
// elided with "…", so a large or deeply nested document stays readable.
const (
	maxSchemaDepth = 6
	maxSchemaLines = 120
)

// methodOrder is the order of an operation's methods on a path.
var methodOrder = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"}

// referenceOf summarises a validated document.
func referenceOf(doc *openapi3.T) *table.Reference {
	ref := &table.Reference{OpenAPI: doc.OpenAPI}
	if doc.Info != nil {
		ref.Title, ref.Version, ref.Description = doc.Info.Title, doc.Info.Version, doc.Info.Description
	}
	ref.Tags = groupByTag(doc.Tags, operations(doc))
	return ref
}

// tagged is an operation with the tags it names.
type tagged struct {
	op   table.Operation
	tags []string
}

// operations lists doc's operations by path, then method.
func operations(doc *openapi3.T) []tagged {
	if doc.Paths == nil {
		return nil
	}
	var ops []tagged
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		item := doc.Paths.Value(path)
		all := item.Operations()
		for _, method := range slices.SortedFunc(maps.Keys(all), byMethod) {
			o := all[method]
			ops = append(ops, tagged{operationOf(method, path, item, o), o.Tags})
		}
	}
	return ops
}

// groupByTag groups ops by tag, as table.Reference.Tags has them: the
// declared tags in order, then the others sorted, then "" for untagged
// operations; a tag without operations is left out.
func groupByTag(declared openapi3.Tags, ops []tagged) []table.ReferenceTag {
	byTag := map[string]*table.ReferenceTag{}
	var order []string
	group := func(name, desc string) *table.ReferenceTag {
		if g := byTag[name]; g != nil {
			return g
		}
		g := &table.ReferenceTag{Name: name, Description: desc}
		byTag[name] = g
		order = append(order, name)
		return g
	}
	for _, t := range declared {
		if t != nil {
			group(t.Name, t.Description)
		}
	}
	var others []string
	for _, o := range ops {
		for _, t := range o.tags {
			if byTag[t] == nil && !slices.Contains(others, t) {
				others = append(others, t)
			}
		}
	}
	slices.Sort(others)
	for _, t := range others {
		group(t, "")
	}
	for _, o := range ops {
		tags := o.tags
		if len(tags) == 0 {
			tags = []string{""}
		}
		seen := map[string]bool{}
		for _, t := range tags {
			if !seen[t] {
				seen[t] = true
				g := group(t, "")
				g.Operations = append(g.Operations, o.op)
			}
		}
	}
	var out []table.ReferenceTag
	for _, name := range order {
		if g := byTag[name]; len(g.Operations) > 0 {
			out = append(out, *g)
		}
	}
	return out
}

// byMethod orders methods as methodOrder does, others after them.
func byMethod(a, b string) int {
	ia, ib := slices.Index(methodOrder, a), slices.Index(methodOrder, b)
	if ia < 0 {
		ia = len(methodOrder)
	}
	if ib < 0 {
		ib = len(methodOrder)
	}
	return cmp.Or(cmp.Compare(ia, ib), strings.Compare(a, b))
}

func operationOf(method, path string, item *openapi3.PathItem, o *openapi3.Operation) table.Operation {
	op := table.Operation{Method: method, Path: path, ID: o.OperationID, Summary: o.Summary,
		Description: o.Description, Deprecated: o.Deprecated}
	// The operation's parameters override the path item's of the same
	// name and location.
	seen := map[string]bool{}
	for _, params := range []openapi3.Parameters{o.Parameters, item.Parameters} {
		for _, pr := range params {
			if pr == nil || pr.Value == nil || seen[pr.Value.In+"\x00"+pr.Value.Name] {
				continue
			}
			p := pr.Value
			seen[p.In+"\x00"+p.Name] = true
			op.Parameters = append(op.Parameters, table.Parameter{Name: p.Name, In: p.In, Required: p.Required,
				Description: p.Description, Schema: oneLine(p.Schema)})
		}
	}
	if rb := o.RequestBody; rb != nil && rb.Value != nil {
		op.RequestBody = &table.Body{Description: rb.Value.Description, Required: rb.Value.Required, Content: mediaOf(rb.Value.Content)}
	}
	if o.Responses != nil {
		all := o.Responses.Map()
		for _, status := range slices.Sorted(maps.Keys(all)) {
			r := all[status]
			if r == nil || r.Value == nil {
				continue
			}
			op.Responses = append(op.Responses, table.Response{Status: status, Description: deref(r.Value.Description), Content: mediaOf(r.Value.Content)})
		}
	}
	return op
}

func mediaOf(c openapi3.Content) []table.Media {
	var out []table.Media
	for _, mt := range slices.Sorted(maps.Keys(c)) {
		m := table.Media{Type: mt}
		if c[mt] != nil {
			m.Schema = summary(c[mt].Schema)
		}
		out = append(out, m)
	}
	return out
}

// oneLine is a schema's type in a few words: "string (uuid)", "array of
// integer", "Order".
func oneLine(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return ""
	}
	if name := refName(s.Ref); name != "" {
		return name
	}
	v := s.Value
	typ := strings.Join(v.Type.Slice(), " | ")
	switch {
	case v.Type.Is("array") && v.Items != nil:
		typ = "array of " + oneLine(v.Items)
	case typ == "" && len(v.OneOf) > 0:
		typ = "one of " + joinSchemas(v.OneOf)
	case typ == "" && len(v.AnyOf) > 0:
		typ = "any of " + joinSchemas(v.AnyOf)
	case typ == "" && len(v.AllOf) > 0:
		typ = "all of " + joinSchemas(v.AllOf)
	case typ == "":
		typ = "any"
	}
	if v.Format != "" {
		typ += " (" + v.Format + ")"
	}
	if len(v.Enum) > 0 {
		vals := make([]string, 0, len(v.Enum))
		for _, e := range v.Enum {
			vals = append(vals, fmt.Sprint(e))
		}
		typ += ": " + strings.Join(vals, ", ")
	}
	return typ
}

func joinSchemas(refs openapi3.SchemaRefs) string {
	parts := make([]string, 0, len(refs))
	for _, r := range refs {
		parts = append(parts, oneLine(r))
	}
	return strings.Join(parts, ", ")
}

// refName is the last segment of a $ref: "Order" for
// "#/components/schemas/Order".
func refName(ref string) string {
	if ref == "" {
		return ""
	}
	return ref[strings.LastIndex(ref, "/")+1:]
}

// summary is a schema as indented lines: an object's properties one a
// line with their type, "required" marked, nested objects indented below
// them; recursion and the bounds end in "…".
func summary(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return ""
	}
	w := &summaryWriter{visiting: map[*openapi3.Schema]bool{}}
	w.line(0, oneLine(s))
	w.properties(s.Value, 1)
	return strings.Join(w.lines, "\n")
}

type summaryWriter struct {
	lines    []string
	visiting map[*openapi3.Schema]bool
}

func (w *summaryWriter) line(depth int, text string) bool {
	if len(w.lines) >= maxSchemaLines {
		if len(w.lines) == maxSchemaLines {
			w.lines = append(w.lines, "…")
		}
		return false
	}
	w.lines = append(w.lines, strings.Repeat("  ", depth)+text)
	return true
}

// properties writes v's properties (an array's items' ones), each
// nested object's below it.
func (w *summaryWriter) properties(v *openapi3.Schema, depth int) {
	if v.Type.Is("array") && v.Items != nil && v.Items.Value != nil {
		v = v.Items.Value
	}
	if len(v.Properties) == 0 {
		return
	}
	if w.visiting[v] || depth > maxSchemaDepth {
		w.line(depth, "…")
		return
	}
	w.visiting[v] = true
	defer delete(w.visiting, v)
	for _, name := range slices.Sorted(maps.Keys(v.Properties)) {
		p := v.Properties[name]
		text := name + ": " + oneLine(p)
		if slices.Contains(v.Required, name) {
			text += ", required"
		}
		if p != nil && p.Value != nil && p.Value.Description != "" {
			text += " — " + firstLine(p.Value.Description)
		}
		if !w.line(depth, text) {
			return
		}
		if p != nil && p.Value != nil {
			w.properties(p.Value, depth+1)
		}
	}
}

// firstLine is the first line of a description.
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
