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
// It returns false with the error to answer, or true with r.st set.
func (r *request) admit(ctx *fasthttp.RequestCtx, gen *generation) (errorResponse, bool) {
	var err error
	raw, _ := proxy.SplitTarget(ctx)
	r.path, err = pathclean.Clean(r.path, raw)
	if err != nil {
		return errBadPath, false
	}
	if e, ok := checkHeader(&ctx.Request.Header, r.buf); !ok {
		return e, false
	}
	api, matched := gen.table.Routes.Lookup(r.path, r.method)
	if api == nil {
		if matched {
			ctx.Response.Header.SetBytesKV(hdrAllow, gen.table.Routes.Allow(r.path))
			return errMethod, false
		}
		return errNotFound, false
	}
	if bytes.IndexByte(r.path, ';') >= 0 && !sameRouteWithoutParams(gen, api, r.path, r.method) {
		return errParamRoute, false
	}
	st := gen.apis[api]
	r.api, r.metrics = api.ID, st.metrics
	sub := subPath(r.path, api.ListenPath)

	if cl := ctx.Request.Header.ContentLength(); cl > 0 && cl > gen.table.Gateway.MaxBodyBytes {
		return errTooLarge, false
	}

	if api.JWT != nil {
		if e, ok := r.authorize(ctx, gen, st, sub); !ok {
			return e, false
		}
	}

	r.st, r.maxBody = st, int64(gen.table.Gateway.MaxBodyBytes)
	return errorResponse{}, true
}

// sameRouteWithoutParams reports whether path without its segments'
// parameters is served by api too. An upstream that drops parameters
// (Tomcat, Jetty, Spring) reads "/private;x/y" as "/private/y": were it
// routed by its raw form, to a catch-all API, it would reach the private
// API's path past that API's checks.
func sameRouteWithoutParams(gen *generation, api *table.API, path, method []byte) bool {
	bare, _ := gen.table.Routes.Lookup(pathclean.StripParams(nil, path), method)
	return bare == api
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
