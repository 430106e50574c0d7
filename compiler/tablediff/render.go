package tablediff

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/cuegate/cuegate/compiler/table"
)

// everyMethod is how many keys table.RouteIndex.Owners gives a listen
// path whose APIs serve every method: the schema's methods and
// table.AnyOtherMethod.
var everyMethod = len(table.MethodsOf(nil).Names()) + 1

// Name is how the item is named in text: "api orders", "gateway".
func (it Item) Name() string {
	if it.ID == "" {
		return show(it.Group)
	}
	return show(it.Group) + " " + show(it.ID)
}

// show is s as written into a diff: as it is when it holds only
// printable characters other than space, '"' and '\', else quoted
// (strconv.Quote), so that a name from a table cannot start a line, fake
// a field or hide in invisible characters. The compiler restricts IDs
// already; a table read from a node (cuegate diff --against) is not
// trusted.
func show(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) || r == ' ' || r == '"' || r == '\\' }) {
		return strconv.Quote(s)
	}
	return s
}

// MethodNames names the route's methods: "GET, POST", or "every method".
func (r Route) MethodNames() string {
	if len(r.Methods) == everyMethod {
		return "every method"
	}
	names := make([]string, len(r.Methods))
	for i, m := range r.Methods {
		names[i] = show(m)
		if m == table.AnyOtherMethod {
			names[i] = "any other method"
		}
	}
	return strings.Join(names, ", ")
}

var _ fmt.Stringer = Route{}

// String is "route /orders/ GET: orders → orders_v2".
func (r Route) String() string {
	return fmt.Sprintf("route %s %s: %s → %s", show(r.ListenPath), r.MethodNames(), show(r.Old), show(r.New))
}

// value shows a field's JSON value, or "(none)" when it is absent. A
// character that is not printable (a control, C1 or bidirectional one,
// which json.Marshal leaves as it is) is written as its JSON escape, so
// that a value, which a pull request or a remote node chooses, can
// neither drive a terminal nor reorder the text around it; the value
// stays the same JSON.
func value(raw []byte) string {
	if raw == nil {
		return "(none)"
	}
	s := string(raw)
	if !strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strconv.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != unicode.ReplacementChar {
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		} else {
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// WriteText writes d for a terminal: one line per item, then one per
// changed field, indented, and one per route; nothing when d is empty.
func (d *Diff) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, it := range d.Items {
		fmt.Fprintf(&b, "%s: %s\n", it.Name(), it.Kind)
		for _, f := range it.Fields {
			fmt.Fprintf(&b, "  %s: %s → %s\n", show(f.Path), value(f.Old), value(f.New))
		}
	}
	for _, r := range d.Routes {
		fmt.Fprintln(&b, r)
	}
	for _, f := range d.Files {
		fmt.Fprintln(&b, fileLine(f))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fileLine is the line of a file whose contents changed (Diff.Files).
func fileLine(name string) string { return "file " + show(name) + ": contents changed" }

// WriteMarkdown writes d as a Markdown section fit for a pull-request
// comment: a heading, a table of changes and a table of routes.
func (d *Diff) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	if d.Empty() {
		b.WriteString("### cuegate diff: no change\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("### cuegate diff\n")
	if len(d.Items) > 0 {
		b.WriteString("\n| change | item | field | old | new |\n|---|---|---|---|---|\n")
		for _, it := range d.Items {
			if len(it.Fields) == 0 {
				fmt.Fprintf(&b, "| %s | %s | | | |\n", it.Kind, code(it.Name()))
			}
			for _, f := range it.Fields {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", it.Kind, code(it.Name()), code(show(f.Path)), code(value(f.Old)), code(value(f.New)))
			}
		}
	}
	if len(d.Routes) > 0 {
		b.WriteString("\n| route | methods | old API | new API |\n|---|---|---|---|\n")
		for _, r := range d.Routes {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", code(show(r.ListenPath)), code(r.MethodNames()), code(show(r.Old)), code(show(r.New)))
		}
	}
	if len(d.Files) > 0 {
		b.WriteString("\n| file named by the table | change |\n|---|---|\n")
		for _, f := range d.Files {
			fmt.Fprintf(&b, "| %s | contents changed |\n", code(show(f)))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// code is s as a Markdown code span inside a table cell: fenced with one
// more backtick than its longest run, with | escaped and line breaks made
// spaces, so that it cannot end its cell, row or span.
func code(s string) string {
	s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	run, longest := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	s = strings.ReplaceAll(s, "|", `\|`)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// Summary is d in short lines for a log: "api orders changed:
// upstream.timeout", "policy gold added", "route /orders/ GET: orders →
// orders_v2".
func (d *Diff) Summary() []string {
	out := make([]string, 0, len(d.Items)+len(d.Routes)+len(d.Files))
	for _, it := range d.Items {
		s := it.Name() + " " + string(it.Kind)
		if it.Kind == Changed {
			paths := make([]string, len(it.Fields))
			for i, f := range it.Fields {
				paths[i] = show(f.Path)
			}
			s += ": " + strings.Join(paths, ", ")
		}
		out = append(out, s)
	}
	for _, r := range d.Routes {
		out = append(out, r.String())
	}
	for _, f := range d.Files {
		out = append(out, fileLine(f))
	}
	return out
}
