// Package jsonlog is what the gateway's log lines share beyond zerolog:
// the "time" field formatted once a second, and the JSON string encoding
// of zerolog, for the one line the gateway writes without a zerolog event
// (the access line, written per request; see runtime).
//
// Every line stays byte-for-byte what zerolog would write: the tests
// compare against zerolog itself.
package jsonlog

import (
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// Stamp formats the "time" field as zerolog's Timestamp() does by default
// (time.RFC3339: whole seconds, local zone), but each second once instead
// of once per line. The zero Stamp is ready; it is safe for concurrent
// use.
//
// A Stamp is also a zerolog.Hook that adds the field at the time of the
// event, in the place Timestamp() puts it when it is the only hook: after
// the event's fields, before the message.
type Stamp struct {
	cur atomic.Pointer[second]
}

type second struct {
	unix int64
	text string
}

// Text returns now as the "time" field's value. The text is cached by the
// second alone, so every call must pass times in one location (the
// callers pass time.Now's, local). It never needs JSON escaping.
func (s *Stamp) Text(now time.Time) string {
	sec := now.Unix()
	if c := s.cur.Load(); c != nil && c.unix == sec {
		return c.text
	}
	c := &second{unix: sec, text: now.Format(time.RFC3339)}
	s.cur.Store(c)
	return c.text
}

// Run implements zerolog.Hook.
func (s *Stamp) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(zerolog.TimestampFieldName, s.Text(time.Now()))
}

// noEscape[b] is true for the bytes a JSON string holds as they are:
// printable ASCII but the quote and the backslash (0x7f is escaped, as
// zerolog does).
var noEscape = func() (t [256]bool) {
	for b := 0x20; b <= 0x7e; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends s as a quoted JSON string, escaped exactly as
// zerolog escapes strings: the quote, the backslash and control bytes,
// invalid UTF-8 bytes each as \ufffd, valid UTF-8 as it is.
func AppendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if !noEscape[s[i]] {
			return append(appendEscaped(dst, s, i), '"')
		}
	}
	return append(append(dst, s...), '"')
}

// appendEscaped appends s, whose bytes before i need no escaping.
func appendEscaped[S ~string | ~[]byte](dst []byte, s S, i int) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i < len(s) {
		b := s[i]
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRune([]byte(s[i:min(i+utf8.UTFMax, len(s))]))
			if r == utf8.RuneError && size == 1 {
				dst = append(append(dst, s[start:i]...), `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if noEscape[b] {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}
