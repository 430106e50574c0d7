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

// checkHeader refuses a request header the gateway cannot pass on
// unambiguously: a field name that is not an RFC 9110 token, or that holds
// "_" (as nginx does by default: CGI and WSGI upstreams read X_Forwarded_For
// and X-Forwarded-For as the same HTTP_X_FORWARDED_FOR), and more than one
// Authorization field, in any case. fasthttp itself refuses, when it parses
// the header, a second Host, Content-Length or Transfer-Encoding. It
// reads the fields as received (AllInOrder), which leaves the Cookie
// fields unparsed (see dropPortalCookies). buf is scratch for the error
// body (r.buf), which the result may hold.
func checkHeader(h *fasthttp.RequestHeader, buf []byte) (errorResponse, bool) {
	auth := 0
	for k := range h.AllInOrder() {
		if !ascii.All(k, &ascii.FieldName) {
			return errorResponse{400, appendErrorJSON(buf[:0], 400, "invalid header name "+strconv.Quote(string(k))+": a name is letters, digits and !#$%&'*+-.^`|~ (no underscore)")}, false
		}
		if bytes.EqualFold(k, hdrAuthorization) {
			if auth++; auth > 1 {
				return errManyAuthorization, false
			}
		}
	}
	return errorResponse{}, true
}
