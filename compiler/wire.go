package compiler

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cuegate/cuegate/compiler/table"
)

// result is what Compile returned, as MarshalResult encodes it: a table
// with its warnings and hash, or the diagnostics of an invalid
// configuration, or the text of any other error.
type result struct {
	Table       *table.Table      `json:"table,omitempty"`
	Hash        string            `json:"hash,omitempty"`
	Warnings    table.Diagnostics `json:"warnings,omitempty"`
	Diagnostics table.Diagnostics `json:"diagnostics,omitempty"`
	Error       string            `json:"error,omitempty"`
}

// MarshalResult encodes what Compile returned (t or err) as JSON, so that
// a configuration can be compiled in another process and read back with
// UnmarshalResult: the table with its warnings, the diagnostics with their
// positions, or the text of an I/O error.
func MarshalResult(t *table.Table, err error) []byte {
	var r result
	var diags table.Diagnostics
	switch {
	case errors.As(err, &diags):
		r.Diagnostics = diags
	case err != nil:
		r.Error = err.Error()
	default:
		r.Table, r.Hash, r.Warnings = t, t.Hash, t.Warnings
	}
	b, merr := json.Marshal(r)
	if merr != nil {
		panic("compiler: result does not encode: " + merr.Error()) // plain data
	}
	return b
}

// UnmarshalResult decodes what MarshalResult encoded and returns it as
// Compile returned it: a sealed Table equal to the one encoded (its hash
// is checked), Diagnostics (errors.Is(err, ErrInvalid)), or an error with
// the text of the original one. Bytes that are not such an encoding give
// an error that says so.
func UnmarshalResult(b []byte) (*table.Table, error) {
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("compiler: undecodable result: %w", err)
	}
	switch {
	case len(r.Diagnostics) > 0:
		return nil, r.Diagnostics
	case r.Error != "":
		return nil, errors.New(r.Error)
	case r.Table == nil:
		return nil, errors.New("compiler: result has neither a table nor an error")
	}
	t := r.Table
	t.Warnings = r.Warnings
	t.Seal()
	if t.Hash != r.Hash {
		return nil, fmt.Errorf("compiler: the table did not survive encoding (hash %s, want %s)", t.Hash, r.Hash)
	}
	return t, nil
}
