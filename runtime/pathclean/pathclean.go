// Package pathclean turns the raw path of a request into the one path the
// gateway routes on and forwards, so that no encoding trick can make the
// route it matched differ from the path the upstream sees.
//
// The rules, per trick:
//
//   - Percent-escapes are decoded once, so "/%61dmin" routes as "/admin".
//     The upstream gets the path re-encoded canonically (Append), never the
//     client's spelling.
//   - An encoded slash ("%2f") or backslash ("%5c"), a literal backslash, a
//     NUL byte (literal or "%00"), any other control byte, and an encoded
//     "%" ("%25", the mark of double encoding such as "%252e%252e", which an
//     upstream that decodes twice would read as "..") are refused: servers
//     disagree on what they mean, so no interpretation is safe.
//   - Malformed escapes ("%zz", a trailing "%") are refused.
//   - "." segments and empty segments ("//") are removed; ".." removes the
//     segment before it (RFC 3986 §5.2.4), also when spelled "%2e%2e".
//     A ".." that would climb above the root is refused.
//   - A dot segment with path parameters (the part before the first ";",
//     literal or "%3b", is "." or ".."; "..;", "..;jsessionid=1", ".;",
//     "%2e%2e%3Bx=y") is refused: Tomcat, Spring and other servers drop the
//     parameters and read it as a dot segment, so the gateway would route
//     and grant one path and the upstream serve another.
//   - A trailing slash is kept, because upstreams may tell "/a/" from "/a".
//
// Everything in this package is allocation-free when dst has capacity and
// safe for concurrent use.
package pathclean

import (
	"bytes"
	"errors"

	"github.com/cuegate/cuegate/internal/ascii"
)

// ErrInvalid is returned for a path that is refused (the caller answers 400).
var ErrInvalid = errors.New("pathclean: invalid request path")

// Clean appends the decoded, normalised form of the raw request path raw
// (without the query) to dst[:0] and returns it. The result starts with "/"
// and contains no segment that is "." or ".." before its first ";", no
// empty segment except a final
// trailing slash, and no byte below 0x20 or 0x7f. Refused paths give
// ErrInvalid.
func Clean(dst, raw []byte) ([]byte, error) {
	dst = dst[:0]
	if len(raw) == 0 || raw[0] != '/' {
		return dst, ErrInvalid
	}
	// segStart is the index in dst where the current segment starts (just
	// after its leading '/').
	dst = append(dst, '/')
	segStart := 1
	semi := -1 // index in dst of the current segment's first ';', or -1
	for i := 1; i <= len(raw); i++ {
		var c byte
		end := i == len(raw)
		if !end {
			c = raw[i]
			if c == '%' {
				var ok bool
				if c, ok = ascii.Unescape(raw, i); !ok {
					return dst, ErrInvalid
				}
				i += 2
				if c == '/' || c == '\\' || c == '%' {
					return dst, ErrInvalid
				}
			} else if c == '/' {
				end = true
			}
			if !end && (c < 0x20 || c == 0x7f || c == '\\') {
				return dst, ErrInvalid
			}
		}
		if !end {
			if c == ';' && semi < 0 {
				semi = len(dst)
			}
			dst = append(dst, c)
			continue
		}
		// A segment ended at dst[segStart:].
		seg := dst[segStart:]
		if semi >= 0 {
			if isDots(dst[segStart:semi]) {
				return dst, ErrInvalid // a dot segment with parameters
			}
			semi = -1
		}
		switch {
		case len(seg) == 0 || (len(seg) == 1 && seg[0] == '.'):
			dst = dst[:segStart]
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			if segStart == 1 {
				return dst, ErrInvalid // above the root
			}
			// Drop this segment and the one before it.
			j := segStart - 2
			for j > 0 && dst[j] != '/' {
				j--
			}
			dst = dst[:j+1]
		default:
			if i < len(raw) {
				dst = append(dst, '/')
			}
		}
		segStart = len(dst)
	}
	return dst, nil
}

// Append appends p, a path returned by Clean, to dst percent-encoding every
// byte that is not allowed literally in a path segment (RFC 3986 pchar) or
// is "/". The upstream decodes it back to exactly p.
func Append(dst, p []byte) []byte {
	const hexdigits = "0123456789ABCDEF"
	for _, c := range p {
		if c < 0x80 && literal[c] {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexdigits[c>>4], hexdigits[c&15])
		}
	}
	return dst
}

// StripParams appends p, a path returned by Clean, to dst without the
// parameters of its segments: each ";" and what follows it up to the next
// "/", and without a segment that is parameters only (";x", which leaves
// an empty segment those servers merge), but at the end, where it leaves
// a trailing slash. It is p as Tomcat, Jetty and Spring read it:
// "/;x/private/y" is "/private/y". Where p has no ";" it appends p
// unchanged.
func StripParams(dst, p []byte) []byte {
	for len(p) > 0 {
		semi := bytes.IndexByte(p, ';')
		if semi < 0 {
			return append(dst, p...)
		}
		dst = append(dst, p[:semi]...)
		p = p[semi:]
		slash := bytes.IndexByte(p, '/')
		switch {
		case slash < 0:
			p = nil
		case dst[len(dst)-1] == '/': // the segment was parameters only
			p = p[slash+1:]
		default:
			p = p[slash:]
		}
	}
	return dst
}

// literal marks the bytes Append writes as they are: unreserved, sub-delims,
// ":", "@" and "/".
var literal = ascii.AlnumAnd("-._~!$&'()*+,;=:@/")

// isDots reports whether seg is "." or "..".
func isDots(seg []byte) bool {
	return (len(seg) == 1 || len(seg) == 2) && seg[0] == '.' && seg[len(seg)-1] == '.'
}
