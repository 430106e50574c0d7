package proxy

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/valyala/fasthttp"
)

// Hooks are told about a forwarded request and its response:
// RequestHeader once Forward has made the header it sends (hop-by-hop and
// forwarding headers stripped, its own set), for the caller's last edits,
// which no client header can undo; ResponseHeader once the upstream's
// header is in the client's response, for the caller to add its own
// headers; then ResponseDone when the body has been written to the
// client (or abandoned), or, for a body read whole (see the package
// doc), once it is read and before the client's response is written:
// status is the upstream's status, upstream the time to its response
// header, bytes the number of body bytes passed on.
type Hooks interface {
	RequestHeader(h *fasthttp.RequestHeader)
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
	// Drop names more request headers to remove (sorted, canonical, as
	// fasthttp yields keys), in the same pass as the hop-by-hop ones,
	// before Hooks.RequestHeader: the caller's own, which no client may
	// send.
	Drop [][]byte
	// DropResponse names the response headers of the upstream's to remove
	// likewise, before Hooks.ResponseHeader: the caller's own.
	DropResponse [][]byte
}

// Forward sends the request in ctx to a target with r.Path and streams the
// target's response into ctx.Response (see the package doc for targets,
// connection reuse and bodies). Hop-by-hop headers (and those the
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
// request of its own (the body stream wraps the client's).
//
// On success Forward returns the time to the response header;
// r.Hooks.ResponseHeader has been called before it returns, and
// r.Hooks.ResponseDone is called when the body is through, which may be
// before Forward returns: the caller must not touch what ResponseDone
// releases after a successful Forward. On error (ErrUnavailable,
// ErrTimeout, ErrBusy, ErrBodyTooLarge, ErrClientBody) ctx's response is
// untouched and neither ResponseHeader nor ResponseDone is called
// (RequestHeader has been, but for ErrBusy). A request beyond Options.MaxInflight
// is refused with ErrBusy before anything is sent: the count is taken
// and checked in one atomic step, so that concurrent requests never pass
// it.
func (p *Pool) Forward(ctx *fasthttp.RequestCtx, r *Request) (time.Duration, error) {
	if n := p.inflight.Add(1); p.maxInflight > 0 && n > p.maxInflight {
		p.finish()
		return 0, ErrBusy
	}
	ex := acquireExchange()
	ex.pool, ex.hooks, ex.dropResp = p, r.Hooks, r.DropResponse
	// Until respond hands ex on (to the response or to Close), ex is
	// Forward's to release: on an error, and when a hook panics, so that
	// the panic does not keep the upstream connection and a slot of
	// MaxInflight for ever.
	handedOn := false
	defer func() {
		if !handedOn {
			ex.release()
		}
	}()
	out := ex.outgoing(ctx, r)
	start := time.Now()
	err := p.send(ex, out, start.Add(p.timeout), start)
	upstream := time.Since(start)
	ex.restoreClient(&ctx.Request.Header)
	if err == nil {
		err = ex.respond(ctx, upstream, &handedOn)
	} else {
		err = ex.sendError(err)
	}
	return upstream, err
}

// outgoing makes the request Forward sends from the client's in ctx (see
// Forward), noting in ex what the client's connection needs put back.
func (ex *exchange) outgoing(ctx *fasthttp.RequestCtx, r *Request) *fasthttp.Request {
	ex.resp.Header.SetNoDefaultContentType(true) // pass on only what the upstream sent
	in := &ctx.Request.Header
	// The server decides the client connection's fate by these after the
	// handler; the upstream request must not carry them.
	ex.closeConn, ex.http10, ex.head = in.ConnectionClose(), !in.IsHTTP11(), in.IsHead()
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
	out.Header.SetNoDefaultContentType(true) // pass on only what the client sent
	ex.buf = appendForwardedFor(ex.buf[:0], ctx)
	ex.conn = stripHeaders(&out.Header, func(k []byte) bool { return stripped(k) || named(r.Drop, k) }, ex.conn)
	out.Header.SetCanonical(hdrXFF, ex.buf)
	if isTLS {
		out.Header.SetCanonical(hdrXFProto, strHTTPS)
	} else {
		out.Header.SetCanonical(hdrXFProto, strHTTP)
	}
	out.Header.SetCanonical(hdrXFHost, host)
	out.Header.SetCanonical(hdrRequestID, r.RequestID)
	if ex.hooks != nil {
		ex.hooks.RequestHeader(&out.Header)
	}
	if ex.http10 {
		out.Header.SetProtocolBytes(strHTTP11)
	}
	ex.lastOnConn = ex.head || ((cl > 0 || cl == -1) && !bodyForMethod(in)) // -1: chunked
	if ex.lastOnConn {
		out.Header.SetConnectionClose() // not reused: see the package doc
	}
	// The path and query, copied: the URI they come from is overwritten.
	ex.tail = append(ex.tail[:0], r.Path...)
	if len(r.Query) > 0 {
		ex.tail = append(append(ex.tail, '?'), r.Query...)
	}
	return out
}

// restoreClient puts back in the client's header what outgoing changed
// of the client connection's keep-alive state.
func (ex *exchange) restoreClient(in *fasthttp.RequestHeader) {
	if ex.http10 {
		in.SetProtocolBytes(strHTTP10)
	}
	switch {
	case ex.closeConn:
		in.SetConnectionClose()
	case ex.lastOnConn:
		in.ResetConnectionClose()
	}
}

// sendError is Forward's error for a send that failed with err: the
// client's body, when reading it failed or it was too large.
func (ex *exchange) sendError(err error) error {
	switch {
	case ex.limit.exceeded:
		return ErrBodyTooLarge
	case ex.limit.readErr != nil:
		return fmt.Errorf("%w: %v", ErrClientBody, ex.limit.readErr)
	}
	return err
}

// respond puts the upstream's response into ctx.Response (see Forward and the package doc):
// the body read whole, streamed, or none. On error ctx's response is
// untouched and the caller releases ex; on success ex is the response's
// body stream, or closed, and *handedOn is set just before either.
func (ex *exchange) respond(ctx *fasthttp.RequestCtx, upstream time.Duration, handedOn *bool) error {
	resp := &ex.resp
	switch st := resp.StatusCode(); {
	case st == fasthttp.StatusSwitchingProtocols:
		return fmt.Errorf("%w: the target switched protocols unasked", ErrUnavailable)
	case st < 200 || st > 599:
		// Not a final status a client frames as the target meant: 099
		// would be written as a 99 without a Content-Length, its body
		// read by the client as the next response.
		return fmt.Errorf("%w: the target answered status %d", ErrUnavailable, st)
	}
	ex.status, ex.upstream = resp.StatusCode(), upstream
	body := resp.BodyStream()
	small, err := ex.readSmall(body, resp.Header.ContentLength())
	if !small && err == nil && ex.http10 && body != nil && resp.Header.ContentLength() < 0 {
		small, err = ex.readUnframed(body)
	}
	if err != nil {
		return upstreamError(err, "reading the response body")
	}
	ex.conn = copyResponseHeader(&resp.Header, &ctx.Response.Header, ex.dropResp, ex.conn)
	if ex.hooks != nil {
		ex.hooks.ResponseHeader(&ctx.Response.Header)
	}
	switch {
	case small:
		ex.n = int64(len(ex.small))
		ex.small = ctx.Response.SwapBody(ex.small) // the response's buffer, for the next one
	case body != nil:
		ex.body = body
		*handedOn = true
		ctx.Response.SetBodyStream(ex, max(resp.Header.ContentLength(), -1))
		return nil
	case ex.head:
		// No body, but the upstream's Content-Length describes the GET.
		ctx.Response.SkipBody = true
		ctx.Response.Header.SetContentLength(max(resp.Header.ContentLength(), 0))
	default:
		ctx.Response.SetBody(resp.Body())
		ex.n = int64(len(resp.Body()))
	}
	*handedOn = true
	ex.Close() //nolint:errcheck // never fails
	return nil
}

// bodyForMethod reports whether h's method is one whose body a target
// is taken to read: POST, PUT or PATCH, spelled so. A body with any
// other method (GET, DELETE, OPTIONS, which give it no meaning, RFC 9110
// §9.3; one spelled in another case; an extension method) may be left
// unread, and taken for a request of its own.
func bodyForMethod(h *fasthttp.RequestHeader) bool {
	return h.IsPost() || h.IsPut() || h.IsPatch()
}

// maxSmallBody is the largest response body, by its Content-Length, that
// Forward reads whole before it answers instead of streaming it.
const maxSmallBody = 4 << 10

// readSmall reads the body stream s whole into ex.small when there is one
// and its declared length cl fits maxSmallBody, and reports whether it
// did, or the read's failure. A small body then costs the client's
// response no stream: it is written with the header, and the upstream
// connection goes back to its pool before the client's response is
// written.
func (ex *exchange) readSmall(s io.Reader, cl int) (bool, error) {
	if s == nil || cl < 0 || cl > maxSmallBody {
		return false, nil
	}
	ex.small = slices.Grow(ex.small[:0], cl)[:cl]
	_, err := io.ReadFull(s, ex.small)
	return err == nil, err
}

// maxHTTP10Body is the largest body of unknown length (chunked, or ended
// by the target's close) that Forward reads whole for an HTTP/1.0 client,
// which cannot be sent it chunked, nor, by fasthttp's server, ended by a
// close.
const maxHTTP10Body = 1 << 20

// errHTTP10Body is readUnframed's refusal of a longer body.
var errHTTP10Body = fmt.Errorf("a body of unknown length over %d bytes, which an HTTP/1.0 client cannot be sent", maxHTTP10Body)

// readUnframed reads the body stream s, of unknown length, whole into
// ex.small, failing with errHTTP10Body past maxHTTP10Body, and reports
// whether it did.
func (ex *exchange) readUnframed(s io.Reader) (bool, error) {
	b := bytes.NewBuffer(ex.small[:0])
	n, err := b.ReadFrom(io.LimitReader(s, maxHTTP10Body+1))
	ex.small = b.Bytes()
	switch {
	case err != nil:
		return false, err
	case n > maxHTTP10Body:
		return false, errHTTP10Body
	}
	return true, nil
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
	return SplitOriginForm(uri)
}

// SplitOriginForm returns the path and the query string of an
// origin-form request target ("/a//b?q#f"), without the fragment.
func SplitOriginForm(uri []byte) (path, query []byte) {
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

// limitedReader fails a body that goes past its limit, and keeps the
// error reading the client's body failed with, if any, to tell it from an
// upstream failure.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
	readErr  error
}

var _ io.Reader = (*limitedReader)(nil)

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
