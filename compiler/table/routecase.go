package table

import (
	"unicode"
	"unicode/utf8"
)

// CaseShadowed reports whether path (normalised), read without regard
// to case, falls under a longer listen path than the one it is routed by
// as written. ASP.NET Core and IIS route without regard to case, and so
// can Spring: were "/PRIVATE/x" served by a catch-all "/" API, such an
// upstream would serve it as the "/private" API's path, past that API's
// checks. An unrouted path is not shadowed. dst is scratch, returned for
// reuse; CaseShadowed does not allocate when it has capacity.
func (ix *RouteIndex) CaseShadowed(dst, path []byte) ([]byte, bool) {
	if !foldable(path) {
		return dst, false
	}
	pr := ix.match(path)
	if pr == nil {
		return dst, false
	}
	dst = foldCase(dst[:0], path)
	_, n := longest(ix.folded, ix.depth, dst)
	return dst, n > pr.foldedLen
}

// foldable reports whether path holds a byte foldCase may change: an
// upper-case ASCII letter or any non-ASCII byte.
func foldable(path []byte) bool {
	for _, c := range path {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// foldCase appends path read without regard to case: each letter in
// lower case, and the two that servers fold onto ASCII letters by their
// upper case ("ſ" as "s", dotless "ı" as "i"; "K", the Kelvin sign, and
// "İ" lower to ASCII already). Invalid UTF-8 is kept as it is.
func foldCase(dst, path []byte) []byte {
	for i := 0; i < len(path); {
		c := path[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(path[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, c)
		case r == 'ſ':
			dst = append(dst, 's')
		case r == 'ı':
			dst = append(dst, 'i')
		default:
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		i += size
	}
	return dst
}
