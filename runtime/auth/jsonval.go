package auth

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// parseObject parses b, a decoded JOSE header or claims set, with p. It
// accepts what encoding/json accepts into a map[string]any, and its
// strings read (through appendText) as encoding/json decodes them, except
// that it refuses an object with a repeated member name anywhere (RFC
// 7519 §4 allows it; encoding/json keeps the last) and nesting deeper than
// fastjson.MaxDepth. It returns nil for JSON null. It rewrites b in place
// (see replaceLoneSurrogates); the result is valid until p's next parse,
// and keys is scratch space.
func parseObject(p *fastjson.Parser, b []byte, keys *[][]byte) (*fastjson.Object, bool) {
	// fastjson's parser is lenient (control characters, unknown escapes,
	// NaN, "1-2"), and so is its validator (a control character before an
	// escape), whose error text also grows with the depth at which it
	// fails: encoding/json's validator, linear and exact, holds the input
	// to the JSON grammar once shallow has bounded its depth.
	*keys = (*keys)[:0]
	if !shallow(b, fastjson.MaxDepth) || !json.Valid(b) {
		return nil, false
	}
	replaceLoneSurrogates(b)
	v, err := p.ParseBytes(b)
	if err != nil {
		return nil, false
	}
	switch v.Type() {
	case fastjson.TypeNull:
		return nil, true
	case fastjson.TypeObject:
		return v.GetObject(), sound(v, keys)
	}
	return nil, false
}

// sound reports whether v holds no object with a repeated member name
// and no number outside float64's range, which encoding/json refuses.
func sound(v *fastjson.Value, keys *[][]byte) bool {
	switch v.Type() {
	case fastjson.TypeNumber:
		_, err := number(v)
		return err == nil
	case fastjson.TypeArray:
		for _, e := range v.GetArray() {
			if !sound(e, keys) {
				return false
			}
		}
	case fastjson.TypeObject:
		o := v.GetObject()
		start := len(*keys)
		o.Visit(func(k []byte, _ *fastjson.Value) { *keys = append(*keys, asText(k)) })
		names := (*keys)[start:]
		slices.SortFunc(names, bytes.Compare)
		for i := 1; i < len(names); i++ {
			if bytes.Equal(names[i-1], names[i]) {
				return false
			}
		}
		*keys = (*keys)[:start]
		ok := true
		o.Visit(func(_ []byte, e *fastjson.Value) { ok = ok && sound(e, keys) })
		return ok
	}
	return true
}

// number returns the number v holds as encoding/json reads it: as
// strconv.ParseFloat does (fastjson's own conversion rounds differently
// and does not report overflow), without allocating for an integer of up
// to 18 digits.
func number(v *fastjson.Value) (float64, error) {
	var buf [32]byte
	raw := v.MarshalTo(buf[:0])
	digits := bytes.TrimPrefix(raw, []byte{'-'})
	if len(digits) > 18 || bytes.ContainsFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) {
		return strconv.ParseFloat(string(raw), 64)
	}
	var n uint64
	for _, c := range digits {
		n = n*10 + uint64(c-'0')
	}
	f := float64(n) // rounded to nearest even, as ParseFloat does
	if len(digits) < len(raw) {
		f = -f
	}
	return f, nil
}

// appendText appends the bytes of a decoded JSON string to dst as encoding/json
// decodes them: each byte that is not part of valid UTF-8 becomes U+FFFD.
func appendText(dst, s []byte) []byte {
	if utf8.Valid(s) {
		return append(dst, s...)
	}
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return dst
}

// asText returns s as appendText decodes it: s itself when it is valid
// UTF-8, else a new copy.
func asText(s []byte) []byte {
	if utf8.Valid(s) {
		return s
	}
	return appendText(nil, s)
}

// replaceLoneSurrogates rewrites, in valid JSON b, each \u escape of a
// UTF-16 surrogate that is not the first half of a pair followed by its
// second as \uFFFD, the rune encoding/json decodes it to (fastjson would
// keep it as it is, or join it with a following escape of any kind).
func replaceLoneSurrogates(b []byte) {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return
		}
		i += j
		if b[i+1] != 'u' {
			i += 2
			continue
		}
		r := hex4(b[i+2:])
		switch {
		case !utf16.IsSurrogate(r):
		case r < 0xdc00 && len(b) >= i+12 && b[i+6] == '\\' && b[i+7] == 'u' &&
			utf16.DecodeRune(r, hex4(b[i+8:])) != utf8.RuneError:
			i += 6 // the pair
		default:
			copy(b[i+2:], "FFFD")
		}
		i += 6
	}
}

// hex4 returns the value of the four hex digits b starts with, which the
// validator has checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= 'a':
			c -= 'a' - 10
		case c >= 'A':
			c -= 'A' - 10
		default:
			c -= '0'
		}
		r = r<<4 | rune(c)
	}
	return r
}

// shallow reports whether the JSON text b nests arrays and objects at most
// limit deep, counting brackets outside strings; it reads b once.
func shallow(b []byte, limit int) bool {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > limit {
				return false
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return true
}
