package runtime

import "github.com/cuegate/cuegate/internal/ascii"

// methodOverride reports whether a query string names a method-override
// parameter: a key that a framework behind the gateway may read as
// "_method" and run the request as the method it names (Symfony and
// Laravel, Express's method-override, gorilla/handlers), past a grant
// that allows only the request's own method. A key is read as PHP reads
// it, the widest of them: percent-escapes and "+" decoded, leading
// spaces dropped, " " and "." taken as "_", the name ending at "[";
// compared without regard to case. Pairs are split at "&" and ";".
func methodOverride(query []byte) bool {
	for len(query) > 0 {
		end := 0
		for end < len(query) && query[end] != '&' && query[end] != ';' {
			end++
		}
		if overrideKey(query[:end]) {
			return true
		}
		if end == len(query) {
			break
		}
		query = query[end+1:]
	}
	return false
}

// overrideKey reports whether the key of pair (up to "=") reads as
// "_method" (see methodOverride).
func overrideKey(pair []byte) bool {
	const name = "_method"
	n, leading := 0, true
	for i := 0; i < len(pair); i++ {
		c := pair[i]
		switch {
		case c == '=':
			return n == len(name)
		case c == '+':
			c = ' '
		case c == '%':
			if d, ok := ascii.Unescape(pair, i); ok {
				c = d
				i += 2
			}
		}
		switch {
		case c == ' ' && leading:
			continue
		case c == '[':
			return n == len(name)
		case c == ' ' || c == '.':
			c = '_'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		leading = false
		if n == len(name) || c != name[n] {
			return false
		}
		n++
	}
	return n == len(name)
}
