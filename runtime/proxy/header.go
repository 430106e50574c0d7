package proxy

import (
	"bytes"
	"net/netip"
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
)

// hopByHop reports whether a header key (canonical) is a hop-by-hop
// header (table.HopByHop; Connection, which stripHeaders handles with the
// headers it names, aside), or X-Request-Id, which the gateway sets itself
// both ways. It is what the response loses (and Content-Length, see
// copyResponseHeader).
func hopByHop(key []byte) bool {
	return table.HopByHop(key) || string(key) == "X-Request-Id"
}

// stripped reports whether a request header key (canonical, as the
// server parsed it) is removed before the request goes upstream: the
// hop-by-hop headers, Expect (the upstream exchange handles it itself), and
// the headers by which a client could speak for a proxy or rewrite the
// request past the gateway's decision (table.ClientSpoofable; the gateway
// sets the X-Forwarded-* it sends itself). Connection, Content-Length and
// Host are fasthttp's own fields, handled apart.
func stripped(key []byte) bool {
	return string(key) == "Expect" || table.ClientSpoofable(key) || hopByHop(key)
}

// NextToken splits the first element, trimmed, off a comma-separated
// header list; rest is nil after the last element.
func NextToken(list []byte) (tok, rest []byte) {
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
	PeekAll(key string) [][]byte
	DelBytes(key []byte)
}

var (
	_ header = (*fasthttp.RequestHeader)(nil)
	_ header = (*fasthttp.ResponseHeader)(nil)
)

// stripHeaders removes from h, in place, the headers drop names (keys as
// fasthttp yields them: canonical), the Connection fields and the headers
// they name. It deletes only what is there: a typical message has none of
// them, and costs one pass over its keys; each distinct name to drop is
// then deleted once, however many fields have it (DelBytes removes them
// all). conn is scratch, for the names and then the Connection values,
// returned for reuse.
func stripHeaders(h header, drop func(key []byte) bool, conn []byte) []byte {
	names := conn[:0] // each followed by '\n'
	for _, k := range h.PeekKeys() {
		if drop(k) && !listed(names, k) {
			names = append(append(names, k...), '\n')
		}
	}
	for rest := names; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		h.DelBytes(rest[:i])
		rest = rest[i+1:]
	}
	conn = names[:0]
	for _, v := range h.PeekAll(fasthttp.HeaderConnection) {
		conn = append(append(conn, v...), ',')
	}
	if len(conn) == 0 {
		return conn
	}
	h.DelBytes(hdrConnection) // every field; also clears the close flag
	for rest := conn; len(rest) > 0; {
		var tok []byte
		if tok, rest = NextToken(rest); len(tok) > 0 && !endToEnd(tok) {
			h.DelBytes(tok)
		}
	}
	return conn
}

// named reports whether name is one of names (sorted).
func named(names [][]byte, name []byte) bool {
	_, ok := slices.BinarySearchFunc(names, name, bytes.Compare)
	return ok
}

// listed reports whether names, each followed by '\n', has name.
func listed(names, name []byte) bool {
	for len(names) > 0 {
		i := bytes.IndexByte(names, '\n')
		if bytes.Equal(names[:i], name) {
			return true
		}
		names = names[i+1:]
	}
	return false
}

// endToEnd reports whether a header name (any case) stays whatever the
// Connection header names: framing (Content-Length, Transfer-Encoding),
// Host, the credentials (Authorization, Cookie) and the headers the
// gateway sets (X-Forwarded-*, X-Request-Id, the trace context's
// Traceparent and Tracestate). "Connection: Content-Length"
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
	[]byte("Traceparent"), []byte("Tracestate"),
}

// copyResponseHeader copies the upstream's response header (status,
// headers, cookies) to out but the hop-by-hop headers, those its
// Connection header names, X-Request-Id (the gateway sets its own) and
// those drop names (sorted, canonical).
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
func copyResponseHeader(in, out *fasthttp.ResponseHeader, drop [][]byte, conn []byte) []byte {
	in.CopyTo(out)
	out.SetProtocol(nil)
	out.SetStatusMessage(nil)
	out.DelBytes(hdrContentLength)
	return stripHeaders(out, func(k []byte) bool { return hopByHop(k) || named(drop, k) }, conn)
}

// appendForwardedFor appends the X-Forwarded-For value: the client's
// address appended to what the client sent, its fields joined in order
// (as one field would list them).
func appendForwardedFor(buf []byte, ctx *fasthttp.RequestCtx) []byte {
	for _, prior := range ctx.Request.Header.PeekAll(fasthttp.HeaderXForwardedFor) {
		if len(prior) > 0 {
			buf = append(append(buf, prior...), ", "...)
		}
	}
	if a, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		buf = a.Unmap().AppendTo(buf)
	}
	return buf
}
