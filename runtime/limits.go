package runtime

import (
	"bytes"
	"net/textproto"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/limit"
	"github.com/cuegate/cuegate/runtime/policy"
)

// limitHeaders is what an answer says of the gateway's limits, in
// X-RateLimit-Limit, -Remaining and -Reset.
type limitHeaders uint8

const (
	// passLimits: the request was not counted; the upstream's fields of
	// those names pass.
	passLimits limitHeaders = iota
	// hideLimits: it was counted (gateway.rate_limit_headers is false):
	// the upstream's fields are removed, so that they are not taken for
	// the gateway's limit.
	hideLimits
	// reportLimit: the fields report request.limit, in place of the
	// upstream's.
	reportLimit
)

// countLimits counts the request against the rate limit and quota of the
// policies d chose (none when it chose none), in one Take, and refuses it
// when one is exhausted: 429 with Retry-After for the rate, 403 for the
// quota; 503 when the limiter cannot count it. It sets the limit the
// response headers report (ResponseHeader).
func (r *request) countLimits(ctx *fasthttp.RequestCtx, gen *generation, st *apiState, now time.Time, d policy.Decision) (errorResponse, bool) {
	if d.Rate == nil && d.Quota == nil {
		return errorResponse{}, true
	}
	var lr limit.Request
	if d.Rate != nil {
		lr.RateKey, lr.Rate = limit.Key{Issuer: st.idp.Issuer, Claim: st.ns.Claim, Identity: r.identity, Policy: d.Rate.ID}, d.Rate.Rate
	}
	if d.Quota != nil {
		lr.QuotaKey, lr.Quota = limit.Key{Issuer: st.idp.Issuer, Claim: st.ns.Claim, Identity: r.identity, Policy: d.Quota.ID}, d.Quota.Quota
	}
	rd, qd, err := r.g.limiter.Take(ctx, lr, now)
	switch {
	case err != nil:
		// The shared store is unreachable and on_redis_error is "deny":
		// never a 401 or 403 for it.
		return errLimiterUnavailable, false
	case lr.Rate != nil && !rd.Allowed:
		r.limit, r.limits = rd, reportLimit // refusals always tell
		r.buf = appendSeconds(r.buf[:0], max(rd.RetryAfter, time.Second))
		ctx.Response.Header.SetBytesKV(hdrRetryAfter, r.buf)
		st.metrics.rateLimited.Inc()
		return errRateLimited, false
	case lr.Quota != nil && !qd.Allowed:
		r.limit, r.limits = qd, reportLimit
		st.metrics.quotaExceeded.Inc()
		return errQuota, false
	case lr.Quota == nil:
		r.limit = rd
	case lr.Rate == nil:
		r.limit = qd
	default:
		r.limit = nearer(rd, qd)
	}
	r.limits = hideLimits
	if gen.table.Gateway.RateLimitHeaders {
		r.limits = reportLimit
	}
	return errorResponse{}, true
}

// limitHeaderNames are the names writeLimitHeaders writes as fasthttp
// yields an upstream's (canonical: X-Ratelimit-Limit), sorted: forward has
// the proxy remove the upstream's fields of them from the answer to a
// request counted under a limit (proxy.Request.DropResponse), whatever
// their case and however many, before writeLimitHeaders.
var limitHeaderNames = func() [][]byte {
	names := [][]byte{hdrRateLimit, hdrRateRemaining, hdrRateReset}
	for i, n := range names {
		names[i] = []byte(textproto.CanonicalMIMEHeaderKey(string(n)))
	}
	slices.SortFunc(names, bytes.Compare)
	return names
}()

// writeLimitHeaders says in h what r.limits says of the gateway's limits:
// with reportLimit, the limit (r.limit) in X-RateLimit-Limit, -Remaining
// and -Reset (seconds, rounded up). The upstream's fields of those names
// are gone already (limitHeaderNames) from the answer to a request
// counted; an answer of the gateway's own has none. It reuses r.buf.
func (r *request) writeLimitHeaders(h *fasthttp.ResponseHeader) {
	if r.limits != reportLimit {
		return
	}
	d := r.limit
	r.buf = strconv.AppendInt(r.buf[:0], d.Limit, 10)
	h.SetCanonical(hdrRateLimit, r.buf)
	r.buf = strconv.AppendInt(r.buf[:0], max(d.Remaining, 0), 10)
	h.SetCanonical(hdrRateRemaining, r.buf)
	r.buf = appendSeconds(r.buf[:0], d.Reset)
	h.SetCanonical(hdrRateReset, r.buf)
}

// nearer returns, of a rate and a quota decision that both allowed the
// request, the one closer to refusing the next: fewer requests remaining,
// on a tie the one that resets later. One set of X-RateLimit-* headers then
// tells a client exactly how many more requests pass and when that number
// grows again, whichever limit it comes from.
func nearer(rate, quota limit.Decision) limit.Decision {
	if quota.Remaining < rate.Remaining || (quota.Remaining == rate.Remaining && quota.Reset > rate.Reset) {
		return quota
	}
	return rate
}

// appendSeconds appends d in whole seconds, rounded up.
func appendSeconds(dst []byte, d time.Duration) []byte {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.AppendInt(dst, max(s, 0), 10)
}
