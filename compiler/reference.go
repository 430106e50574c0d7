package compiler

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/printable"
)

// Bounds of a schema's summary: deeper levels and further lines are
// elided with "…", so a large or deeply nested document stays readable;
// a line (a property's type, enum values and the first line of its
// description) is clipped to maxSummaryLine bytes.
const (
	maxSchemaDepth = 6
	maxSchemaLines = 120
	maxSummaryLine = 300
)

// maxReferenceBytes bounds the text of a compiled reference as a whole
// (the document itself aside): a $ref used many times repeats its
// summary and descriptions at every use, so a small document could
// otherwise compile into gigabytes, rendered on every page view.
const maxReferenceBytes = 2 << 20

// errReferenceTooLarge is the error of a reference past maxReferenceBytes.
var errReferenceTooLarge = fmt.Errorf("its reference would be larger than %d MiB of text (a $ref repeats its schema and descriptions at every use): make the document smaller", maxReferenceBytes>>20)

// methodOrder is the order of an operation's methods on a path.
var methodOrder = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "QUERY"}

// referenceOf summarises a validated document, or returns
// errReferenceTooLarge.
func referenceOf(doc *openapi3.T) (*table.Reference, error) {
	ref := &table.Reference{OpenAPI: doc.OpenAPI}
	if doc.Info != nil {
		ref.Title, ref.Version, ref.Description = doc.Info.Title, doc.Info.Version, doc.Info.Description
	}
	ops, err := operations(doc)
	if err != nil {
		return nil, err
	}
	ref.Tags = groupByTag(doc.Tags, ops)
	return ref, nil
}

// tagged is an operation with the tags it names.
type tagged struct {
	op   table.Operation
	tags []string
}

// operations lists doc's operations by path, then method, or returns
// errReferenceTooLarge once their text, counted once per tag they are
// listed under, passes maxReferenceBytes.
func operations(doc *openapi3.T) ([]tagged, error) {
	if doc.Paths == nil {
		return nil, nil
	}
	var ops []tagged
	left := maxReferenceBytes
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		item := doc.Paths.Value(path)
		all := item.Operations()
		for _, method := range slices.SortedFunc(maps.Keys(all), byMethod) {
			o := all[method]
			op, err := operationOf(method, path, item, o, &left)
			if err != nil {
				return nil, err
			}
			if left -= textSize(op) * max(len(o.Tags)-1, 0); left < 0 {
				return nil, errReferenceTooLarge
			}
			ops = append(ops, tagged{op, o.Tags})
		}
	}
	return ops, nil
}

// textSize is the size of op's text, as operationOf counts it.
func textSize(op table.Operation) int {
	n := len(op.Method) + len(op.Path) + len(op.ID) + len(op.Summary) + len(op.Description)
	for _, p := range op.Parameters {
		n += len(p.Name) + len(p.In) + len(p.Description) + len(p.Schema)
	}
	bodies := []table.Body{}
	if op.RequestBody != nil {
		bodies = append(bodies, *op.RequestBody)
	}
	for _, r := range op.Responses {
		n += len(r.Status)
		bodies = append(bodies, table.Body{Description: r.Description, Content: r.Content})
	}
	for _, b := range bodies {
		n += len(b.Description)
		for _, m := range b.Content {
			n += len(m.Type) + len(m.Schema)
		}
	}
	return n
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

// operationOf summarises o, method on path, and takes its text's size
// (textSize) from *left: errReferenceTooLarge when that would pass 0,
// checked as each body's media are summarised, so a document past the
// bound costs no more than the bound to refuse.
func operationOf(method, path string, item *openapi3.PathItem, o *openapi3.Operation, left *int) (table.Operation, error) {
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
				Description: p.Description, Schema: clipLine(oneLine(p.Schema))})
		}
	}
	*left -= textSize(op)
	if *left < 0 {
		return op, errReferenceTooLarge
	}
	if rb := o.RequestBody; rb != nil && rb.Value != nil {
		*left -= len(rb.Value.Description)
		content, err := mediaOf(rb.Value.Content, left)
		if err != nil {
			return op, err
		}
		op.RequestBody = &table.Body{Description: rb.Value.Description, Required: rb.Value.Required, Content: content}
	}
	if o.Responses != nil {
		all := o.Responses.Map()
		for _, status := range slices.Sorted(maps.Keys(all)) {
			r := all[status]
			if r == nil || r.Value == nil {
				continue
			}
			desc := deref(r.Value.Description)
			*left -= len(status) + len(desc)
			content, err := mediaOf(r.Value.Content, left)
			if err != nil {
				return op, err
			}
			op.Responses = append(op.Responses, table.Response{Status: status, Description: desc, Content: content})
		}
	}
	return op, nil
}

// mediaOf summarises c's media types, taking their size from *left:
// errReferenceTooLarge when that passes 0.
func mediaOf(c openapi3.Content, left *int) ([]table.Media, error) {
	var out []table.Media
	for _, mt := range slices.Sorted(maps.Keys(c)) {
		m := table.Media{Type: mt}
		if c[mt] != nil {
			m.Schema = summary(c[mt].Schema)
		}
		if *left -= len(m.Type) + len(m.Schema); *left < 0 {
			return nil, errReferenceTooLarge
		}
		out = append(out, m)
	}
	return out, nil
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
	for i, e := range v.Enum { // no longer than a line needs
		if len(typ) > maxSummaryLine {
			break
		}
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		typ += sep + clipLine(fmt.Sprint(e))
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
	w.lines = append(w.lines, strings.Repeat("  ", depth)+clipLine(text))
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

// clipLine clips a summary's line to maxSummaryLine bytes (printable.Clip).
func clipLine(s string) string { return printable.Clip(s, maxSummaryLine) }
