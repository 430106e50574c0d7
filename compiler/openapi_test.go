package compiler_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/internal/testutil"
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
	doc := testutil.ReadFile(t, "testdata/openapi/orders.openapi.yaml")
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
	testutil.WriteFile(t, filepath.Join(dir, "orders.openapi.yaml"), string(doc)+"# edited\n", 0o644)
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
	testutil.WriteFile(t, outside, "openapi: 3.0.3\n", 0o644)
	dir := writeFiles(t, map[string]string{"cfg.cue": openapiConfig("link.yaml")})
	if err := os.Symlink(outside, filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	_, err := compiler.Compile(dir)
	if err == nil || !strings.Contains(err.Error(), "OpenAPI document link.yaml: path escapes from parent") {
		t.Fatalf("Compile = %v, want the escape refused", err)
	}
}

// TestOpenAPISecretFileRefused: an OpenAPI document that is, under
// another name, the file a #Secret reads is refused before it is read,
// and no finding repeats what the file holds.
func TestOpenAPISecretFileRefused(t *testing.T) {
	t.Parallel()
	const secret = "p@ssw0rd!"
	for name, tc := range map[string]struct {
		ref  func(dir string) string // the secret's file reference
		link func(dir string) error  // makes doc.yaml lead to secret.txt
	}{
		"symbolic link": {
			ref:  func(string) string { return "secret.txt" },
			link: func(dir string) error { return os.Symlink("secret.txt", filepath.Join(dir, "doc.yaml")) },
		},
		"hard link": {
			ref: func(string) string { return "secret.txt" },
			link: func(dir string) error {
				return os.Link(filepath.Join(dir, "secret.txt"), filepath.Join(dir, "doc.yaml"))
			},
		},
		"absolute reference": {
			ref: func(dir string) string { return filepath.Join(dir, "doc.yaml") },
			link: func(dir string) error {
				return os.Rename(filepath.Join(dir, "secret.txt"), filepath.Join(dir, "doc.yaml"))
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"secret.txt": secret + "\n"})
			cfg := strings.Replace(openapiConfig("doc.yaml"), "package cfg\n", "package cfg\n\ngateway: admin_token: file: \""+tc.ref(dir)+"\"\n", 1)
			testutil.WriteFile(t, filepath.Join(dir, "cfg.cue"), cfg, 0o644)
			if err := tc.link(dir); err != nil {
				t.Fatal(err)
			}
			_, err := compiler.Compile(dir)
			if err == nil || !strings.Contains(err.Error(), "OpenAPI document doc.yaml: is a file the configuration reads a secret") {
				t.Fatalf("Compile = %v, want the document refused", err)
			}
		})
	}
}

// TestOpenAPIParseErrorQuotesNothing: a file that is no OpenAPI document
// (a password, an env file, a key) is refused without a word of what it
// holds, with its line.
func TestOpenAPIParseErrorQuotesNothing(t *testing.T) {
	t.Parallel()
	for i, content := range []string{
		"p@ssw0rd!",
		"REDIS_PASSWORD=hunter2hunter2",
		"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
		"token: 's3cr3tvalue'",
		`{"openapi": s3cr3tvalue}`,
		"openapi: [s3cr3tvalue]",
		"- s3cr3tvalue",
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"cfg.cue": openapiConfig("doc.yaml"), "doc.yaml": content + "\n"})
			_, err := compiler.Compile(dir)
			if err == nil {
				t.Fatal("compiled")
			}
			msg := err.Error()
			for _, word := range strings.FieldsFunc(content, func(r rune) bool { return strings.ContainsRune(" \n:=-{}[]'\"", r) }) {
				if len(word) >= 5 && word != "openapi" && strings.Contains(msg, word[:5]) {
					t.Errorf("the finding quotes %q of the file:\n%s", word, msg)
				}
			}
			if !strings.Contains(msg, "OpenAPI document doc.yaml") {
				t.Errorf("the finding does not name the file:\n%s", msg)
			}
		})
	}
}

// nestedPrefix opens a JSON OpenAPI document up to its extension x-deep.
const nestedPrefix = `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{},"x-deep":`

// nestedDocument is a JSON OpenAPI document whose mappings nest depth
// levels deep (the document itself is the first), in an extension.
func nestedDocument(depth int) string {
	return nestedPrefix + strings.Repeat(`{"a":`, depth-1) + "1" + strings.Repeat("}", depth-1) + "}"
}

// TestOpenAPIDepthBound: a document nested deeper than 128 levels is
// refused before it is loaded, at the position of the first level too
// many; one at the bound compiles. The loader and the JSON encoding cost
// the square of a document's depth, so the bound is what keeps a
// document of a few MiB within the compile's budget.
func TestOpenAPIDepthBound(t *testing.T) {
	t.Parallel()
	const tooDeep = " nests mappings and sequences deeper than 128 levels"
	at129 := "OpenAPI document doc.json:1:" + strconv.Itoa(len(nestedPrefix)+1+len(`{"a":`)*127) + tooDeep
	for _, tt := range []struct {
		depth int
		want  string
	}{
		{128, ""},
		{129, at129},
		{1000, at129},
		{100_000, "OpenAPI document doc.json" + tooDeep}, // too deep for the parser itself
	} {
		t.Run(strconv.Itoa(tt.depth), func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"cfg.cue": openapiConfig("doc.json"), "doc.json": nestedDocument(tt.depth)})
			_, err := compiler.Compile(dir)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Compile = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Compile = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestOpenAPIAliasRefused: a YAML alias is refused at its position. The
// loader expands aliases, so a chain of anchors each within the depth
// bound would nest far deeper than it.
func TestOpenAPIAliasRefused(t *testing.T) {
	t.Parallel()
	doc := "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths: {}\nx-a: &a {b: 1}\nx-c: {d: *a}\n"
	dir := writeFiles(t, map[string]string{"cfg.cue": openapiConfig("doc.yaml"), "doc.yaml": doc})
	_, err := compiler.Compile(dir)
	if want := "OpenAPI document doc.yaml:5:10 uses a YAML alias"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Compile = %v, want %q", err, want)
	}
}

// TestOpenAPIDocumentSharedByEntries: entries that name the same
// document share its reference, compiled once.
func TestOpenAPIDocumentSharedByEntries(t *testing.T) {
	t.Parallel()
	doc := testutil.ReadFile(t, "testdata/openapi/orders.openapi.yaml")
	cfg := openapiConfig("orders.yaml") + `portal: catalogue: again: {name: "Again", api: "orders", policy: "basic", openapi: "orders.yaml"}` + "\n"
	tb, err := compiler.Compile(writeFiles(t, map[string]string{"cfg.cue": cfg, "orders.yaml": string(doc)}))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := tb.Portal.Catalogue["orders"].Reference, tb.Portal.Catalogue["again"].Reference; a == nil || a != b {
		t.Errorf("references %p and %p, want one shared", a, b)
	}
}
