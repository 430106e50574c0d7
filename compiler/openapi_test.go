package compiler_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler"
)

// openapiConfig is a configuration whose catalogue entry "orders" names
// the OpenAPI document file.
func openapiConfig(file string) string {
	return `package cfg

apis: orders: {
	name:        "Orders"
	listen_path: "/orders"
	upstream: targets: ["http://127.0.0.1:9000"]
	auth: keyless: true
}
policies: basic: {name: "Basic", access: orders: {}}
portal: catalogue: orders: {name: "Orders", api: "orders", policy: "basic", openapi: "` + file + `"}
`
}

func TestOpenAPIReference(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("testdata/openapi/orders.openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{"cfg.cue": openapiConfig("orders.openapi.yaml"), "orders.openapi.yaml": string(doc)})
	tb, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref := tb.Portal.Catalogue["orders"].Reference
	if ref == nil {
		t.Fatal("no reference")
	}
	if ref.Title != "Orders" || ref.Version != "2.1" || len(ref.SHA256) != 64 || !strings.HasPrefix(string(ref.Document), "{") {
		t.Errorf("reference = %+v", ref)
	}
	var got []string
	for _, tag := range ref.Tags {
		for _, op := range tag.Operations {
			got = append(got, tag.Name+" "+op.Method+" "+op.Path)
		}
	}
	if want := "orders POST /orders|orders GET /orders/{id}| GET /health"; strings.Join(got, "|") != want {
		t.Errorf("operations = %q, want %q", strings.Join(got, "|"), want)
	}
	get := ref.Tags[0].Operations[1]
	if len(get.Parameters) != 1 || get.Parameters[0].Schema != "string (uuid)" || !get.Parameters[0].Required {
		t.Errorf("parameters = %+v", get.Parameters)
	}
	wantSchema := "Order\n  parent: Order\n    …\n  quantity: integer (int32)\n  sku: string, required — The article."
	if s := get.Responses[0].Content[0].Schema; s != wantSchema {
		t.Errorf("schema summary =\n%s\nwant\n%s", s, wantSchema)
	}

	// A changed document is a changed table.
	if err := os.WriteFile(filepath.Join(dir, "orders.openapi.yaml"), append(doc, "# edited\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	tb2, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tb2.Hash == tb.Hash {
		t.Error("the table's hash did not change with the document")
	}
}

// TestOpenAPISymlinkEscape: a document reached through a symbolic link
// that leads out of the configuration directory is refused.
func TestOpenAPISymlinkEscape(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("openapi: 3.0.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{"cfg.cue": openapiConfig("link.yaml")})
	if err := os.Symlink(outside, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := compiler.Compile(dir)
	if err == nil || !strings.Contains(err.Error(), "OpenAPI document link.yaml: path escapes from parent") {
		t.Fatalf("Compile = %v, want the escape refused", err)
	}
}
