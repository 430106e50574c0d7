// Package strictjson decodes JSON that cuegate itself wrote and must read
// back exactly: a state file, a bindings snapshot.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// ErrTrailing is Unmarshal's error for anything but white space after the
// JSON value.
var ErrTrailing = errors.New("trailing data after the JSON value")

// Unmarshal decodes the one JSON value in b into v. A field v does not
// have, or anything after the value (even a stray "]" or "}"), is an
// error.
func Unmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ErrTrailing
	}
	return nil
}
