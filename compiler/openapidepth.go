package compiler

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxDocumentDepth bounds the nesting of an OpenAPI document's mappings
// and sequences: some 60 levels of nested property schemas below an
// operation, far more than a real API describes. The loader and the JSON
// encoding of a schema cost the square of its depth (each level encodes
// its whole subtree again), so a deeper document of a few MiB would take
// the compile's whole budget.
const maxDocumentDepth = 128

// depthProblem returns an error naming the file name and the line and
// column in src, its content, of the first mapping or sequence nested
// deeper than maxDocumentDepth, or nil; a document that does not parse
// is left to the loader, which says why, but for one too deep for the
// parser itself. A YAML alias is refused at its position too: the loader
// expands it, so a chain of aliases would nest deeper than the bound
// while each anchor stays within it (an OpenAPI document refers with
// $ref).
func depthProblem(name string, src []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		if strings.Contains(err.Error(), "exceeded max depth") {
			return fmt.Errorf("OpenAPI document %s %s", name, tooDeepAdvice)
		}
		return nil
	}
	if n := tooDeep(&root, 0); n != nil {
		advice := tooDeepAdvice
		if n.Kind == yaml.AliasNode {
			advice = aliasAdvice
		}
		return fmt.Errorf("OpenAPI document %s:%d:%d %s", name, n.Line, n.Column, advice)
	}
	return nil
}

// aliasAdvice says what is wrong with a document that uses a YAML alias.
const aliasAdvice = "uses a YAML alias (*name): refer to shared parts with $ref instead"

// tooDeepAdvice says what is wrong with a document past maxDocumentDepth.
var tooDeepAdvice = fmt.Sprintf("nests mappings and sequences deeper than %d levels: flatten it (name deep schemas under components and $ref them)", maxDocumentDepth)

// tooDeep returns the first alias, or mapping or sequence nested deeper
// than maxDocumentDepth, under n, which is inside d of them; or nil.
func tooDeep(n *yaml.Node, d int) *yaml.Node {
	switch n.Kind {
	case yaml.AliasNode:
		return n
	case yaml.MappingNode, yaml.SequenceNode:
		if d++; d > maxDocumentDepth {
			return n
		}
	}
	for _, c := range n.Content {
		if deep := tooDeep(c, d); deep != nil {
			return deep
		}
	}
	return nil
}
