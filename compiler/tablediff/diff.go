// Package tablediff compares two compiled tables by what they mean, not by
// the text they were written in: the compiler has already filled in
// defaults, dropped comments and layout and sorted what has no order, so
// two configurations that differ only in those compare equal. Secrets are
// references in a table, and compare as references.
//
// The comparison walks the tables' canonical JSON, so a field added to
// the model is compared without a change here. Everything in this package
// is a pure function of its arguments and safe for concurrent use.
package tablediff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
)

// Kind is what happened to an item.
type Kind string

// The kinds of change.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	Changed Kind = "changed"
)

// Field is one changed field of an item: its dotted path inside the item
// and its values as JSON. Old is nil when the field was absent, New when
// it is absent now.
type Field struct {
	Path string          `json:"path"`
	Old  json.RawMessage `json:"old,omitempty"`
	New  json.RawMessage `json:"new,omitempty"`
}

// Item is one identity provider, API, policy or catalogue entry (Group
// "idp", "api", "policy", "catalogue"; ID set), or one block of settings
// (Group "gateway", "portal", "cluster" or the name of a block a newer
// model adds; ID empty). Fields is set for a changed item.
type Item struct {
	Group  string  `json:"group"`
	ID     string  `json:"id,omitempty"`
	Kind   Kind    `json:"kind"`
	Fields []Field `json:"fields,omitempty"`
}

// Route is a change of the API that serves some methods on a listen
// path. Methods holds method names and table.AnyOtherMethod.
type Route struct {
	ListenPath string   `json:"listen_path"`
	Methods    []string `json:"methods"`
	Old        string   `json:"old"`
	New        string   `json:"new"`
}

// Diff is what changes from one table to another: Items in group order
// (gateway, cluster, portal, idp, api, policy, catalogue, then any other
// group by name), then by ID; Routes by listen path.
type Diff struct {
	Items  []Item  `json:"items"`
	Routes []Route `json:"routes"`
	// Files are the files the new table names (certificates, keys, CA
	// bundles, secret files, OpenAPI documents), relative to its
	// configuration directory, whose contents differ from the old side's:
	// the table holds the paths of most, not their contents. The caller
	// sets it, when it has both directories.
	Files []string `json:"files,omitempty"`
}

// Empty reports whether the two tables mean the same, and the files they
// name hold the same.
func (d *Diff) Empty() bool { return len(d.Items) == 0 && len(d.Routes) == 0 && len(d.Files) == 0 }

// collections are the JSON objects whose members are items of their own:
// the path of the object in the table, and the group of its items.
var collections = []struct{ path, group string }{
	{"idps", "idp"},
	{"apis", "api"},
	{"policies", "policy"},
	{"portal.catalogue", "catalogue"},
}

// groupOrder is the rank of each known group; unknown groups come after.
var groupOrder = map[string]int{"gateway": 0, "cluster": 1, "portal": 2, "idp": 3, "api": 4, "policy": 5, "catalogue": 6}

// Tables compares two sealed tables.
func Tables(old, new *table.Table) *Diff {
	d, err := JSON(old.JSON(), new.JSON())
	if err != nil {
		panic("tablediff: a table's own JSON does not decode: " + err.Error())
	}
	return d
}

// JSON compares two tables in their JSON encoding (Table.JSON, or a
// node's GET /table). A field either side does not know is compared like
// any other.
func JSON(old, new []byte) (*Diff, error) {
	a, err := decode(old)
	if err != nil {
		return nil, fmt.Errorf("tablediff: old table: %w", err)
	}
	b, err := decode(new)
	if err != nil {
		return nil, fmt.Errorf("tablediff: new table: %w", err)
	}
	d := &Diff{Items: []Item{}, Routes: []Route{}}
	for _, c := range collections {
		d.Items = append(d.Items, collection(c.group, take(a.tree, c.path), take(b.tree, c.path))...)
	}
	// What is left are settings blocks, each listed under its JSON key.
	for _, key := range slices.Sorted(maps.Keys(union(a.tree, b.tree))) {
		if it, ok := block(key, a.tree[key], b.tree[key]); ok {
			d.Items = append(d.Items, it)
		}
	}
	slices.SortStableFunc(d.Items, func(x, y Item) int {
		if c := rank(x.Group) - rank(y.Group); c != 0 {
			return c
		}
		if c := strings.Compare(x.Group, y.Group); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	d.Routes = routes(a.routes, b.routes)
	return d, nil
}

func rank(group string) int {
	if r, ok := groupOrder[group]; ok {
		return r
	}
	return len(groupOrder)
}

// side is one table: its JSON as generic values, and who serves what.
type side struct {
	tree   map[string]any
	routes map[string]map[string]string
}

func decode(raw []byte) (side, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree map[string]any
	if err := dec.Decode(&tree); err != nil {
		return side{}, err
	}
	if tree == nil {
		return side{}, fmt.Errorf("not a table: %s", bytes.TrimSpace(raw[:min(len(raw), 40)]))
	}
	var t table.Table
	if err := json.Unmarshal(raw, &t); err != nil {
		return side{}, err
	}
	if err := wellFormed(&t); err != nil {
		return side{}, err
	}
	t.Seal()
	return side{tree, t.Routes.Owners()}, nil
}

// wellFormed checks what a table read from elsewhere (a node's /table)
// must hold before it is sealed: every item of idps, apis, policies and
// the catalogue is an object whose id is its key.
func wellFormed(t *table.Table) error {
	if err := entries("idps", t.IdPs, func(e *table.IdP) string { return e.ID }); err != nil {
		return err
	}
	if err := entries("apis", t.APIs, func(e *table.API) string { return e.ID }); err != nil {
		return err
	}
	if err := entries("policies", t.Policies, func(e *table.Policy) string { return e.ID }); err != nil {
		return err
	}
	return entries("portal.catalogue", t.Portal.Catalogue, func(e *table.CatalogueEntry) string { return e.ID })
}

// entries checks the items of one collection at path: none nil, each
// with id(e) its key.
func entries[E any](path string, m map[string]*E, id func(*E) string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch e := m[k]; {
		case e == nil:
			return fmt.Errorf("%s.%s: not an object", path, strconv.Quote(k))
		case id(e) != k:
			return fmt.Errorf("%s.%s: its id is %s", path, strconv.Quote(k), strconv.Quote(id(e)))
		}
	}
	return nil
}

// take removes the object at the dotted path from tree and returns it, so
// that the block holding it does not report it again.
func take(tree map[string]any, path string) map[string]any {
	parent, key := tree, path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		p, _ := tree[path[:i]].(map[string]any)
		if p == nil {
			return nil
		}
		parent, key = p, path[i+1:]
	}
	obj, _ := parent[key].(map[string]any)
	delete(parent, key)
	return obj
}

// collection compares two objects whose members are items of group.
func collection(group string, a, b map[string]any) []Item {
	var out []Item
	for _, id := range slices.Sorted(maps.Keys(union(a, b))) {
		x, inA := a[id]
		y, inB := b[id]
		switch {
		case !inA:
			out = append(out, Item{Group: group, ID: id, Kind: Added})
		case !inB:
			out = append(out, Item{Group: group, ID: id, Kind: Removed})
		default:
			if fs := fields("", x, y); len(fs) > 0 {
				out = append(out, Item{Group: group, ID: id, Kind: Changed, Fields: fs})
			}
		}
	}
	return out
}

// block compares one settings block; absent or null is no block.
func block(group string, a, b any) (Item, bool) {
	switch {
	case a == nil && b == nil:
		return Item{}, false
	case a == nil:
		return Item{Group: group, Kind: Added, Fields: fields("", map[string]any{}, b)}, true
	case b == nil:
		return Item{Group: group, Kind: Removed}, true
	}
	fs := fields("", a, b)
	return Item{Group: group, Kind: Changed, Fields: fs}, len(fs) > 0
}

// fields lists where a and b differ below path: objects member by member,
// anything else (lists too) as a whole.
func fields(path string, a, b any) []Field {
	oa, okA := a.(map[string]any)
	ob, okB := b.(map[string]any)
	if okA && okB {
		var out []Field
		for _, k := range slices.Sorted(maps.Keys(union(oa, ob))) {
			x, inA := oa[k]
			y, inB := ob[k]
			p := join(path, k)
			switch {
			case !inA:
				out = append(out, Field{Path: p, New: encode(y)})
			case !inB:
				out = append(out, Field{Path: p, Old: encode(x)})
			default:
				out = append(out, fields(p, x, y)...)
			}
		}
		return out
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []Field{{Path: path, Old: encode(a), New: encode(b)}}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func encode(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("tablediff: decoded JSON does not encode: " + err.Error())
	}
	return b
}

func union[V any](a, b map[string]V) map[string]struct{} {
	out := make(map[string]struct{}, len(a)+len(b))
	for k := range a {
		out[k] = struct{}{}
	}
	for k := range b {
		out[k] = struct{}{}
	}
	return out
}

// routes lists the methods whose API changes on a listen path both tables
// serve them on, the methods of one change together.
func routes(a, b map[string]map[string]string) []Route {
	out := []Route{}
	for _, path := range slices.Sorted(maps.Keys(a)) {
		byPair := map[[2]string][]string{}
		for m, oldID := range a[path] {
			if newID, ok := b[path][m]; ok && newID != oldID {
				pair := [2]string{oldID, newID}
				byPair[pair] = append(byPair[pair], m)
			}
		}
		for _, pair := range slices.SortedFunc(maps.Keys(byPair), func(x, y [2]string) int {
			return strings.Compare(x[0]+"\x00"+x[1], y[0]+"\x00"+y[1])
		}) {
			out = append(out, Route{ListenPath: path, Methods: slices.Sorted(slices.Values(byPair[pair])), Old: pair[0], New: pair[1]})
		}
	}
	return out
}
