// Package schema embeds the CUE schema that every cuegate configuration is
// checked against. It holds no logic: the compiler owns how it is applied.
package schema

import _ "embed"

// Source is the text of cuegate.cue.
//
//go:embed cuegate.cue
var Source string

// Filename is the name under which positions in Source are reported.
const Filename = "schema/cuegate.cue"
