package runtime

import (
	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/auth"
)

// headerEditor is what edit needs of a request or response header.
type headerEditor interface {
	DelBytes(key []byte)
	SetCanonical(key, value []byte)
}

var (
	_ headerEditor = (*fasthttp.RequestHeader)(nil)
	_ headerEditor = (*fasthttp.ResponseHeader)(nil)
)

// edit removes, then sets, e's headers in h: every field of a name
// removed or set goes, whatever its case and however often it appears.
func (e *headerEdits) edit(h headerEditor) {
	for _, k := range e.remove {
		h.DelBytes(k)
	}
	for _, f := range e.set {
		h.SetCanonical(f.name, f.value)
	}
}

// RequestHeader implements proxy.Hooks: the last edits of the header sent
// upstream, after the proxy's own, so that no client header (not even a
// Connection header naming them) undoes them. The portal's cookies are
// removed whatever the client sent (the names of every API's claim
// headers were, by the proxy: proxy.Request.Drop), and the API's own claim
// headers are then set from the verified claims.
func (r *request) RequestHeader(h *fasthttp.RequestHeader) {
	r.buf = passCookies(h, r.buf)
	ru := r.st.rules
	if ru == nil {
		return
	}
	ru.request.edit(h)
	if r.claims == nil {
		return
	}
	for _, ch := range ru.claimHeaders {
		var ok bool
		if r.buf, ok = appendClaim(r.buf[:0], r.claims, ch.claim); ok {
			h.SetCanonical(ch.name, r.buf)
		}
	}
}

// appendClaim appends the value of claim to dst, a list's strings joined
// with ", ". It reports false for a claim the token lacks (or an empty
// list), for a value holding a control byte, which a header cannot
// carry, and for a list string that is empty, holds a comma or begins or
// ends with white space, which would read as other elements once joined.
func appendClaim(dst []byte, c *auth.Claims, claim string) ([]byte, bool) {
	n, ok, list := 0, true, c.IsList(claim)
	c.EachString(claim, func(v string) bool {
		if n++; n > 1 {
			dst = append(dst, ", "...)
		}
		if ok = headerSafe(v, list); ok {
			dst = append(dst, v...)
		}
		return ok
	})
	return dst, ok && n > 0
}

// headerSafe reports whether v can be a header value, or, if elem, an
// element of a comma-separated header list that reads back as v.
func headerSafe(v string, elem bool) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 && b != '\t' || b == 0x7f || elem && b == ',' {
			return false
		}
	}
	return !elem || v != "" && !isSpace(v[0]) && !isSpace(v[len(v)-1])
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' }

// ruledHeader applies ru's response header edits, then its CORS
// headers, to an answer.
func (r *request) ruledHeader(h *fasthttp.ResponseHeader, ru *apiRules) {
	ru.response.edit(h)
	if ru.cors != nil {
		r.buf = ru.cors.answer(h, r.corsOrigin, r.preflight, r.buf)
	}
}

// ResponseHeader implements proxy.Hooks, and sets the gateway's own
// response headers on an error answer too: X-Request-Id; for an API with
// them, its response header edits and CORS headers; the limit headers
// (writeLimitHeaders). It drops the upstream's Set-Cookie that a browser
// could take for a portal cookie (dropPortalSetCookies). It reuses r.buf:
// an error body there has been copied into the response.
func (r *request) ResponseHeader(h *fasthttp.ResponseHeader) {
	h.SetCanonical(hdrRequestID, r.rid)
	r.buf = dropPortalSetCookies(h, r.buf)
	if r.st != nil && r.st.rules != nil {
		r.ruledHeader(h, r.st.rules)
	}
	r.writeLimitHeaders(h)
}
