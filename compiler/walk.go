package compiler

import (
	"reflect"
	"strings"

	"github.com/cuegate/cuegate/schema"
)

// walkConfig calls visit with every value of raw, depth first, and the
// path of its field (map entries by key, in no set order; list elements
// by index), so that a check of every value of one kind covers the fields
// the schema gains later without a change. visit returns whether to go on
// into the value.
func walkConfig(raw *schema.Config, visit func(at fieldPath, v reflect.Value) bool) {
	var walk func(at fieldPath, v reflect.Value)
	walk = func(at fieldPath, v reflect.Value) {
		if !visit(at, v) {
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !v.IsNil() {
				walk(at, v.Elem())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if f := v.Type().Field(i); f.IsExported() {
					walk(at.field(jsonName(f)), v.Field(i))
				}
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(at.key(it.Key().String()), it.Value())
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(at.index(i), v.Index(i))
			}
		}
	}
	walk(nil, reflect.ValueOf(raw).Elem())
}

// jsonName is the configuration's name of a field of the schema's Go
// types: its JSON name.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
