package runtime

import (
	"errors"
	"net"
	"strconv"

	"github.com/cuegate/cuegate/internal/jsonlog"
	"github.com/valyala/fasthttp"
)

// errorResponse is a pre-rendered JSON error: {"error": "...", "code": N}.
type errorResponse struct {
	status int
	body   []byte
}

func newError(status int, msg string) errorResponse {
	return errorResponse{status, appendErrorJSON(nil, status, msg)}
}

// The fixed errors the handler answers with; rendered once.
var (
	errBadPath            = newError(400, "invalid request path")
	errParamRoute         = newError(400, "invalid request path: a path parameter (;) changes which API serves it")
	errCaseRoute          = newError(400, "invalid request path: read without regard to case, it belongs to another API")
	errMethodOverride     = newError(400, "invalid query: a method-override parameter (_method, X-HTTP-Method-Override or kin) would run the request as another method")
	errLimiterUnavailable = newError(503, "rate limits cannot be counted: the shared limit store is unreachable, try again shortly")
	errBindingsNotReady   = newError(503, "this node has not loaded the portal's client registrations yet, try again shortly")
	errNotFound           = newError(404, "no API is served at this path")
	errMethod             = newError(405, "method not allowed")
	errTooLarge           = newError(413, "request body too large")
	errMalformed          = newError(400, "malformed request")
	errReadTimeout        = newError(408, "request not received in time")
	errHeaderLarge        = newError(431, "request header too large")
	errNoToken            = newError(401, "missing bearer token")
	errRevoked            = newError(403, "client revoked")
	errExpired            = newError(403, "client registration expired")
	errUnmatched          = newError(403, "client registration matches no catalogue entry of this identity provider's APIs: ask the operator")
	errNoPolicy           = newError(403, "no policy applies to this client")
	errDenied             = newError(403, "access denied by policy")
	errRateLimited        = newError(429, "rate limit exceeded")
	errQuota              = newError(403, "quota exceeded")
	errUpstream           = newError(502, "upstream unavailable")
	errUpstreamSlow       = newError(504, "upstream timed out")
	errUpstreamBusy       = newError(503, "upstream busy: too many requests in flight to it")
	errInternal           = newError(500, "internal error")
)

// write makes e the response.
func (e errorResponse) write(resp *fasthttp.Response) {
	resp.SetStatusCode(e.status)
	resp.Header.SetContentTypeBytes(contentTypeJSON)
	resp.SetBody(e.body)
}

// requestError is the gateway server's fasthttp ErrorHandler: it answers
// a request fasthttp could not read, with the gateway's JSON error and a
// new X-Request-Id. A header over max_header_bytes is 431, a request not
// received within read_timeout 408, a body over fasthttp's limit 413,
// anything else (a malformed request line, header or chunked body) 400.
// fasthttp closes the connection after it. What was wrong goes to the log
// (fasthttpLogger), not to the client; the answer is counted in
// cuegate_requests_total with the requests that match no API.
func (g *Gateway) requestError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var netErr net.Error
	e := errMalformed
	switch {
	case errors.As(err, &small):
		e = errHeaderLarge
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		e = errTooLarge
	case errors.As(err, &netErr) && netErr.Timeout():
		e = errReadTimeout
	}
	var rid [32]byte
	ctx.Response.Header.SetCanonical(hdrRequestID, g.appendRequestID(rid[:0]))
	e.write(&ctx.Response)
	g.notFound.requests(e.status).Inc()
}

// appendErrorJSON appends {"error":msg,"code":status} to dst, msg
// escaped as the log lines escape strings (jsonlog.AppendString).
func appendErrorJSON(dst []byte, status int, msg string) []byte {
	dst = append(dst, `{"error":`...)
	dst = jsonlog.AppendString(dst, msg)
	dst = append(dst, `,"code":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	return append(dst, '}', '\n')
}

// appendQuotedHeader appends s as an RFC 9110 quoted-string, dropping the
// bytes a header value cannot hold.
func appendQuotedHeader(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20 || c == 0x7f:
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
