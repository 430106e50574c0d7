package runtime

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/pathclean"
	"github.com/cuegate/cuegate/runtime/proxy"
)

// forward proxies the request admit admitted. It returns false with the
// error to answer, or true when the request was handed to the upstream
// (which finishes r).
func (r *request) forward(ctx *fasthttp.RequestCtx) (errorResponse, bool) {
	st, api := r.st, r.st.api
	_, query := proxy.SplitTarget(ctx)
	if api.StripListenPath {
		r.fwd = pathclean.Append(r.fwd[:0], subPath(r.path, api.ListenPath))
	} else {
		r.fwd = pathclean.Append(r.fwd[:0], r.path)
	}
	r.propagate(&ctx.Request.Header, api.Upstream.TraceContext)
	r.preq = proxy.Request{Path: r.fwd, Query: query, RequestID: r.rid, Hooks: r, MaxBody: r.maxBody, Drop: st.claimHeaderNames}
	if r.limits != passLimits {
		r.preq.DropResponse = limitHeaderNames // the gateway's (writeLimitHeaders)
	}
	// On success r belongs to the response stream (ResponseDone).
	upstream, err := st.pool.Forward(ctx, &r.preq)
	if err == nil {
		return errorResponse{}, true
	}
	r.upstream = upstream
	switch {
	case errors.Is(err, proxy.ErrBodyTooLarge):
		return errTooLarge, false
	case errors.Is(err, proxy.ErrClientBody):
		return errMalformed, false
	case errors.Is(err, proxy.ErrTimeout):
		st.metrics.upstreamSlow.Inc()
		return errUpstreamSlow, false
	case errors.Is(err, proxy.ErrBusy):
		st.metrics.upstreamBusy.Inc()
		ctx.Response.Header.SetBytesKV(hdrRetryAfter, strOne)
		return errUpstreamBusy, false
	default:
		st.metrics.upstreamUnavailable.Inc()
		return errUpstream, false
	}
}
