// Command refdoc writes the configuration reference, docs/configuration.md,
// from the CUE schema: every field reachable from #Config, in the order
// the schema declares it, with its type or constraint, its default and its
// doc comment, then the named types the fields use. It knows no field by
// name, so a field added to the schema appears in the reference with the
// next go generate; a test fails while the checked-in file is stale.
//
// Usage: go run ./internal/refdoc -o FILE (from the schema directory).
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("o", "", "the file to write")
	flag.Parse()
	if *out == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: refdoc -o FILE")
		os.Exit(2)
	}
	doc, err := Generate()
	if err == nil {
		err = os.WriteFile(*out, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "refdoc:", err)
		os.Exit(1)
	}
}
