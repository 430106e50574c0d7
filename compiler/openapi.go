package compiler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/printable"
)

// reference reads, parses and validates the OpenAPI document name (a
// catalogue entry's openapi, at q) and compiles it into the entry's
// reference; nil after recording an error that names the file, and the
// line in it where the parser or the validator gives one.
//
// The file must be a regular file inside the configuration directory,
// named by a relative path: a name with "..", an absolute one, or one
// whose symbolic links lead out of the directory is refused (os.Root
// enforces it as the file is opened), and so is a file the configuration
// reads a secret from (see secretFiles), whose content a parser's message
// could quote. External $refs (other files, URLs)
// are refused, so the compile reads nothing else and never calls out.
//
// Each document is read and compiled once per compile: entries that name
// the same file share its reference, or its error.
func (c *compilation) reference(q fieldPath, name string) *table.Reference {
	d, ok := c.documents[name]
	if !ok {
		var src []byte
		if src, d.err = c.readDocument(name); d.err == nil {
			d.ref, d.err = compileReference(name, src)
		}
		if c.documents == nil {
			c.documents = map[string]document{}
		}
		c.documents[name] = d
	}
	if d.err != nil {
		c.errorf(q, "%v", d.err)
	}
	return d.ref
}

// document is what one OpenAPI document compiled into: its reference,
// or the error that names it.
type document struct {
	ref *table.Reference
	err error
}

// compileReference parses and validates src, the OpenAPI document in
// the file name, and summarises it; an error names the file, and its
// line where the parser or the validator gives one.
func compileReference(name string, src []byte) (*table.Reference, error) {
	if err := depthProblem(name, src); err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	loader.IncludeOrigin = true
	doc, err := loader.LoadFromData(src)
	line := 0
	if err == nil {
		// Before validation, whose messages would repeat such a path.
		if line, err = pathProblem(doc); err == nil {
			err = doc.Validate(context.Background())
			line = validationLine(doc, err)
		}
	} else {
		line, err = parseProblem(err)
	}
	at := name
	if line > 0 {
		at = fmt.Sprintf("%s:%d", name, line)
	}
	if err != nil {
		return nil, fmt.Errorf("OpenAPI document %s is not valid: %w", at, err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI document %s cannot be encoded as JSON: %w", name, err)
	}
	sum := sha256.Sum256(src)
	ref, err := referenceOf(doc)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI document %s: %w", name, err)
	}
	ref.File, ref.SHA256, ref.Document = name, hex.EncodeToString(sum[:]), js
	return ref, nil
}

// readDocument reads the file name from the configuration directory; see
// reference for what is refused. Errors name the file, never its content.
func (c *compilation) readDocument(name string) ([]byte, error) {
	if filepath.IsAbs(name) || !filepath.IsLocal(name) {
		return nil, fmt.Errorf("OpenAPI document %q must be a relative path inside the configuration directory, without \"..\"", name)
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return nil, fmt.Errorf("OpenAPI document %s: %w", name, err)
	}
	defer root.Close()
	fi, err := root.Stat(name)
	if err == nil && c.isSecretFile(name, fi) {
		err = errors.New("is a file the configuration reads a secret or a TLS certificate or key from: it is not read as a document")
	}
	if err != nil {
		return nil, fmt.Errorf("OpenAPI document %s: %w", name, pathless(err))
	}
	src, err := table.ReadFileIn(root, name, table.MaxConfigFileBytes)
	if _, ok := errors.AsType[*table.ErrTooLarge](err); ok {
		return nil, fmt.Errorf("OpenAPI document %s is larger than %d MiB", name, table.MaxConfigFileBytes>>20)
	}
	if err != nil {
		return nil, fmt.Errorf("OpenAPI document %s: %w", name, pathless(err))
	}
	return src, nil
}

// pathless is err without the path of an *os.PathError, which the
// caller names already.
func pathless(err error) error {
	if pe, ok := errors.AsType[*os.PathError](err); ok {
		return pe.Err
	}
	return err
}

// maxOpenAPIPath bounds a path of an OpenAPI document.
const maxOpenAPIPath = 2000

// pathProblem returns the line of the first of doc's paths that is not
// printable text (printable.Problem: control, bidi or invisible
// characters, which would make the page and its curl lines show other
// than they do) and an error saying why, or 0 and nil.
func pathProblem(doc *openapi3.T) (int, error) {
	if doc.Paths == nil {
		return 0, nil
	}
	for _, path := range slices.Sorted(maps.Keys(doc.Paths.Map())) {
		if p := printable.Problem(path, maxOpenAPIPath); p != "" {
			line := 0
			if o := doc.Paths.Value(path).Origin; o != nil && o.Key != nil {
				line = o.Key.Line
			}
			return line, fmt.Errorf("the path %+q %s", printable.Clip(path, 100), p)
		}
	}
	return 0, nil
}

// yamlLine finds the line in a YAML parser's message.
var yamlLine = regexp.MustCompile(`line (\d+):`)

// errNotOpenAPI stands for a parser's message that quotes the document.
var errNotOpenAPI = errors.New("it does not parse as an OpenAPI document in YAML or JSON (the parser's message is not shown: it quotes the file)")

// parseProblem returns the line a loader's error names, or 0, and the
// error to show: a parser's message that quotes the file (`…`, '…' or
// "…": the YAML and JSON parsers quote the start of a value they cannot
// use) becomes errNotOpenAPI, so no diagnostic repeats what a file holds
// that is no OpenAPI document at all.
func parseProblem(err error) (int, error) {
	line := 0
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	if strings.HasPrefix(msg, "failed to unmarshal data:") && strings.ContainsAny(msg, "`'\"") {
		return line, errNotOpenAPI
	}
	return line, err
}

// validationLine returns the line in the document of the operation or
// path item a validation error is about, or 0 when it cannot tell (the
// parser's own errors name their line in their text).
func validationLine(doc *openapi3.T, err error) int {
	pe, ok := errors.AsType[*openapi3.PathValidationError](err)
	if !ok || doc.Paths == nil {
		return 0
	}
	item := doc.Paths.Value(pe.Path)
	if item == nil {
		return 0
	}
	origin := item.Origin
	if oe, ok := errors.AsType[*openapi3.OperationValidationError](err); ok {
		if op := item.GetOperation(strings.ToUpper(oe.Method)); op != nil && op.Origin != nil {
			origin = op.Origin
		}
	}
	if origin == nil || origin.Key == nil {
		return 0
	}
	return origin.Key.Line
}
