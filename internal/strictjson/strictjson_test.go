package strictjson

import (
	"errors"
	"testing"
)

func TestUnmarshal(t *testing.T) {
	t.Parallel()
	type v struct {
		A int `json:"a"`
	}
	for _, tt := range []struct {
		in       string
		trailing bool
		ok       bool
	}{
		{`{"a":1}`, false, true},
		{"{\"a\":1}\n  ", false, true},
		{`{"a":1} ]`, true, false},
		{`{"a":1} }`, true, false},
		{`{"a":1}{"a":2}`, true, false},
		{`{"a":1} x`, true, false},
		{`{"b":1}`, false, false},
		{`{"a":`, false, false},
	} {
		var got v
		err := Unmarshal([]byte(tt.in), &got)
		if (err == nil) != tt.ok || errors.Is(err, ErrTrailing) != tt.trailing {
			t.Errorf("Unmarshal(%q) = %v", tt.in, err)
		}
	}
}
