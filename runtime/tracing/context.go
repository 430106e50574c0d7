// Package tracing is the gateway's part in distributed traces: W3C trace
// context (parse a caller's traceparent, or start a trace, and write the
// one the upstream gets) on the request path, and OpenTelemetry spans
// exported over OTLP/HTTP for the requests that are sampled.
//
// The request path never touches the OpenTelemetry SDK for a request that
// is not sampled: a Context is plain bytes, its IDs come from the
// runtime's per-thread random source, and its header is written into a
// caller's buffer. Only a sampled request is handed to an Exporter, which
// builds its spans with the IDs the upstream was already sent.
package tracing

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// Context is one request's place in a trace. The zero Context is no
// trace; Begin fills it in. It is a value: copy it freely.
type Context struct {
	TraceID [16]byte
	// Parent is the caller's span; zero when the gateway started the
	// trace.
	Parent [8]byte
	// Span is the gateway's server span.
	Span [8]byte
	// Upstream is the span of the call to the upstream, a child of Span:
	// the parent the upstream's traceparent names.
	Upstream [8]byte
	// Sampled is the sampled flag the gateway propagates: the caller's,
	// or the exporter's decision for a trace the gateway started.
	Sampled bool
	// Remote reports that the trace continues a caller's valid
	// traceparent (and its tracestate may be passed on).
	Remote bool
}

// Begin continues the trace of traceparents, the values of every
// traceparent header of a request, when there is exactly one and it is
// valid (parseTraceparent), or starts a new one: then e, unless nil,
// samples it (a nil e samples none). It does not allocate.
func (c *Context) Begin(traceparents [][]byte, e *Exporter) {
	*c = Context{}
	if len(traceparents) == 1 {
		c.Remote = parseTraceparent(traceparents[0], c)
	}
	if !c.Remote {
		c.TraceID = newTraceID()
		c.Sampled = e.samples(c.TraceID)
	}
	c.Span, c.Upstream = newSpanID(), newSpanID()
}

// Recorded reports whether e exports c's spans: e is on and c sampled.
func (c *Context) Recorded(e *Exporter) bool { return e != nil && c.Sampled }

// parseTraceparent reads a W3C traceparent value into c's TraceID, Parent
// and Sampled, and reports whether it is valid. Valid is: two lowercase
// hex digits of version but "ff"; a trace ID of 32 and a parent ID of 16
// lowercase hex digits, neither all zeros; two hex digits of flags, of
// which only "sampled" is read; for version 00 nothing after them, for a
// later version nothing or a "-" and more (read as 00, as the
// recommendation says). On false c is unchanged.
func parseTraceparent(v []byte, c *Context) bool {
	const n = 55 // "00-" + 32 + "-" + 16 + "-" + 2
	if len(v) < n || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	var version, flags [1]byte
	var trace [16]byte
	var parent [8]byte
	if !lowerHex(version[:], v[0:2]) || version[0] == 0xff ||
		!lowerHex(trace[:], v[3:35]) || !lowerHex(parent[:], v[36:52]) || !lowerHex(flags[:], v[53:55]) {
		return false
	}
	switch {
	case version[0] == 0 && len(v) != n:
		return false
	case len(v) > n && v[n] != '-':
		return false
	case trace == [16]byte{} || parent == [8]byte{}:
		return false
	}
	c.TraceID, c.Parent, c.Sampled = trace, parent, flags[0]&1 == 1
	return true
}

// lowerHex decodes src, lowercase hex digits only, into dst, in one
// pass.
func lowerHex(dst, src []byte) bool {
	for i := range dst {
		hi, lo := hexValue[src[2*i]], hexValue[src[2*i+1]]
		if hi < 0 || lo < 0 {
			return false
		}
		dst[i] = byte(hi<<4 | lo)
	}
	return true
}

// hexValue is the value of a lowercase hex digit, -1 for other bytes.
var hexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
	}
	return t
}()

// AppendTraceparent appends the traceparent the upstream is sent:
// version 00, c's trace, c.Upstream as the parent, c's sampled flag.
func (c *Context) AppendTraceparent(dst []byte) []byte {
	dst = append(dst, "00-"...)
	dst = hex.AppendEncode(dst, c.TraceID[:])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, c.Upstream[:])
	if c.Sampled {
		return append(dst, "-01"...)
	}
	return append(dst, "-00"...)
}

// AppendTraceID appends c's trace ID, 32 lowercase hex digits.
func (c *Context) AppendTraceID(dst []byte) []byte {
	return hex.AppendEncode(dst, c.TraceID[:])
}

// newTraceID and newSpanID draw non-zero IDs from the runtime's
// per-thread random source (math/rand/v2): no lock, no allocation.
func newTraceID() (id [16]byte) {
	for id == [16]byte{} {
		binary.BigEndian.PutUint64(id[:8], rand.Uint64())
		binary.BigEndian.PutUint64(id[8:], rand.Uint64())
	}
	return id
}

func newSpanID() (id [8]byte) {
	for id == [8]byte{} {
		binary.BigEndian.PutUint64(id[:], rand.Uint64())
	}
	return id
}
