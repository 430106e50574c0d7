package table

import (
	"encoding/json"
)

// Reference is an API's reference for developers, compiled from the
// OpenAPI document a catalogue entry names: what the portal renders, and
// the document itself for its JSON API. It holds plain data only.
type Reference struct {
	// File is the document's name in the configuration directory, as written.
	File string `json:"file"`
	// SHA256 is the hex SHA-256 of the file's bytes: a changed document
	// changes the table.
	SHA256 string `json:"sha256"`
	// Document is the whole document as JSON (converted from YAML).
	Document    json.RawMessage `json:"document"`
	OpenAPI     string          `json:"openapi"`
	Title       string          `json:"title"`
	Version     string          `json:"version"`
	Description string          `json:"description,omitempty"`
	// Tags group the operations: the document's tags in its order, then
	// tags only operations name, sorted, then "" for untagged operations.
	// An operation with several tags is in each of them.
	Tags []ReferenceTag `json:"tags"`
}

// ReferenceTag is a group of operations.
type ReferenceTag struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Operations  []Operation `json:"operations"`
}

// Operation is one method on one path of the document, sorted by path
// and then method.
type Operation struct {
	Method      string      `json:"method"`
	Path        string      `json:"path"`
	ID          string      `json:"id,omitempty"`
	Summary     string      `json:"summary,omitempty"`
	Description string      `json:"description,omitempty"`
	Deprecated  bool        `json:"deprecated,omitempty"`
	Parameters  []Parameter `json:"parameters,omitempty"`
	RequestBody *Body       `json:"request_body,omitempty"`
	Responses   []Response  `json:"responses,omitempty"`
}

// Parameter is an operation's parameter (the path item's ones included).
type Parameter struct {
	Name        string `json:"name"`
	In          string `json:"in"`
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description,omitempty"`
	// Schema is the parameter's schema summarised on one line.
	Schema string `json:"schema,omitempty"`
}

// Body is a request body.
type Body struct {
	Description string  `json:"description,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Content     []Media `json:"content,omitempty"`
}

// Response is an operation's answer for one status ("200", "4XX",
// "default"), sorted by status.
type Response struct {
	Status      string  `json:"status"`
	Description string  `json:"description,omitempty"`
	Content     []Media `json:"content,omitempty"`
}

// Media is one media type of a body, sorted by type, with its schema
// summarised as indented lines of text.
type Media struct {
	Type   string `json:"type"`
	Schema string `json:"schema,omitempty"`
}
