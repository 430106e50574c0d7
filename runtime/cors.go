package runtime

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/proxy"
)

var (
	hdrOrigin          = []byte("Origin")
	hdrVary            = []byte("Vary")
	hdrACRequestMethod = []byte("Access-Control-Request-Method")
	hdrACAllowOrigin   = []byte("Access-Control-Allow-Origin")
	hdrACAllowCreds    = []byte("Access-Control-Allow-Credentials")
	hdrACExposeHeaders = []byte("Access-Control-Expose-Headers")
	hdrACAllowMethods  = []byte("Access-Control-Allow-Methods")
	hdrACAllowHeaders  = []byte("Access-Control-Allow-Headers")
	hdrACMaxAge        = []byte("Access-Control-Max-Age")
	strOptions         = []byte("OPTIONS")
	strTrue            = []byte("true")
	strStar            = []byte("*")
	preflightVary      = []byte("Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	prefixAC           = []byte("Access-Control-")
)

// errPreflight is the gateway's answer to a CORS preflight: 204, no body;
// its headers are set by ResponseHeader (corsRules.answer).
var errPreflight = errorResponse{status: fasthttp.StatusNoContent}

// preflightMethod returns the method a CORS preflight in h asks about
// (OPTIONS with Origin and Access-Control-Request-Method), or nil when h
// is not a preflight.
func preflightMethod(h *fasthttp.RequestHeader) []byte {
	if !bytes.Equal(h.Method(), strOptions) || len(h.PeekBytes(hdrOrigin)) == 0 {
		return nil
	}
	if m := h.PeekBytes(hdrACRequestMethod); len(m) > 0 {
		return m
	}
	return nil
}

// allowedOrigin returns what Access-Control-Allow-Origin answers the
// request of h with: its origin when c lists it, "*" when c allows any,
// nil otherwise. The result is c's, not h's.
func (c *corsRules) allowedOrigin(h *fasthttp.RequestHeader) []byte {
	o := h.PeekBytes(hdrOrigin)
	if len(o) == 0 {
		return nil
	}
	for _, allowed := range c.origins {
		if bytes.Equal(o, allowed) {
			return allowed
		}
	}
	if c.any {
		return strStar
	}
	return nil
}

// preflight sets the headers of the answer to a preflight but those
// every answer gets; allowed is allowedOrigin's answer.
func (c *corsRules) preflight(h *fasthttp.ResponseHeader, allowed []byte) {
	h.SetCanonical(hdrVary, preflightVary)
	if allowed == nil {
		return
	}
	h.SetCanonical(hdrACAllowMethods, c.methods)
	h.SetCanonical(hdrACAllowHeaders, c.headers)
	h.SetCanonical(hdrACMaxAge, c.maxAge)
}

// answer sets the CORS headers of an answer (any status) to a request
// whose origin got allowed (nil: none), or to a preflight, replacing
// every Access-Control-* header the upstream set: the gateway alone
// speaks CORS for an API with cors. Every answer of an
// API with cors varies by Origin, allowed or not (with "*" too: an answer
// to a request without Origin has no CORS headers), so that a shared
// cache keeps an answer without CORS headers from an allowed origin. buf
// is scratch, returned for reuse.
func (c *corsRules) answer(h *fasthttp.ResponseHeader, allowed []byte, preflight bool, buf []byte) []byte {
	for k := corsHeader(h); k != nil; k = corsHeader(h) {
		h.DelBytes(k) // DelBytes copies k before it edits h
	}
	if preflight {
		c.preflight(h, allowed)
	}
	buf = addVary(h, hdrOrigin, buf)
	if allowed == nil {
		return buf
	}
	h.SetCanonical(hdrACAllowOrigin, allowed)
	if c.credentials {
		h.SetCanonical(hdrACAllowCreds, strTrue)
	}
	if !preflight { // a preflight's answer is read by the browser alone
		h.SetCanonical(hdrACExposeHeaders, c.expose)
	}
	return buf
}

// corsHeader returns the name of an Access-Control-* header of h (any
// case), or nil when h has none.
func corsHeader(h *fasthttp.ResponseHeader) []byte {
	for _, k := range h.PeekKeys() {
		if len(k) >= len(prefixAC) && bytes.EqualFold(k[:len(prefixAC)], prefixAC) {
			return k
		}
	}
	return nil
}

// addVary adds name to h's Vary header, unless it lists it or "*".
func addVary(h *fasthttp.ResponseHeader, name, buf []byte) []byte {
	v := h.PeekBytes(hdrVary)
	if len(v) == 0 {
		h.SetCanonical(hdrVary, name)
		return buf
	}
	for rest := v; len(rest) > 0; {
		var tok []byte
		if tok, rest = proxy.NextToken(rest); bytes.EqualFold(tok, name) || bytes.Equal(tok, strStar) {
			return buf
		}
	}
	buf = append(append(append(buf[:0], v...), ", "...), name...)
	h.SetCanonical(hdrVary, buf)
	return buf
}
