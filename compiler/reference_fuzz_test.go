package compiler

import (
	"encoding/json"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// FuzzReference: any document either compiles into a reference whose
// document is JSON, or is an error; it never panics or hangs.
func FuzzReference(f *testing.F) {
	for _, name := range []string{"testdata/openapi/orders.openapi.yaml"} {
		src := testutil.ReadFile(f, name)
		f.Add(src)
	}
	f.Add([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"tags":["x","x"],"responses":{"200":{"description":"ok"}}}}}}`))
	f.Add([]byte("openapi: 3.0.3\ninfo: [\n"))
	f.Add([]byte(`{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{},"components":{"schemas":{"A":{"type":"object","properties":{"a":{"$ref":"#/components/schemas/A"}}}}}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		ref, err := compileReference("doc.yaml", src)
		if err != nil {
			return
		}
		if !json.Valid(ref.Document) || len(ref.SHA256) != 64 {
			t.Fatalf("reference %+v", ref)
		}
	})
}
