package proxy

import (
	"bytes"
	"net/netip"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
)

// hopByHop reports whether a header key (canonical) is a hop-by-hop
// header (RFC 9110 §7.6.1) but Connection, which stripConnection handles with
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

// stripRequestHeaders removes from h, a request header about to go
// upstream, in place, the headers stripped names, the Connection header
// and those it names. It reads h's fields as the client sent them
// (AllInOrder), not through All or PeekKeys: those make fasthttp parse
// the Cookie fields and write them back rebuilt, which drops cookies it
// cannot parse and unquotes values. DelBytes leaves the received fields
// as they are, so deleting while reading them is safe. conn is scratch
// for the Connection value, returned for reuse.
func stripRequestHeaders(h *fasthttp.RequestHeader, conn []byte) []byte {
	for k := range h.AllInOrder() {
		if stripped(k) {
			h.DelBytes(k) // DelBytes copies k before it edits h
		}
	}
	return stripConnection(h, conn)
}

// stripResponseHeaders removes from h, the upstream's response header
// as copied for the client, in place, the hop-by-hop headers, the
// Connection header and those it names. It deletes only what is there: a
// typical response has none of them. conn is scratch for the Connection
// value, returned for reuse.
func stripResponseHeaders(h *fasthttp.ResponseHeader, conn []byte) []byte {
	n := 0
	for _, k := range h.PeekKeys() {
		if hopByHop(k) {
			n++
		}
	}
	for ; n > 0; n-- {
		for _, k := range h.PeekKeys() { // a deletion moves the keys: read them again
			if hopByHop(k) {
				h.DelBytes(k) // DelBytes copies k before it edits h
				break
			}
		}
	}
	return stripConnection(h, conn)
}

// connectionHeader is what stripConnection needs of a fasthttp request
// or response header.
type connectionHeader interface {
	PeekBytes(key []byte) []byte
	DelBytes(key []byte)
}

var (
	_ connectionHeader = (*fasthttp.RequestHeader)(nil)
	_ connectionHeader = (*fasthttp.ResponseHeader)(nil)
)

// stripConnection removes h's Connection header and the headers it names
// but those that stay end to end (endToEnd). conn is scratch for the
// Connection value, returned for reuse.
func stripConnection(h connectionHeader, conn []byte) []byte {
	conn = append(conn[:0], h.PeekBytes(hdrConnection)...)
	if len(conn) == 0 {
		return conn
	}
	h.DelBytes(hdrConnection) // also clears the close flag
	for rest := conn; len(rest) > 0; {
		var tok []byte
		if tok, rest = NextToken(rest); len(tok) > 0 && !endToEnd(tok) {
			h.DelBytes(tok)
		}
	}
	return conn
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
	return stripResponseHeaders(out, conn)
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
