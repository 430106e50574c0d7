package runtime

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime/pathclean"
	"github.com/cuegate/cuegate/runtime/proxy"
)

// admit runs the request path on the header alone, up to the upstream:
// path, header, route, size, authentication, policy, access and limits.
// It returns false with the error to answer (errPreflight for a CORS
// preflight, answered before any check of the token), or true; r.st is
// set once the request is routed.
func (r *request) admit(ctx *fasthttp.RequestCtx, gen *generation) (errorResponse, bool) {
	r.startTrace(&ctx.Request.Header, gen)
	raw, query := proxy.SplitTarget(ctx)
	st, e, ok := r.route(gen, &ctx.Request.Header, raw, query, &ctx.Response.Header)
	if st != nil {
		r.api, r.metrics, r.st = st.api.ID, st.metrics, st
		if ru := st.rules; ru != nil && ru.cors != nil {
			r.corsOrigin = ru.cors.allowedOrigin(&ctx.Request.Header)
			r.preflight = e.status == errPreflight.status
		}
	}
	if !ok {
		return e, false
	}
	if st.api.JWT != nil {
		if e, ok := r.authorize(ctx, gen, st, subPath(r.path, st.api.ListenPath)); !ok {
			return e, false
		}
	}
	r.maxBody = int64(gen.table.Gateway.MaxBodyBytes)
	return errorResponse{}, true
}

// route runs the steps that find the API of the request of h on its header
// alone: it cleans raw, the path of its target, into r.path, checks the
// header, routes the path (refusing one whose ";" parameters change its
// API, or that read without regard to case belongs to another API),
// refuses a query that overrides the method (methodOverride) of an API
// whose checks depend on the method, and checks the declared body size.
// It returns the API's state, or false with the error to answer; the
// state is also returned when a routed request is refused for its size,
// and for a CORS preflight to an API with cors (routed by the method it
// asks about), with errPreflight. resp, unless nil, gets the Allow header
// of a 405. It uses r's path, fwd and buf and sets nothing else of r.
func (r *request) route(gen *generation, h *fasthttp.RequestHeader, raw, query []byte, resp *fasthttp.ResponseHeader) (st *apiState, e errorResponse, ok bool) {
	var err error
	if r.path, err = pathclean.Clean(r.path, raw); err != nil {
		return nil, errBadPath, false
	}
	if e, ok := checkHeader(h, r.buf); !ok {
		return nil, e, false
	}
	if m := preflightMethod(h); m != nil {
		if api, _ := gen.table.Routes.Lookup(r.path, m); api != nil && api.CORS != nil {
			return gen.apis[api], errPreflight, false
		}
	}
	method := h.Method()
	api, matched := gen.table.Routes.Lookup(r.path, method)
	if api == nil && matched {
		if resp != nil {
			resp.SetBytesKV(hdrAllow, gen.table.Routes.Allow(r.path))
		}
		return nil, errMethod, false
	}
	if api == nil {
		return nil, errNotFound, false
	}
	// bare is r.path without its segments' ";" parameters (in r.fwd,
	// which forward overwrites); nil when it has none.
	var bare []byte
	if bytes.IndexByte(r.path, ';') >= 0 {
		r.fwd = pathclean.StripParams(r.fwd[:0], r.path)
		bare = r.fwd
	}
	st = gen.apis[api]
	switch {
	case bare != nil && !sameRoute(gen, api, bare, method):
		return nil, errParamRoute, false
	case r.caseShadowed(gen, bare):
		return nil, errCaseRoute, false
	case len(query) > 0 && st.byMethod && methodOverride(query):
		return nil, errMethodOverride, false
	}
	if cl := h.ContentLength(); cl > 0 && cl > gen.table.Gateway.MaxBodyBytes {
		return st, errTooLarge, false
	}
	return st, errorResponse{}, true
}

// sameRoute reports whether bare, a path without its segments'
// parameters, is served by api too. An upstream that drops parameters
// (Tomcat, Jetty, Spring) reads "/private;x/y" as "/private/y": were it
// routed by its raw form, to a catch-all API, it would reach the private
// API's path past that API's checks.
func sameRoute(gen *generation, api *table.API, bare, method []byte) bool {
	other, _ := gen.table.Routes.Lookup(bare, method)
	return other == api
}

// caseShadowed reports whether r.path, read without regard to case as
// some upstreams read it, or bare (r.path without its ";" parameters, as
// sameRoute reads it; nil when it has none), belongs to a longer listen
// path than the one it was routed by (see
// table.RouteIndex.CaseShadowed). It uses r.buf.
func (r *request) caseShadowed(gen *generation, bare []byte) bool {
	var shadowed bool
	r.buf, shadowed = gen.table.Routes.CaseShadowed(r.buf[:0], r.path)
	if !shadowed && bare != nil {
		r.buf, shadowed = gen.table.Routes.CaseShadowed(r.buf[:0], bare)
	}
	return shadowed
}

// subPath is path below listenPath, starting with "/".
func subPath(path []byte, listenPath string) []byte {
	if listenPath == "/" {
		return path
	}
	sub := path[len(listenPath):]
	if len(sub) == 0 {
		return slash
	}
	return sub
}

var slash = []byte("/")
