package runtime

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/ascii"
)

// errManyAuthorization refuses a request with several Authorization
// fields: the gateway validates one token, and an upstream could read
// another.
var errManyAuthorization = newError(400, "more than one Authorization header")

// errFolded refuses a header with obsolete line folding (checkHeader).
var errFolded = newError(400, "a header line begins with white space (obsolete line folding): send each field on one line")

var (
	foldSpace = []byte("\n ")
	foldTab   = []byte("\n\t")
)

// folded reports whether a header block as received (after the request
// line) has a line that begins with white space.
func folded(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == ' ' || raw[0] == '\t') ||
		bytes.Contains(raw, foldSpace) || bytes.Contains(raw, foldTab)
}

// checkHeader refuses a request header the gateway cannot pass on
// unambiguously: a field name of more than letters, digits and "-"
// (ascii.FieldName: nginx drops such fields by default, as CGI, WSGI and PHP
// upstreams read X_Forwarded_For, X.Forwarded.For and X-Forwarded-For as
// the same HTTP_X_FORWARDED_FOR), and more than one
// Authorization field, in any case. fasthttp itself refuses, when it parses
// the header, a second Host, Content-Length or Transfer-Encoding. A
// header with obsolete line folding (a line beginning with white space,
// RFC 9112 §5.2) is refused too: fasthttp would join the lines, and what
// reads the header as received (passCookies) could read it otherwise.
// buf is scratch for the error body (r.buf), which the result may hold.
func checkHeader(h *fasthttp.RequestHeader, buf []byte) (errorResponse, bool) {
	if folded(h.RawHeaders()) {
		return errFolded, false
	}
	auth := 0
	for _, k := range h.PeekKeys() {
		if !ascii.All(k, &ascii.FieldName) {
			return errorResponse{400, appendErrorJSON(buf[:0], 400, "invalid header name "+strconv.Quote(string(k))+": "+ascii.FieldNameRule)}, false
		}
		if bytes.EqualFold(k, hdrAuthorization) {
			if auth++; auth > 1 {
				return errManyAuthorization, false
			}
		}
	}
	return errorResponse{}, true
}
