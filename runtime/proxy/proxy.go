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
	"net/netip"
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
	// ErrClientBody: a request body without a length (chunked) could not
	// be read from the client, a malformed chunk say (answered with 400).
	ErrClientBody = errors.New("proxy: the client's request body could not be read")
)

// DefaultIdleTimeout is how long an idle connection to a target is kept
// when Options.IdleTimeout is 0: less than the keep-alive timeout of common
// upstream servers (gunicorn's 2s, Node's and Apache's 5s), so that the
// gateway, not the target, closes an idle connection, and never sends a
// request on one the target is closing.
const DefaultIdleTimeout = time.Second

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
	// IdleTimeout is how long an idle connection to a target is kept for
	// reuse. 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
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
	hc *fasthttp.HostClient
	// prefix goes before a request's path: the base path without a
	// trailing slash, after scheme://host[:port] for an https target. An
	// http target's host goes in the Host header instead (host): fasthttp
	// then parses a path, not a whole URL, and takes the scheme from the
	// request, which is http for every request sent (Forward sends a copy
	// of one from a TLS connection; sent in place it would say https).
	prefix []byte
	host   []byte // an http target's host[:port]; nil for https
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
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
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
				return newUpstreamConn(c), nil
			},
			TLSConfig:                     opts.TLSConfig,
			MaxConns:                      opts.MaxConnsPerTarget,
			MaxConnWaitTimeout:            opts.Timeout,
			MaxIdleConnDuration:           opts.IdleTimeout,
			DisablePathNormalizing:        true,
			DisableHeaderNamesNormalizing: false,
			NoDefaultUserAgentHeader:      true,
			StreamResponseBody:            true,
			ReadBufferSize:                16 << 10,
			// A failed exchange is retried on the same target when nothing
			// of it was sent (errStale), or when it has no body and is
			// idempotent. (fasthttp calls this only for a request without a
			// body stream; send retries the others.)
			RetryIfErr: func(req *fasthttp.Request, attempts int, err error) (bool, bool) {
				return false, errors.Is(err, errStale) || (!req.IsBodyStream() && (req.Header.IsGet() || req.Header.IsHead()))
			},
		}
		base := strings.TrimSuffix(u.EscapedPath(), "/")
		t := &target{hc: hc}
		if isTLS {
			t.prefix = []byte("https://" + u.Host + base)
		} else {
			t.prefix, t.host = []byte(base), []byte(u.Host)
		}
		p.targets = append(p.targets, t)
	}
	return p, nil
}

// Hooks are told about a forwarded response: ResponseHeader once the
// upstream's header is in the client's response, for the caller to add its
// own headers; then ResponseDone when the body has been written to the
// client (or abandoned): status is the upstream's status, upstream the time
// to its response header, bytes the number of body bytes passed on.
type Hooks interface {
	ResponseHeader(h *fasthttp.ResponseHeader)
	ResponseDone(status int, upstream time.Duration, bytes int64)
}

// Request is one forwarded call.
type Request struct {
	// Path is the path to send, percent-encoded, starting with "/"; it is
	// appended to the target's base path.
	Path []byte
	// Query is the client's query string (SplitTarget), sent unchanged
	// after Path.
	Query []byte
	// RequestID is sent as X-Request-Id.
	RequestID []byte
	// Hooks, when set, are called with the response (see Hooks).
	Hooks Hooks
	// MaxBody, when positive, bounds a request body sent without a
	// Content-Length (chunked); the caller checks declared lengths.
	MaxBody int64
}

// Forward sends the request in ctx to a target with r.Path and streams the
// target's response into ctx.Response. Hop-by-hop headers (and those the
// Connection header names, but framing, Host, credentials and the
// gateway's own: see endToEnd) are removed both ways; X-Forwarded-For/-Proto/
// -Host and X-Request-Id are set, and Host is the target's (the client's
// goes in X-Forwarded-Host). The request body is streamed from
// ctx.RequestBodyStream (the server must use StreamRequestBody) or taken
// from the buffered body.
//
// The request is sent in place, as a bare proxy does: ctx.Request itself
// is edited (headers, URI) and sent, so the caller must have read what it
// needs from it; only the client connection's keep-alive state is put
// back for the server. A request from a TLS connection, or with a chunked
// body bounded by r.MaxBody, is the exception: its header is copied to a
// request of its own (the body stream wraps the client's). A body is
// passed on whatever the method.
//
// Targets are tried round-robin. A target whose connection fails is skipped
// for the cool-down and the request goes to the next one (nothing was sent
// yet); once a connection is made there is no retry elsewhere. A pooled
// connection the target closed while it was idle is found out before
// anything is sent on it, and the request goes on another connection to
// the same target, whatever its method. On success
// Forward returns the time to the response header; r.Hooks.ResponseHeader
// has been called before it returns, and r.Hooks.ResponseDone is called
// when the body is through, which may be before Forward returns: the
// caller must not touch what ResponseDone releases after a successful
// Forward. On error (ErrUnavailable, ErrTimeout, ErrBodyTooLarge,
// ErrClientBody) ctx's response is untouched and no hook is called.
func (p *Pool) Forward(ctx *fasthttp.RequestCtx, r *Request) (time.Duration, error) {
	p.inflight.Add(1)
	ex := acquireExchange()
	ex.pool, ex.hooks = p, r.Hooks
	resp := &ex.resp
	resp.Header.SetNoDefaultContentType(true) // pass on only what the upstream sent

	in := &ctx.Request.Header
	// The server decides the client connection's fate by these after the
	// handler; the upstream request must not carry them.
	closeConn, http10 := in.ConnectionClose(), !in.IsHTTP11()
	host := targetHost(ctx)
	out := &ctx.Request
	cl, s := in.ContentLength(), ctx.RequestBodyStream()
	limited := cl == -1 && r.MaxBody > 0 && s != nil
	isTLS := ctx.IsTLS()
	if limited || isTLS {
		// Setting a body stream closes the one there, and a request
		// from a TLS connection keeps an https URI, which an http target's
		// HostClient refuses (see target.prefix): send a copy.
		out, ex.copied = &ex.req, true
		in.CopyTo(&out.Header)
		switch {
		case limited:
			ex.limit = limitedReader{r: s, left: r.MaxBody}
			out.SetBodyStream(&ex.limit, -1)
		case s != nil:
			out.SetBodyStream(s, cl)
		default:
			out.SetBodyRaw(ctx.Request.Body())
		}
	}
	ex.buf = appendForwardedFor(ex.buf[:0], ctx)
	ex.conn = stripHeaders(&out.Header, stripped, ex.conn)
	out.Header.SetCanonical(hdrXFF, ex.buf)
	if isTLS {
		out.Header.SetCanonical(hdrXFProto, strHTTPS)
	} else {
		out.Header.SetCanonical(hdrXFProto, strHTTP)
	}
	out.Header.SetCanonical(hdrXFHost, host)
	out.Header.SetCanonical(hdrRequestID, r.RequestID)
	if http10 {
		out.Header.SetProtocolBytes(strHTTP11)
	}

	start := time.Now()
	deadline := start.Add(p.timeout)
	// The path and query, copied: the URI they come from is overwritten.
	ex.tail = append(ex.tail[:0], r.Path...)
	if len(r.Query) > 0 {
		ex.tail = append(append(ex.tail, '?'), r.Query...)
	}
	err := p.send(ex, out, deadline, start)
	upstream := time.Since(start)
	if http10 {
		in.SetProtocolBytes(strHTTP10)
	}
	if closeConn {
		in.SetConnectionClose()
	}
	if err != nil {
		switch {
		case ex.limit.exceeded:
			err = ErrBodyTooLarge
		case ex.limit.readErr != nil:
			err = fmt.Errorf("%w: %v", ErrClientBody, ex.limit.readErr)
		}
		ex.release()
		return upstream, err
	}
	ex.status, ex.upstream = resp.StatusCode(), upstream
	ex.conn = copyResponseHeader(&resp.Header, &ctx.Response.Header, ex.conn)
	if ex.hooks != nil {
		ex.hooks.ResponseHeader(&ctx.Response.Header)
	}
	if s := resp.BodyStream(); s != nil {
		ex.body = s
		ctx.Response.SetBodyStream(ex, max(resp.Header.ContentLength(), -1))
		return upstream, nil
	}
	if in.IsHead() {
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

// SplitTarget returns the path and the query string of ctx's request
// target as the client sent them: for origin-form ("/a//b?q") from the
// request line itself (a leading "//" is a path, not an authority), for
// absolute-form from the parsed URI. A fragment is not part of either.
func SplitTarget(ctx *fasthttp.RequestCtx) (path, query []byte) {
	uri := ctx.Request.Header.RequestURI()
	if len(uri) == 0 || uri[0] != '/' {
		u := ctx.URI()
		return u.PathOriginal(), u.QueryString()
	}
	if i := bytes.IndexByte(uri, '#'); i >= 0 {
		uri = uri[:i]
	}
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		return uri[:i], uri[i+1:]
	}
	return uri, nil
}

// targetHost returns the host the client addressed, parsing the URI only
// for an absolute-form target.
func targetHost(ctx *fasthttp.RequestCtx) []byte {
	if uri := ctx.Request.Header.RequestURI(); len(uri) == 0 || uri[0] != '/' {
		return ctx.URI().Host()
	}
	return ctx.Request.Header.Host()
}

// send tries the targets round-robin, skipping those cooling down unless
// all are.
func (p *Pool) send(ex *exchange, out *fasthttp.Request, deadline, now time.Time) error {
	resp := &ex.resp
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
			remaining := deadline.Sub(now)
			if remaining <= 0 {
				return ErrTimeout
			}
			ex.buf = append(append(ex.buf[:0], t.prefix...), ex.tail...)
			out.SetRequestURIBytes(ex.buf) // sent as it is: the HostClient's DisablePathNormalizing
			if t.host != nil {
				out.Header.SetHostBytes(t.host)
			}
			err := t.hc.DoTimeout(out, resp, remaining)
			for errors.Is(err, errStale) {
				// The target had closed the pooled connection: nothing was
				// sent, so send again (on another one, or a new one).
				now = time.Now()
				if remaining = deadline.Sub(now); remaining <= 0 {
					return ErrTimeout
				}
				err = t.hc.DoTimeout(out, resp, remaining)
			}
			if err == nil {
				return nil
			}
			var de *dialError
			if errors.As(err, &de) || errors.Is(err, fasthttp.ErrDialTimeout) {
				now = time.Now()
				t.downUntil.Store(now.Add(p.cooldown).UnixNano())
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
	req   fasthttp.Request // the request sent, when copied is set
	resp  fasthttp.Response
	pool  *Pool
	hooks Hooks
	body  io.Reader
	n     int64
	buf   []byte // scratch
	conn  []byte // the Connection header's value, while it is stripped
	tail  []byte // path and query sent, after a target's prefix

	status   int
	upstream time.Duration
	limit    limitedReader
	copied   bool // the request sent is req, not the server's
}

// limitedReader fails a body that goes past its limit, and keeps the
// error reading the client's body failed with, if any, to tell it from an
// upstream failure.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
	readErr  error
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
	if err != nil && err != io.EOF {
		l.readErr = err
	}
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

// copyBufs holds the buffers WriteTo copies response bodies through.
var copyBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// SupportsBodyWriteTo tells fasthttp that WriteTo may stand in for Read:
// it counts the same bytes.
func (ex *exchange) SupportsBodyWriteTo() bool { return true }

// WriteTo copies the rest of the upstream's body to w through a pooled
// buffer. Without it fasthttp hands the body to the client connection's
// ReadFrom, which allocates a 32 KiB buffer for every response larger than
// the write buffer.
func (ex *exchange) WriteTo(w io.Writer) (int64, error) {
	buf := copyBufs.Get().(*[32 << 10]byte)
	defer copyBufs.Put(buf)
	var written int64
	for {
		n, rerr := ex.Read(buf[:])
		if n > 0 {
			m, werr := w.Write(buf[:n])
			written += int64(m)
			switch {
			case werr != nil:
				return written, werr
			case m != n:
				return written, io.ErrShortWrite
			}
		}
		switch {
		case rerr == io.EOF:
			return written, nil
		case rerr != nil:
			return written, rerr
		}
	}
}

// Close ends the exchange: the upstream connection goes back to its pool
// (or is closed when the body was not read to the end).
func (ex *exchange) Close() error {
	status, upstream, n, hooks := ex.status, ex.upstream, ex.n, ex.hooks
	ex.release()
	if hooks != nil {
		hooks.ResponseDone(status, upstream, n)
	}
	return nil
}

func (ex *exchange) release() {
	ex.resp.CloseBodyStream() //nolint:errcheck // nothing to do about it
	if ex.copied {
		ex.req.Reset()
	}
	ex.resp.Reset()
	p := ex.pool
	ex.pool, ex.hooks, ex.body, ex.n, ex.status, ex.upstream, ex.copied = nil, nil, nil, 0, 0, 0, false
	ex.limit = limitedReader{}
	exchanges.Put(ex)
	p.finish()
}

// hopByHop reports whether a header key (canonical) is a hop-by-hop
// header (RFC 9110 §7.6.1) but Connection, which stripHeaders handles with
// the headers it names, or X-Request-Id, which the gateway sets itself both
// ways. It is what the response loses (and Content-Length, see
// copyResponseHeader).
func hopByHop(key []byte) bool {
	switch string(key) {
	case "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te",
		"Trailer", "Transfer-Encoding", "Upgrade", "X-Request-Id":
		return true
	}
	return false
}

// stripped reports whether a request header key (canonical, as the
// server parsed it) is removed before the request goes upstream: the
// hop-by-hop headers, Expect (the upstream exchange handles it itself), and
// the X-Forwarded-* the gateway sets. Connection, Content-Length and Host
// are fasthttp's own fields, handled apart.
func stripped(key []byte) bool {
	switch string(key) {
	case "Expect", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host":
		return true
	}
	return hopByHop(key)
}

// nextToken splits the first element, trimmed, off a comma-separated list.
func nextToken(list []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		tok, rest = list[:i], list[i+1:]
	} else {
		tok = list
	}
	return bytes.TrimSpace(tok), rest
}

var (
	hdrConnection    = []byte("Connection")
	hdrContentLength = []byte("Content-Length")
	hdrXFF           = []byte("X-Forwarded-For")
	hdrXFProto       = []byte("X-Forwarded-Proto")
	hdrXFHost        = []byte("X-Forwarded-Host")
	hdrRequestID     = []byte("X-Request-Id")
	strHTTP          = []byte("http")
	strHTTPS         = []byte("https")
	strHTTP10        = []byte("HTTP/1.0")
	strHTTP11        = []byte("HTTP/1.1")
)

// header is what stripHeaders needs of a fasthttp request or response
// header. (Not All: its iterator escapes through an interface, and
// PeekKeys gives the keys without allocating.)
type header interface {
	PeekKeys() [][]byte
	PeekBytes(key []byte) []byte
	DelBytes(key []byte)
}

// stripHeaders removes from h, in place, the headers drop names (keys as
// fasthttp yields them: canonical), the Connection header and those it
// names. It deletes only what is there: a typical message has none of
// them. conn is scratch for the Connection value, returned for reuse.
func stripHeaders(h header, drop func(key []byte) bool, conn []byte) []byte {
	n := 0
	for _, k := range h.PeekKeys() {
		if drop(k) {
			n++
		}
	}
	for ; n > 0; n-- {
		for _, k := range h.PeekKeys() {
			if drop(k) {
				h.DelBytes(k) // DelBytes copies k before it edits h
				break
			}
		}
	}
	conn = append(conn[:0], h.PeekBytes(hdrConnection)...)
	if len(conn) == 0 {
		return conn
	}
	h.DelBytes(hdrConnection) // also clears the close flag
	for rest := conn; len(rest) > 0; {
		var tok []byte
		if tok, rest = nextToken(rest); len(tok) > 0 && !endToEnd(tok) {
			h.DelBytes(tok)
		}
	}
	return conn
}

// endToEnd reports whether a header name (any case) stays whatever the
// Connection header names: framing (Content-Length, Transfer-Encoding),
// Host, the credentials (Authorization, Cookie) and the headers the
// gateway sets (X-Forwarded-*, X-Request-Id). "Connection: Content-Length"
// would otherwise unframe the body sent upstream, and "Connection:
// Authorization" hide from the upstream the token the gateway validated.
func endToEnd(name []byte) bool {
	for _, k := range endToEndNames {
		if bytes.EqualFold(name, k) {
			return true
		}
	}
	return false
}

var endToEndNames = [][]byte{
	[]byte("Content-Length"), []byte("Transfer-Encoding"), []byte("Host"),
	[]byte("Authorization"), []byte("Cookie"), []byte("Set-Cookie"),
	hdrXFF, hdrXFProto, hdrXFHost, hdrRequestID,
}

// copyResponseHeader copies the upstream's response header (status,
// headers, cookies) to out but the hop-by-hop headers, those its
// Connection header names, and X-Request-Id (the gateway sets its own).
// The upstream's protocol and reason phrase are not kept: the client gets
// HTTP/1.1 and the standard phrase. Nor is its Content-Length: out's is
// set for the body as it is sent (a 304 gets none). conn is scratch,
// returned for reuse.
//
// The header is copied whole and then edited, not rebuilt key by key: the
// keys and values were checked when the client parsed them. CopyTo also
// copies in's flags; they are what the gateway's server uses too (no
// default Content-Type, as Forward sets on the upstream response; default
// Date; names normalised), so a change to the server's settings must be
// made here as well.
func copyResponseHeader(in, out *fasthttp.ResponseHeader, conn []byte) []byte {
	in.CopyTo(out)
	out.SetProtocol(nil)
	out.SetStatusMessage(nil)
	out.DelBytes(hdrContentLength)
	return stripHeaders(out, hopByHop, conn)
}

// appendForwardedFor appends the X-Forwarded-For value: the client's
// address appended to what the client sent.
func appendForwardedFor(buf []byte, ctx *fasthttp.RequestCtx) []byte {
	if prior := ctx.Request.Header.PeekBytes(hdrXFF); len(prior) > 0 {
		buf = append(append(buf, prior...), ", "...)
	}
	if a, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		buf = a.Unmap().AppendTo(buf)
	}
	return buf
}
