package runtime

import (
	"github.com/cuegate/cuegate/runtime/proxy"
	"github.com/valyala/fasthttp"
)

var (
	hdrExpect      = []byte("Expect")
	str100Continue = []byte("100-continue")
)

// expectRefusal makes the server decide on the header alone a request
// whose header shows it will be refused: fasthttp reads the first bytes of
// a body with a length before it calls Handler, unless the request expects
// 100 Continue, so that an unauthenticated POST would be answered only
// once its body arrives, and one whose chunked body it drains would hold
// the connection for as long as its chunk extensions last. Such a request
// (HTTP/1.1, with a Content-Length or a chunked body, to no API, to a JWT
// API without a valid bearer token, over max_body_bytes, or with a path
// or header the gateway refuses) is given "Expect:
// 100-continue": expect then answers it without reading the body, and the
// server closes the connection. (Were it admitted after all, by a reload
// in between, the client would get a 100 Continue it did not ask for,
// which HTTP/1.1 clients must accept.) A policy, access or limit refusal
// is still answered after the body's first bytes: those need a valid
// token, so they come from a known client. So is every refusal of an
// HTTP/1.0 request, which fasthttp never lets continue. Called from HeaderReceived, on
// every request.
func (g *Gateway) expectRefusal(h *fasthttp.RequestHeader) {
	cl := h.ContentLength() // -1: chunked
	if hasBody := cl > 0 || cl == -1; !hasBody || !h.IsHTTP11() || len(h.PeekBytes(hdrExpect)) > 0 {
		return
	}
	r := requests.Get().(*request)
	defer requests.Put(r)
	if g.refusedOnHeader(r, h) {
		h.SetBytesKV(hdrExpect, str100Continue)
	}
}

// refusedOnHeader reports whether admit would refuse the request of h
// before it resolves a policy (a path, header, route or size it refuses,
// or a missing or invalid token), using r's buffers. It counts nothing.
func (g *Gateway) refusedOnHeader(r *request, h *fasthttp.RequestHeader) bool {
	uri := h.RequestURI()
	if len(uri) == 0 || uri[0] != '/' {
		return false // absolute-form: left to Handler
	}
	path, query := proxy.SplitOriginForm(uri)
	gen := g.cur.Load()
	st, _, ok := r.route(gen, h, path, query, nil)
	if !ok {
		return true
	}
	if st.api.JWT == nil {
		return false
	}
	_, _, _, ok = r.authenticate(g.validator, st, h, nil, g.now())
	return !ok
}

// admittedKey is the user value under which expect hands Handler the
// request it admitted.
type admittedKey struct{}

// expect is the server's ExpectHandler, called for a request with
// "Expect: 100-continue" before its body is read: it decides on the
// header alone. A refused request is answered at once, without 100
// Continue, and the server closes the connection (the body is unread); an
// admitted one goes on to Handler once the client sends its body.
func (g *Gateway) expect(ctx *fasthttp.RequestCtx) (status int) {
	r := g.newRequest(ctx)
	defer func() {
		if p := recover(); p != nil {
			g.answerPanic(ctx, r, p)
			status = errInternal.status
		}
	}()
	if e, ok := r.admit(ctx, g.cur.Load()); !ok {
		r.fail(ctx, e)
		r.finish()
		return e.status
	}
	ctx.SetUserValue(admittedKey{}, r)
	return fasthttp.StatusContinue
}
