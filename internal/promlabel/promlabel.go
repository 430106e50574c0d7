// Package promlabel writes Prometheus label values. It is shared by the
// runtime and its subpackages, which name their series by API and IdP ID.
package promlabel

import "strings"

var escaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// Quote returns v as a quoted label value of the Prometheus text format:
// in double quotes, with backslash, double quote and newline escaped, so
// that `name{label=` + Quote(v) + `}` is one well-formed series name
// whatever v holds. It is safe for concurrent use.
func Quote(v string) string {
	return `"` + escaper.Replace(v) + `"`
}
