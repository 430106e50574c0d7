package runtime

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/runtime/auth"
	"github.com/cuegate/cuegate/runtime/limit"
	"github.com/cuegate/cuegate/runtime/policy"
	"github.com/cuegate/cuegate/runtime/proxy"
	"github.com/cuegate/cuegate/runtime/tracing"
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
	strOne             = []byte("1")
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
	limit    limit.Decision // when limits is reportLimit: the limit the headers report
	limits   limitHeaders

	pols policy.Set // the policies that apply, decided by authorize
	preq proxy.Request

	claims     *auth.Claims // the token's, once authorized
	corsOrigin []byte       // Access-Control-Allow-Origin's answer; nil: none
	preflight  bool         // the request is a CORS preflight the gateway answers
	trace      tracing.Context
	exporter   *tracing.Exporter // of the admitting generation; nil: tracing off
	// Set only for a request whose spans are recorded:
	host             []byte    // the client's Host
	upstreamAt       time.Time // when the upstream call began
	upstreamAnswered bool      // the upstream's status is r.status
}

// request hears from the proxy when the upstream's answer is in.
var _ proxy.Hooks = (*request)(nil)

// Handler is the gateway server's handler.
var _ fasthttp.RequestHandler = (*Gateway)(nil).Handler

var requests = sync.Pool{New: func() any {
	return &request{
		method: make([]byte, 0, 8),
		path:   make([]byte, 0, 128),
		fwd:    make([]byte, 0, 128),
		rid:    make([]byte, 0, 32),
		buf:    make([]byte, 0, 256),
		line:   make([]byte, 0, 512),
	}
}}

// Handler serves one gateway request: clean the path, check the header,
// route, authenticate, resolve identity and policy, check access, count
// limits, proxy. A request admitted by expect before its body was read
// (Expect: 100-continue) is only proxied.
func (g *Gateway) Handler(ctx *fasthttp.RequestCtx) {
	r, admitted := ctx.UserValue(admittedKey{}).(*request)
	if admitted {
		ctx.RemoveUserValue(admittedKey{})
	} else {
		r = g.newRequest(ctx)
	}
	defer g.recoverPanic(ctx, r)
	var e errorResponse
	ok := admitted
	if !admitted {
		e, ok = r.admit(ctx, g.cur.Load())
	}
	if ok {
		e, ok = r.forward(ctx)
	}
	if !ok {
		r.fail(ctx, e)
		r.finish()
	}
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
	r.limits = passLimits // a 500 reports no limit
	r.fail(ctx, errInternal)
	r.metrics.requests(errInternal.status).Inc()
}

func (r *request) fail(ctx *fasthttp.RequestCtx, e errorResponse) {
	r.writeError(&ctx.Response, e) // copies e.body, which may be r.buf
	r.ResponseHeader(&ctx.Response.Header)
	r.status, r.bytes = e.status, int64(len(ctx.Response.Body()))
}

// ResponseDone implements proxy.Hooks: the upstream's response body is
// through.
func (r *request) ResponseDone(status int, upstream time.Duration, n int64) {
	r.status, r.upstream, r.bytes = status, upstream, n
	r.upstreamAnswered = true
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
	if r.trace.Recorded(r.exporter) {
		r.recordSpan(now)
	}
	r.reset()
	requests.Put(r)
}

// reset clears r for its next request: every field goes back to zero but
// its buffers, emptied, and its policy set, which keeps what it made once.
func (r *request) reset() {
	*r = request{
		method: r.method[:0], path: r.path[:0], fwd: r.fwd[:0], rid: r.rid[:0],
		buf: r.buf[:0], line: r.line[:0], host: r.host[:0], pols: r.pols,
	}
}
