// Package printable checks that untrusted text is printable: what
// developers type, what an identity provider answers and what an OpenAPI
// document names, before it is stored, shown or put in URLs; and escapes
// what is not, where text is printed.
package printable

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// refusedRune says what kind of character r is when it may not appear in
// untrusted text, or "" when it may. Refused are the control
// characters (C0, DEL, C1), the bidirectional controls, which can make
// text display in an order other than its own, and the line and
// paragraph separators; and the invisible characters: the format
// characters (Unicode category Cf: zero-width spaces and joiners, the
// byte order mark, word joiners, tag characters, the soft hyphen), the
// other default-ignorable characters (Hangul fillers, the rest of the tag
// block) and the variation selectors, with which two names that look
// alike compare different.
func refusedRune(r rune) string {
	switch {
	case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), r == '\u2028', r == '\u2029':
		return "control character"
	case unicode.In(r, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector):
		return "invisible character"
	}
	return ""
}

// Problem says what is wrong with s as untrusted text of at most maxLen
// bytes, or "" when nothing is.
func Problem(s string, maxLen int) string {
	switch {
	case len(s) > maxLen:
		return fmt.Sprintf("is longer than %d bytes", maxLen)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	for i, r := range s {
		if kind := refusedRune(r); kind != "" {
			return fmt.Sprintf("contains the %s %U at byte %d: only printable text is allowed", kind, r, i)
		}
	}
	return ""
}

// Clip shortens s to about n bytes (on a character boundary) for quoting
// in an error, so that a huge value is not sent back.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Escape returns s with every character a terminal would not show as
// itself (control characters such as ESC, CR and LF, bidirectional
// controls, other format characters, bytes that are not UTF-8) written as
// a Go escape (\x1b, \u202e): untrusted text printed with it stays on
// its line, and cannot move the cursor, recolour, reorder or forge a line
// of output (a CI runner's "::error" command).
func Escape(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || !unicode.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}
