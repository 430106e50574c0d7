// Package proxy forwards gateway requests to an upstream's targets over
// keep-alive connection pools, round-robin with passive health, streaming
// both bodies.
//
// One Pool serves one compiler.Upstream (one set of targets and timeouts); the
// runtime keeps a Pool across table generations while the upstream's Key is
// unchanged, and closes it when the upstream goes away.
package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Errors Forward returns. ErrUnavailable is answered with 502, ErrTimeout
// with 504.
var (
	// ErrUnavailable: no target accepted a connection, or the connection
	// failed before a response arrived.
	ErrUnavailable = errors.New("proxy: upstream unavailable")
	// ErrTimeout: a target did not answer within the upstream timeout, or
	// every target failed and at least one of them by a connect timeout.
	ErrTimeout = errors.New("proxy: upstream timed out")
	// ErrBodyTooLarge: a request body without a length went past
	// Request.MaxBody (answered with 413).
	ErrBodyTooLarge = errors.New("proxy: request body too large")
)

// Options configures a Pool.
type Options struct {
	// Targets are absolute http or https URLs; a target's path is prefixed
	// to every forwarded path.
	Targets []string
	// Timeout bounds one exchange with a target: connecting, sending the
	// request and reading the response, body included. 0 means 30s.
	Timeout time.Duration
	// ConnectTimeout bounds connecting to one target. 0 means 5s.
	ConnectTimeout time.Duration
	// TLSConfig verifies https targets; nil means the system roots.
	TLSConfig *tls.Config
	// Cooldown is how long a target that refused a connection is skipped.
	// 0 means 5s.
	Cooldown time.Duration
	// MaxConnsPerTarget bounds each target's pool; 0 means 1024.
	MaxConnsPerTarget int
}

// Pool forwards requests to the targets of one upstream. It is safe for
// concurrent use.
type Pool struct {
	targets  []*target
	timeout  time.Duration
	cooldown time.Duration
	next     atomic.Uint32
	inflight atomic.Int64
	closed   atomic.Bool
}

type target struct {
	hc     *fasthttp.HostClient
	prefix []byte // scheme://host[:port] + base path without trailing slash
	// downUntil is the unix-nano time until which the target is skipped.
	downUntil atomic.Int64
}

// dialError marks a failure to connect: nothing was sent to the target, so
// the request may go to another one.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// New returns a Pool for opts.Targets. It does not connect.
func New(opts Options) (*Pool, error) {
	if len(opts.Targets) == 0 {
		return nil, errors.New("proxy: no targets")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.Cooldown <= 0 {
		opts.Cooldown = 5 * time.Second
	}
	if opts.MaxConnsPerTarget <= 0 {
		opts.MaxConnsPerTarget = 1024
	}
	p := &Pool{timeout: opts.Timeout, cooldown: opts.Cooldown}
	for _, raw := range opts.Targets {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("proxy: target %q is not an absolute http(s) URL", raw)
		}
		isTLS := u.Scheme == "https"
		connectTimeout := opts.ConnectTimeout
		dialer := &net.Dialer{KeepAlive: 30 * time.Second}
		hc := &fasthttp.HostClient{
			Addr:  fasthttp.AddMissingPort(u.Host, isTLS),
			IsTLS: isTLS,
			DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
				if timeout <= 0 || timeout > connectTimeout {
					timeout = connectTimeout
				}
				d := *dialer
				d.Timeout = timeout
				c, err := d.Dial("tcp", addr)
				if err != nil {
					return nil, &dialError{err}
				}
				return c, nil
			},
			TLSConfig:                     opts.TLSConfig,
			MaxConns:                      opts.MaxConnsPerTarget,
			MaxConnWaitTimeout:            opts.Timeout,
			MaxIdleConnDuration:           90 * time.Second,
			DisablePathNormalizing:        true,
			DisableHeaderNamesNormalizing: false,
			NoDefaultUserAgentHeader:      true,
			StreamResponseBody:            true,
			ReadBufferSize:                16 << 10,
			// A failed exchange is retried on the same target only when it
			// has no body and is idempotent (a stale keep-alive connection).
			RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
				return false, !req.IsBodyStream() && (req.Header.IsGet() || req.Header.IsHead())
			},
		}
		base := strings.TrimSuffix(u.EscapedPath(), "/")
		p.targets = append(p.targets, &target{hc: hc, prefix: []byte(u.Scheme + "://" + u.Host + base)})
	}
	return p, nil
}

// Done is told when a forwarded response has been written to the client
// (or abandoned): status is the upstream's status, upstream the time to its
// response header, bytes the number of body bytes passed on.
type Done interface {
	ResponseDone(status int, upstream time.Duration, bytes int64)
}

// Request is one forwarded call.
type Request struct {
	// Path is the path to send, percent-encoded, starting with "/"; it is
	// appended to the target's base path, and the client's query string
	// follows it unchanged.
	Path []byte
	// RequestID is sent as X-Request-Id.
	RequestID []byte
	// Done, when set, is called once the response body has been streamed.
	Done Done
	// MaxBody, when positive, bounds a request body sent without a
	// Content-Length (chunked); the caller checks declared lengths.
	MaxBody int64
}

// Forward sends the request in ctx to a target with r.Path and streams the
// target's response into ctx.Response. Hop-by-hop headers (and those the
// Connection header names) are removed both ways; X-Forwarded-For/-Proto/
// -Host and X-Request-Id are set. The request body is streamed from
// ctx.RequestBodyStream (the server must use StreamRequestBody) or taken
// from the buffered body.
//
// r.Done may be called before Forward returns; the caller must not touch
// what Done releases after a successful Forward.
//
// Targets are tried round-robin. A target whose connection fails is skipped
// for the cool-down and the request goes to the next one (nothing was sent
// yet); once a connection is made there is no retry elsewhere. On success
// Forward returns the time to the response header and r.Done is called
// when the body is through; on error (ErrUnavailable, ErrTimeout) ctx's
// response is untouched and r.Done is not called.
func (p *Pool) Forward(ctx *fasthttp.RequestCtx, r *Request) (time.Duration, error) {
	p.inflight.Add(1)
	ex := acquireExchange()
	ex.pool, ex.done = p, r.Done
	out, resp := &ex.req, &ex.resp
	resp.Header.SetNoDefaultContentType(true) // pass on only what the upstream sent
	copyRequestHeaders(&ctx.Request.Header, &out.Header)
	ex.buf = setForwarded(ctx, out, r.RequestID, ex.buf)
	if cl := ctx.Request.Header.ContentLength(); (cl > 0 || cl == -1) && !ctx.Request.Header.IsGet() && !ctx.Request.Header.IsHead() {
		if s := ctx.RequestBodyStream(); s != nil {
			if cl < 0 && r.MaxBody > 0 {
				ex.limit = limitedReader{r: s, left: r.MaxBody}
				s = &ex.limit
			}
			out.SetBodyStream(s, cl)
		} else {
			out.SetBodyRaw(ctx.Request.Body())
		}
	}

	start := time.Now()
	deadline := start.Add(p.timeout)
	err := p.send(ex, r.Path, ctx.URI().QueryString(), deadline, start)
	upstream := time.Since(start)
	if err != nil {
		if ex.limit.exceeded {
			err = ErrBodyTooLarge
		}
		ex.release()
		return upstream, err
	}
	ex.status, ex.upstream = resp.StatusCode(), upstream
	ctx.Response.SetStatusCode(ex.status)
	copyResponseHeaders(&resp.Header, &ctx.Response.Header)
	if s := resp.BodyStream(); s != nil {
		ex.body = s
		ctx.Response.SetBodyStream(ex, max(resp.Header.ContentLength(), -1))
		return upstream, nil
	}
	if ctx.Request.Header.IsHead() {
		// No body, but the upstream's Content-Length describes the GET.
		ctx.Response.SkipBody = true
		ctx.Response.Header.SetContentLength(max(resp.Header.ContentLength(), 0))
	} else {
		ctx.Response.SetBody(resp.Body())
		ex.n = int64(len(resp.Body()))
	}
	ex.Close() //nolint:errcheck // never fails
	return upstream, nil
}

// send tries the targets round-robin, skipping those cooling down unless
// all are.
func (p *Pool) send(ex *exchange, path, query []byte, deadline, now time.Time) error {
	out, resp := &ex.req, &ex.resp
	n := uint32(len(p.targets))
	first := p.next.Add(1)
	sawTimeout := false
	for pass := 0; pass < 2; pass++ {
		tried := false
		for i := range n {
			t := p.targets[(first+i)%n]
			if pass == 0 && t.downUntil.Load() > now.UnixNano() {
				continue
			}
			tried = true
			remaining := time.Until(deadline)
			if remaining <= 0 {
				return ErrTimeout
			}
			ex.buf = append(append(ex.buf[:0], t.prefix...), path...)
			if len(query) > 0 {
				ex.buf = append(append(ex.buf, '?'), query...)
			}
			out.SetRequestURIBytes(ex.buf)
			out.URI().DisablePathNormalizing = true
			err := t.hc.DoTimeout(out, resp, remaining)
			if err == nil {
				return nil
			}
			var de *dialError
			if errors.As(err, &de) || errors.Is(err, fasthttp.ErrDialTimeout) {
				t.downUntil.Store(time.Now().Add(p.cooldown).UnixNano())
				if isTimeout(err) {
					sawTimeout = true
				}
				continue // nothing was sent: try the next target
			}
			if isTimeout(err) {
				return ErrTimeout
			}
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		if tried {
			break
		}
	}
	if sawTimeout {
		return ErrTimeout
	}
	return ErrUnavailable
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// Inflight is the number of requests whose exchange with a target is not
// finished (response body included).
func (p *Pool) Inflight() int64 { return p.inflight.Load() }

// Close closes the pool's idle connections once the requests in flight are
// done. A closed Pool still serves the requests that reach it.
func (p *Pool) Close() {
	p.closed.Store(true)
	if p.inflight.Load() == 0 {
		p.closeIdle()
	}
}

func (p *Pool) closeIdle() {
	for _, t := range p.targets {
		t.hc.CloseIdleConnections()
	}
}

func (p *Pool) finish() {
	if p.inflight.Add(-1) == 0 && p.closed.Load() {
		p.closeIdle()
	}
}

// exchange is one forwarded request; it is the response body stream handed
// to fasthttp, which closes it after writing.
type exchange struct {
	req  fasthttp.Request
	resp fasthttp.Response
	pool *Pool
	done Done
	body io.Reader
	n    int64
	buf  []byte // scratch

	status   int
	upstream time.Duration
	limit    limitedReader
}

// limitedReader fails a body that goes past its limit.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.left < 0 {
		l.exceeded = true
		return 0, ErrBodyTooLarge
	}
	if int64(len(b)) > l.left+1 {
		b = b[:l.left+1] // one more byte tells an exact fit from an overflow
	}
	n, err := l.r.Read(b)
	l.left -= int64(n)
	if l.left < 0 {
		l.exceeded = true
		return 0, ErrBodyTooLarge
	}
	return n, err
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func acquireExchange() *exchange { return exchanges.Get().(*exchange) }

func (ex *exchange) Read(b []byte) (int, error) {
	n, err := ex.body.Read(b)
	ex.n += int64(n)
	return n, err
}

// Close ends the exchange: the upstream connection goes back to its pool
// (or is closed when the body was not read to the end).
func (ex *exchange) Close() error {
	status, upstream, n, done := ex.status, ex.upstream, ex.n, ex.done
	ex.release()
	if done != nil {
		done.ResponseDone(status, upstream, n)
	}
	return nil
}

func (ex *exchange) release() {
	ex.resp.CloseBodyStream() //nolint:errcheck // nothing to do about it
	ex.req.Reset()
	ex.resp.Reset()
	p := ex.pool
	ex.pool, ex.done, ex.body, ex.n, ex.status, ex.upstream = nil, nil, nil, 0, 0, 0
	ex.limit = limitedReader{}
	exchanges.Put(ex)
	p.finish()
}

// hopByHop are the headers that concern one connection only (RFC 9110
// §7.6.1), plus Expect, which the upstream exchange handles itself.
var hopByHop = [][]byte{
	[]byte("Connection"), []byte("Keep-Alive"), []byte("Proxy-Connection"),
	[]byte("Proxy-Authenticate"), []byte("Proxy-Authorization"), []byte("Te"),
	[]byte("Trailer"), []byte("Transfer-Encoding"), []byte("Upgrade"),
	[]byte("Content-Length"), []byte("Host"), []byte("Expect"),
}

// skipHeader reports whether key is hop-by-hop or named in the Connection
// header value conn.
func skipHeader(key, conn []byte) bool {
	for _, h := range hopByHop {
		if bytes.EqualFold(key, h) {
			return true
		}
	}
	for len(conn) > 0 {
		var tok []byte
		if i := bytes.IndexByte(conn, ','); i >= 0 {
			tok, conn = conn[:i], conn[i+1:]
		} else {
			tok, conn = conn, nil
		}
		if bytes.EqualFold(bytes.TrimSpace(tok), key) {
			return true
		}
	}
	return false
}

var (
	hdrConnection = []byte("Connection")
	hdrXFF        = []byte("X-Forwarded-For")
	hdrXFProto    = []byte("X-Forwarded-Proto")
	hdrXFHost     = []byte("X-Forwarded-Host")
	hdrRequestID  = []byte("X-Request-Id")
	strHTTP       = []byte("http")
	strHTTPS      = []byte("https")
)

func copyRequestHeaders(in, out *fasthttp.RequestHeader) {
	out.SetMethodBytes(in.Method())
	conn := in.PeekBytes(hdrConnection)
	for k, v := range in.All() {
		if skipHeader(k, conn) || bytes.EqualFold(k, hdrXFF) || bytes.EqualFold(k, hdrXFProto) ||
			bytes.EqualFold(k, hdrXFHost) || bytes.EqualFold(k, hdrRequestID) {
			continue
		}
		out.AddBytesKV(k, v)
	}
}

// copyResponseHeaders copies the upstream's response headers but the
// hop-by-hop ones and X-Request-Id (the gateway sets its own).
func copyResponseHeaders(in *fasthttp.ResponseHeader, out *fasthttp.ResponseHeader) {
	conn := in.PeekBytes(hdrConnection)
	for k, v := range in.All() {
		if skipHeader(k, conn) || bytes.EqualFold(k, hdrRequestID) {
			continue
		}
		out.AddBytesKV(k, v)
	}
}

// setForwarded sets X-Forwarded-For (the client's address appended to what
// the client sent), X-Forwarded-Proto, X-Forwarded-Host and X-Request-Id.
// buf is scratch space, returned for reuse.
func setForwarded(ctx *fasthttp.RequestCtx, out *fasthttp.Request, requestID, buf []byte) []byte {
	buf = buf[:0]
	if prior := ctx.Request.Header.PeekBytes(hdrXFF); len(prior) > 0 {
		buf = append(append(buf, prior...), ", "...)
	}
	if ip := ctx.RemoteIP(); ip != nil {
		buf, _ = ip.AppendText(buf)
	}
	out.Header.SetBytesKV(hdrXFF, buf)
	if ctx.IsTLS() {
		out.Header.SetBytesKV(hdrXFProto, strHTTPS)
	} else {
		out.Header.SetBytesKV(hdrXFProto, strHTTP)
	}
	out.Header.SetBytesKV(hdrXFHost, ctx.Host())
	out.Header.SetBytesKV(hdrRequestID, requestID)
	return buf
}
