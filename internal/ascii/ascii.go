// Package ascii builds byte classes as lookup tables, indexed by byte, and
// holds the small ASCII helpers of the scanners on the request path.
package ascii

// AlnumAnd returns the class of the ASCII letters and digits and the bytes
// of extra, which must all be ASCII. A byte of 0x80 or above is in no
// class: callers check c < 0x80 before they index.
func AlnumAnd(extra string) (t [128]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range extra {
		t[c] = true
	}
	return t
}

// Token is the class of the RFC 9110 tchar bytes, those of a token.
var Token = AlnumAnd("!#$%&'*+-.^_`|~")

// HeaderToken is the class of the bytes of a header name the gateway
// writes or lists for clients (response_headers, CORS lists): Token's but
// "_".
var HeaderToken = AlnumAnd("!#$%&'*+-.^`|~")

// HeaderTokenRule says what HeaderToken accepts, for error messages.
const HeaderTokenRule = "a name is letters, digits and !#$%&'*+-.^`|~ (no underscore)"

// FieldName is the class of the bytes of a request header field name the
// gateway accepts, from clients or to send upstream: letters, digits and
// "-". The other token bytes ("_", ".", and
// the rest of RFC 9110's tchar) are refused: a CGI, WSGI or PHP upstream
// reads X_User, X.User and X-User as the same HTTP_X_USER, which would
// get a name past a strip of X-User.
var FieldName = AlnumAnd("-")

// FieldNameRule says what FieldName accepts, for error messages.
const FieldNameRule = "a name is letters, digits and '-' (no '_', '.' or other punctuation, which CGI, WSGI and PHP upstreams read as '-')"

// All reports whether s is not empty and its every byte is in class.
func All[S ~string | ~[]byte](s S, class *[128]bool) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || !class[c] {
			return false
		}
	}
	return len(s) > 0
}

// Unescape returns the byte the percent-escape at s[i] ("%4a", "%4A")
// stands for, or false when s[i:] does not begin with a well-formed one.
func Unescape(s []byte, i int) (byte, bool) {
	if i+2 >= len(s) || s[i] != '%' {
		return 0, false
	}
	hi, ok1 := HexDigit(s[i+1])
	lo, ok2 := HexDigit(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

// HexDigit returns the value of the hexadecimal digit c, either case.
func HexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ContainsFold reports whether sub is within s, ASCII letters compared
// without regard to case.
func ContainsFold(s, sub []byte) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// EqualFold reports whether a and b are equal, ASCII letters compared
// without regard to case and any other byte as it is (unlike
// bytes.EqualFold, which folds Unicode: the Kelvin sign is a "k" there).
func EqualFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
