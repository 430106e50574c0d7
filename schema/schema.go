// Package schema is the contract of a cuegate configuration: the CUE
// schema every configuration is checked against, and the Go types
// generated from it (cue_types_schema_gen.go) that the compiler decodes a
// checked configuration into. It holds no logic: the compiler owns how
// the schema is applied. After editing cuegate.cue, run go generate: it
// writes the Go types and the configuration reference,
// docs/configuration.md, from the schema's doc comments; a test fails
// while either is out of date.
package schema

import _ "embed"

//go:generate go run cuelang.org/go/cmd/cue@v0.17.1 exp gengotypes .
//go:generate go run ./internal/refdoc -o ../docs/configuration.md

// Source is the text of cuegate.cue.
//
//go:embed cuegate.cue
var Source string

// Filename is the name under which positions in Source are reported.
const Filename = "schema/cuegate.cue"
