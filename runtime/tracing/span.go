package tracing

import (
	"bytes"
	"context"
	"net"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// Request is what a sampled request's spans say. It holds no token,
// secret or identity: the gateway fills in only the fields below.
type Request struct {
	// Route is the listen path of the API the request matched; "" when
	// it matched none.
	Route string
	// Method, Path (cleaned, without the query) and Host are the
	// client's.
	Method, Path, Host []byte
	// API and Policy are the IDs of the API and of the policy applied;
	// Decision is what the gateway decided (passed, refused_rate, ...).
	API, Policy, Decision string
	Status                int
	Start, End            time.Time
	// UpstreamStart and UpstreamEnd bound the call to the upstream (to its
	// response header); a zero UpstreamStart means no call was made.
	// UpstreamStatus is the upstream's status, 0 when it gave none.
	UpstreamStart, UpstreamEnd time.Time
	UpstreamStatus             int
}

// Record exports c's spans for r: the gateway's server span, named "METHOD
// route" ("HTTP route" for a method HTTP does not define, which is
// recorded as _OTHER with the client's in http.request.method_original),
// with the caller's span as its parent, and a client span for the call to
// the upstream, each with the ID c gave it. Call it for a request
// c.Recorded(e); it does not block.
func (e *Exporter) Record(c *Context, r *Request) {
	if e.closed.Load() {
		e.drop(1)
		return
	}
	ctx := context.Background()
	if c.Remote {
		ctx = oteltrace.ContextWithRemoteSpanContext(ctx, oteltrace.NewSpanContext(oteltrace.SpanContextConfig{
			TraceID: c.TraceID, SpanID: c.Parent, TraceFlags: oteltrace.FlagsSampled, Remote: true,
		}))
	}
	method, known := knownMethod(r.Method)
	name := method
	if !known {
		name = "HTTP"
	}
	if r.Route != "" {
		name += " " + r.Route
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	if !known {
		attrs = append(attrs, attribute.String("http.request.method_original", string(r.Method)))
	}
	attrs = append(attrs,
		attribute.String("http.request.method", method),
		attribute.String("url.path", string(r.Path)),
		attribute.String("server.address", hostOnly(r.Host)),
		attribute.Int("http.response.status_code", r.Status),
		attribute.String("cuegate.decision", r.Decision))
	if r.Route != "" {
		attrs = append(attrs, attribute.String("http.route", r.Route), attribute.String("cuegate.api", r.API))
	}
	if r.Policy != "" {
		attrs = append(attrs, attribute.String("cuegate.policy", r.Policy))
	}
	ctx, span := e.tracer.Start(context.WithValue(ctx, idsKey{}, &ids{c.TraceID, c.Span}), name,
		oteltrace.WithSpanKind(oteltrace.SpanKindServer), oteltrace.WithTimestamp(r.Start), oteltrace.WithAttributes(attrs...))
	if r.Status >= 500 {
		span.SetStatus(codes.Error, "")
	}
	if !r.UpstreamStart.IsZero() {
		e.recordUpstream(context.WithValue(ctx, idsKey{}, &ids{c.TraceID, c.Upstream}), name, method, r)
	}
	span.End(oteltrace.WithTimestamp(r.End))
}

// recordUpstream records the client span of r's call to the upstream.
func (e *Exporter) recordUpstream(ctx context.Context, name, method string, r *Request) {
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", method),
		attribute.String("cuegate.api", r.API),
	}
	if r.UpstreamStatus > 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", r.UpstreamStatus))
	}
	_, span := e.tracer.Start(ctx, "upstream "+name,
		oteltrace.WithSpanKind(oteltrace.SpanKindClient), oteltrace.WithTimestamp(r.UpstreamStart), oteltrace.WithAttributes(attrs...))
	if r.UpstreamStatus == 0 || r.UpstreamStatus >= 500 {
		span.SetStatus(codes.Error, "")
	}
	span.End(oteltrace.WithTimestamp(r.UpstreamEnd))
}

// hostOnly is the host of a Host header, without the port.
func hostOnly(h []byte) string {
	if host, _, err := net.SplitHostPort(string(h)); err == nil {
		return host
	}
	return string(bytes.Trim(h, "[]"))
}

// knownMethod is m as the span's http.request.method: m when it is one
// of the methods HTTP defines (and true), else "_OTHER", so that a
// client cannot name spans or grow their set of names.
func knownMethod(m []byte) (string, bool) {
	for _, k := range [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"} {
		if string(m) == k { // the constant, not a copy of m
			return k, true
		}
	}
	return "_OTHER", false
}
