package compiler

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// hostileDocument is a small OpenAPI document whose operations all use
// one schema, Big, of many properties with long descriptions and enums.
func hostileDocument(t *testing.T, operations int) []byte {
	t.Helper()
	props := map[string]any{}
	for i := range 100 {
		props[fmt.Sprintf("p%d", i)] = map[string]any{"type": "string", "description": strings.Repeat("d", 10000),
			"enum": []string{strings.Repeat("e", 5000), strings.Repeat("f", 5000)}}
	}
	paths := map[string]any{}
	for i := range operations {
		paths[fmt.Sprintf("/a%d", i)] = map[string]any{"get": map[string]any{"responses": map[string]any{"200": map[string]any{
			"description": "ok", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Big"}}}}}}}
	}
	src, err := json.Marshal(map[string]any{"openapi": "3.0.3", "info": map[string]any{"title": "t", "version": "1"},
		"paths": paths, "components": map[string]any{"schemas": map[string]any{"Big": map[string]any{"type": "object", "properties": props}}}})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestReferenceBounded: a $ref used by many operations cannot make a
// small document compile into a huge reference: lines of a summary are
// clipped, and the reference as a whole past maxReferenceBytes is an
// error naming the file.
func TestReferenceBounded(t *testing.T) {
	t.Parallel()
	ref, err := compileReference("few.json", hostileDocument(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range ref.Tags[0].Operations {
		for _, line := range strings.Split(op.Responses[0].Content[0].Schema, "\n") {
			if len(line) > 2*maxSchemaDepth+maxSummaryLine+len("…") {
				t.Fatalf("a summary line of %d bytes", len(line))
			}
		}
	}
	_, err = compileReference("many.json", hostileDocument(t, 1000))
	if !errors.Is(err, errReferenceTooLarge) || !strings.Contains(err.Error(), "OpenAPI document many.json") {
		t.Errorf("compileReference = %v, want the reference refused naming many.json", err)
	}
}

// TestOpenAPIPathsPrintable: a path with a control, bidi or invisible
// character is refused at its line, since the page and its curl lines
// would show other than they do.
func TestOpenAPIPathsPrintable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ path, want string }{
		{`/orders/\u202e{id}`, "U+202E"},
		{`/orders/\u2066{id}`, "U+2066"},
		{`/orders\u0007`, "U+0007"},
		{`/orders/\u200b{id}`, "U+200B"},
	} {
		src := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /ok:\n    get: {responses: {'200': {description: ok}}}\n  \"" + tt.path + "\":\n    get: {responses: {'200': {description: ok}}}\n"
		_, err := compileReference("doc.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "doc.yaml:6") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("path %s: %v, want refused at doc.yaml:6 naming %s", tt.path, err, tt.want)
		}
	}
}
