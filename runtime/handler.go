package runtime

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime/auth"
	"github.com/cuegate/cuegate/runtime/limit"
	"github.com/cuegate/cuegate/runtime/pathclean"
	"github.com/cuegate/cuegate/runtime/proxy"
)

var (
	hdrAuthorization   = []byte("Authorization")
	hdrRequestID       = []byte("X-Request-Id")
	hdrAllow           = []byte("Allow")
	hdrWWWAuthenticate = []byte("WWW-Authenticate")
	hdrRetryAfter      = []byte("Retry-After")
	hdrRateLimit       = []byte("X-RateLimit-Limit")
	hdrRateRemaining   = []byte("X-RateLimit-Remaining")
	hdrRateReset       = []byte("X-RateLimit-Reset")
	contentTypeJSON    = []byte("application/json")
	bearerRealm        = []byte(`Bearer realm="cuegate"`)
)

// request is the per-request state, pooled. When the response body is
// streamed from the upstream it outlives the handler call: the access log
// line is written when the body is through (ResponseDone).
type request struct {
	g     *Gateway
	start time.Time

	method   []byte
	path     []byte // cleaned path
	fwd      []byte // encoded path sent upstream
	rid      []byte
	buf      []byte // scratch for error bodies and headers
	line     []byte // the access log line
	api      string
	identity string
	policy   string
	status   int
	bytes    int64
	upstream time.Duration
	metrics  *apiMetrics
	st       *apiState      // the API admitted to
	maxBody  int64          // gateway.max_body_bytes of the admitting generation
	limit    limit.Decision // when limited: the limit the headers report
	limited  bool

	pols  []*table.Policy
	preq  proxy.Request
	claim claimCollector
}

var requests = sync.Pool{New: func() any {
	return &request{
		method: make([]byte, 0, 8),
		path:   make([]byte, 0, 128),
		fwd:    make([]byte, 0, 128),
		rid:    make([]byte, 0, 32),
		buf:    make([]byte, 0, 256),
		line:   make([]byte, 0, 512),
		pols:   make([]*table.Policy, 0, 4),
	}
}}

// Handler serves one gateway request: clean the path, check the header,
// route, authenticate, resolve identity and policy, check access, count
// limits, proxy. A request admitted by expect before its body was read
// (Expect: 100-continue) is only proxied.
func (g *Gateway) Handler(ctx *fasthttp.RequestCtx) {
	if r, ok := ctx.UserValue(admittedKey{}).(*request); ok {
		ctx.RemoveUserValue(admittedKey{})
		defer g.recoverPanic(ctx, r)
		if e, ok := r.forward(ctx); !ok {
			r.fail(ctx, e)
			r.finish()
		}
		return
	}
	r := g.newRequest(ctx)
	defer g.recoverPanic(ctx, r)
	e, ok := r.admit(ctx, g.cur.Load())
	if ok {
		e, ok = r.forward(ctx)
	}
	if !ok {
		r.fail(ctx, e)
		r.finish()
	}
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

// newRequest starts the state of the request in ctx.
func (g *Gateway) newRequest(ctx *fasthttp.RequestCtx) *request {
	r := requests.Get().(*request)
	r.g, r.start, r.metrics = g, time.Now(), g.notFound
	r.method = append(r.method[:0], ctx.Method()...)
	r.setRequestID(ctx)
	return r
}

// recoverPanic answers 500 instead of letting a bug in one request take
// the process down (see answerPanic).
func (g *Gateway) recoverPanic(ctx *fasthttp.RequestCtx, r *request) {
	if p := recover(); p != nil {
		g.answerPanic(ctx, r, p)
	}
}

// answerPanic logs p, recovered from a panic serving r, and answers 500.
// The request state is dropped, not recycled: it may be half-way through
// anything.
func (g *Gateway) answerPanic(ctx *fasthttp.RequestCtx, r *request, p any) {
	g.log.Error().Interface("panic", p).Bytes("request_id", r.rid).Bytes("path", r.path).Msg("request handler panicked")
	ctx.Response.Reset()
	r.limited = false // a 500 reports no limit
	r.fail(ctx, errInternal)
	r.metrics.requests(errInternal.status).Inc()
}

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
	r.preq = proxy.Request{Path: r.fwd, Query: query, RequestID: r.rid, Hooks: r, MaxBody: r.maxBody}
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
	default:
		st.metrics.upstreamErrors.Inc()
		return errUpstream, false
	}
}

// authorize validates the token, resolves identity and policies, checks
// access and counts the limits.
func (r *request) authorize(ctx *fasthttp.RequestCtx, gen *generation, st *apiState, sub []byte) (errorResponse, bool) {
	g, rules := r.g, st.api.JWT
	tok := bearer(ctx.Request.Header.PeekBytes(hdrAuthorization))
	if tok == nil {
		ctx.Response.Header.SetBytesKV(hdrWWWAuthenticate, bearerRealm)
		return errNoToken, false
	}
	now := r.start // one clock read per request, unless the clock is injected
	if !g.systemClock {
		now = g.now()
	}
	claims, err := g.validator.Validate(tok, st.idp, rules, now)
	if err != nil {
		var ae *auth.Error // Validate's failures always are one
		errors.As(err, &ae)
		return r.authError(ctx, ae.Status, ae.Description), false
	}
	identity, ok := claims.String(rules.IdentityClaim)
	if !ok || identity == "" {
		return r.authError(ctx, 401, "token has no "+rules.IdentityClaim+" claim"), false
	}
	r.identity = identity

	// Policy: the portal binding, else the policy claim, else the
	// API's default policies.
	r.pols = r.pols[:0]
	if g.opts.Bindings != nil {
		pol, expiresAt, revoked, catalogue, found := g.opts.Bindings.Binding(identity)
		if found {
			// A deleted or expired registration refuses the ID whatever
			// the issuer (it fails closed). Its policy applies to tokens of
			// the issuer its catalogue entries' APIs take tokens from; a
			// token of another issuer is another provider's client with
			// that ID and gets its own policy. A registration none of whose
			// entries has such an API any more (removed, or keyless) fails
			// closed too, rather than fall through to a wider policy.
			switch {
			case revoked:
				return errRevoked, false
			case !expiresAt.IsZero() && !now.Before(expiresAt):
				return errExpired, false
			}
			switch gen.binding(catalogue, st.idp.Issuer) {
			case bindingHere:
				if e, ok := r.addPolicy(gen, pol); !ok {
					return e, false
				}
			case bindingNowhere:
				return errUnmatched, false
			}
		}
	}
	if len(r.pols) == 0 {
		r.claim = claimCollector{r: r, gen: gen}
		claims.EachString(rules.PolicyClaim, r.claim.add)
		if r.claim.err.status != 0 {
			return r.claim.err, false
		}
	}
	if len(r.pols) == 0 {
		for _, id := range rules.DefaultPolicies {
			if e, ok := r.addPolicy(gen, id); !ok {
				return e, false
			}
		}
	}
	if len(r.pols) == 0 {
		return errNoPolicy, false
	}

	ratePol, quotaPol, first := choosePolicies(r.pols, st.api.ID, r.method, sub)
	if first == nil {
		return errDenied, false
	}
	switch {
	case ratePol != nil:
		r.policy = ratePol.ID
	case quotaPol != nil:
		r.policy = quotaPol.ID
	default:
		r.policy = first.ID
	}
	if ratePol == nil && quotaPol == nil {
		return errorResponse{}, true
	}
	var lr limit.Request
	if ratePol != nil {
		lr.RateKey, lr.Rate = limit.Key{Issuer: st.idp.Issuer, Identity: identity, Policy: ratePol.ID}, ratePol.Rate
	}
	if quotaPol != nil {
		lr.QuotaKey, lr.Quota = limit.Key{Issuer: st.idp.Issuer, Identity: identity, Policy: quotaPol.ID}, quotaPol.Quota
	}
	rd, qd := g.limiter.Take(lr, now)
	switch {
	case lr.Rate != nil && !rd.Allowed:
		r.limit, r.limited = rd, true // refusals always tell
		r.buf = appendSeconds(r.buf[:0], max(rd.RetryAfter, time.Second))
		ctx.Response.Header.SetBytesKV(hdrRetryAfter, r.buf)
		st.metrics.rateLimited.Inc()
		return errRateLimited, false
	case lr.Quota != nil && !qd.Allowed:
		r.limit, r.limited = qd, true
		st.metrics.quotaExceeded.Inc()
		return errQuota, false
	case lr.Quota == nil:
		r.limit = rd
	case lr.Rate == nil:
		r.limit = qd
	default:
		r.limit = nearer(rd, qd)
	}
	r.limited = gen.table.Gateway.RateLimitHeaders
	return errorResponse{}, true
}

// Where a portal client's binding holds (generation.binding).
const (
	bindingHere      = iota // for the token's issuer
	bindingElsewhere        // for another issuer only
	bindingNowhere          // no entry of its has an API that checks tokens
)

// binding tells where the binding of a portal client registered for
// catalogue holds, for a token of issuer.
func (gen *generation) binding(catalogue []string, issuer string) int {
	where := bindingNowhere
	for _, e := range catalogue {
		if iss, ok := gen.entryIssuer[e]; ok {
			if iss == issuer {
				return bindingHere
			}
			where = bindingElsewhere
		}
	}
	return where
}

// claimCollector gathers the policies named in the policy claim; its add
// method is passed to Claims.EachString without allocating.
type claimCollector struct {
	r   *request
	gen *generation
	err errorResponse // status 0, or the answer to an unknown policy named
}

func (c *claimCollector) add(id string) bool {
	if id == "" {
		return true
	}
	e, ok := c.r.addPolicy(c.gen, id)
	c.err = e
	return ok
}

func (r *request) addPolicy(gen *generation, id string) (errorResponse, bool) {
	p := gen.table.Policies[id]
	if p == nil {
		return r.unknownPolicy(id), false
	}
	r.pols = append(r.pols, p)
	return errorResponse{}, true
}

func (r *request) unknownPolicy(id string) errorResponse {
	r.policy = id
	return errorResponse{403, appendErrorJSON(r.buf[:0], 403, "unknown policy "+strconv.Quote(id))}
}

// authError sets the RFC 6750 challenge for a rejected token (401) and
// returns the JSON error; a 503 (keys not yet fetched) has no challenge.
func (r *request) authError(ctx *fasthttp.RequestCtx, status int, desc string) errorResponse {
	if status == 401 {
		b := append(r.buf[:0], `Bearer realm="cuegate", error="invalid_token", error_description=`...)
		b = appendQuotedHeader(b, desc)
		ctx.Response.Header.SetBytesKV(hdrWWWAuthenticate, b)
	}
	r.buf = appendErrorJSON(r.buf[:0], status, desc)
	return errorResponse{status, r.buf}
}

// choosePolicies picks, among the policies that grant method on sub (the
// path after the listen path) of api, the ones whose limits apply.
//
// The most generous limits win, each on its own: a granting policy
// without a rate limit lifts the rate limit, otherwise the highest rate
// (requests per second, Requests/Per) applies; likewise a granting policy
// without a quota lifts the quota, otherwise the highest Max/Period
// applies. Ties go to the policy listed first. The counters are kept per
// token issuer, identity and ID of the policy whose limit applies. first is the
// first granting policy, nil when none grants.
func choosePolicies(pols []*table.Policy, api string, method, sub []byte) (rate, quota, first *table.Policy) {
	noRate, noQuota := false, false
	for _, p := range pols {
		gr, ok := p.Access[api]
		if !ok || !grantAllows(gr, method, sub) {
			continue
		}
		if first == nil {
			first = p
		}
		if p.Rate == nil {
			noRate = true
		} else if rate == nil || ratio(p.Rate.Requests, p.Rate.Per) > ratio(rate.Rate.Requests, rate.Rate.Per) {
			rate = p
		}
		if p.Quota == nil {
			noQuota = true
		} else if quota == nil || ratio(p.Quota.Max, p.Quota.Period) > ratio(quota.Quota.Max, quota.Quota.Period) {
			quota = p
		}
	}
	if noRate {
		rate = nil
	}
	if noQuota {
		quota = nil
	}
	return rate, quota, first
}

func ratio(n int64, per table.Duration) float64 {
	if per <= 0 {
		return float64(n)
	}
	return float64(n) / per.D().Seconds()
}

// grantAllows reports whether gr lets method reach sub. Empty Methods or
// Paths allow all; a path allows itself and everything below it, bounded
// by segments ("/users" allows "/users/7", not "/usersx").
func grantAllows(gr *table.Grant, method, sub []byte) bool {
	if gr == nil {
		return true
	}
	if len(gr.Methods) > 0 {
		ok := false
		for _, m := range gr.Methods {
			if string(method) == m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(gr.Paths) == 0 {
		return true
	}
	for _, p := range gr.Paths {
		if hasSegmentPrefix(sub, p) {
			return true
		}
	}
	return false
}

// hasSegmentPrefix reports whether prefix (as the compiler writes grant
// paths: no trailing slash but for "/") is a segment-bounded prefix of
// path.
func hasSegmentPrefix(path []byte, prefix string) bool {
	if prefix == "/" {
		return true
	}
	if len(path) < len(prefix) || string(path[:len(prefix)]) != prefix {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
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

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(h []byte) []byte {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !bytes.EqualFold(h[:len(scheme)], []byte(scheme)) {
		return nil
	}
	tok := bytes.TrimSpace(h[len(scheme):])
	if len(tok) == 0 {
		return nil
	}
	return tok
}

// ResponseHeader sets the gateway's own response headers, once the
// upstream's are in (proxy.Hooks) or on an error answer: X-Request-Id and,
// when the request was counted against a limit, that limit (r.limit) in
// X-RateLimit-Limit, -Remaining and -Reset (seconds, rounded up). It
// reuses r.buf: an error body there has been copied into the response.
func (r *request) ResponseHeader(h *fasthttp.ResponseHeader) {
	h.SetCanonical(hdrRequestID, r.rid)
	if !r.limited {
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

func (r *request) fail(ctx *fasthttp.RequestCtx, e errorResponse) {
	e.write(&ctx.Response) // copies e.body, which may be r.buf
	r.ResponseHeader(&ctx.Response.Header)
	r.status, r.bytes = e.status, int64(len(e.body))
}

// ResponseDone implements proxy.Hooks: the upstream's response body is
// through.
func (r *request) ResponseDone(status int, upstream time.Duration, n int64) {
	r.status, r.upstream, r.bytes = status, upstream, n
	r.finish()
}

// finish writes the access log line, counts the request and recycles r.
func (r *request) finish() {
	d := time.Since(r.start)
	now := r.start.Add(d) // the wall clock without reading it again
	r.metrics.requests(r.status).Inc()
	r.metrics.duration.Update(d.Seconds())
	if w := r.g.opts.AccessLog; w != nil {
		r.line = r.appendAccessLine(r.line[:0], now, d)
		w.Write(r.line) //nolint:errcheck // as zerolog: a failing log cannot be logged
	}
	r.g, r.metrics, r.st, r.api, r.identity, r.policy = nil, nil, nil, "", "", ""
	r.status, r.bytes, r.upstream, r.limited = 0, 0, 0, false
	r.preq = proxy.Request{}
	r.claim = claimCollector{}
	clear(r.pols)
	requests.Put(r)
}

// setRequestID keeps the client's X-Request-Id when it is 1 to 128
// printable bytes, and otherwise makes one (appendRequestID).
func (r *request) setRequestID(ctx *fasthttp.RequestCtx) {
	if id := ctx.Request.Header.PeekBytes(hdrRequestID); len(id) > 0 && len(id) <= 128 && printable(id) {
		r.rid = append(r.rid[:0], id...)
		return
	}
	r.rid = r.g.appendRequestID(r.rid[:0])
}

// appendRequestID appends a new request ID: the process's random prefix
// and a counter, 32 hex digits.
func (g *Gateway) appendRequestID(dst []byte) []byte {
	return appendHex64(append(dst, g.ridPrefix[:]...), g.ridSeq.Add(1))
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

func appendHex64(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(v>>uint(shift))&15])
	}
	return dst
}

func initRequestIDPrefix(p *[16]byte) {
	var b [8]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
	hex.Encode(p[:], b[:])
}
