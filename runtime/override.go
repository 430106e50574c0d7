package runtime

import (
	"bytes"

	"github.com/cuegate/cuegate/internal/ascii"
)

// methodOverride reports whether a query string names a method-override
// parameter: a key that a framework behind the gateway may read as
// "_method" (Symfony and Laravel, Spring's HiddenHttpMethodFilter,
// Express's method-override, gorilla/handlers) or as the override header
// (ASP.NET MVC reads X-HTTP-Method-Override from the query too) and run
// the request as the method it names, past a grant that allows only the
// request's own method. Pairs are split at "&" and ";"; a key is read as
// the widest of those frameworks read it (see overrideKey).
func methodOverride(query []byte) bool {
	for len(query) > 0 {
		pair, rest := cutAny(query, "&;")
		if overrideKey(pair) {
			return true
		}
		query = rest
	}
	return false
}

// overrideNames are the keys methodOverride refuses, as overrideKey
// reads them.
var overrideNames = [][]byte{[]byte("_method"), []byte("x-http-method-override"), []byte("x-http-method"), []byte("x-method-override")}

// overrideKey reports whether the key of pair (up to a literal "=") is
// one of overrideNames, read as PHP reads it, the widest reading: "+",
// percent-escapes and Jetty's "%uXXXX" decoded; the key ending at a NUL
// (PHP takes it as a C string) or at "["; leading spaces dropped; " " and
// "." taken as "_"; compared without regard to case.
func overrideKey(pair []byte) bool {
	var buf [24]byte // longer than any name
	n, leading := 0, true
	for i := 0; i < len(pair) && pair[i] != '='; i++ {
		c := pair[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+1 < len(pair) && (pair[i+1] == 'u' || pair[i+1] == 'U'):
			r, ok := unescapeU(pair, i)
			if !ok {
				break
			}
			i += 5
			if c = byte(r); r >= 0x80 {
				return false // not in any name
			}
		case c == '%':
			if d, ok := ascii.Unescape(pair, i); ok {
				c = d
				i += 2
			}
		}
		switch {
		case c == 0 || c == '[':
			return isOverrideName(buf[:n])
		case c == ' ' && leading:
			continue
		case c == ' ' || c == '.':
			c = '_'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		leading = false
		if n == len(buf) {
			return false
		}
		buf[n] = c
		n++
	}
	return isOverrideName(buf[:n])
}

func isOverrideName(key []byte) bool {
	for _, name := range overrideNames {
		if bytes.Equal(key, name) {
			return true
		}
	}
	return false
}

// unescapeU returns the code point of the "%uXXXX" escape at s[i].
func unescapeU(s []byte, i int) (rune, bool) {
	if i+5 >= len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i+2 : i+6] {
		d, ok := ascii.HexDigit(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// cutAny slices s around the first byte of seps, as bytes.Cut does;
// after is nil when s holds none.
func cutAny(s []byte, seps string) (before, after []byte) {
	if i := bytes.IndexAny(s, seps); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, nil
}
