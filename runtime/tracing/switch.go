package tracing

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// Switch is the Exporter in use, for the calls the gateway makes besides
// requests (JWKS fetches, the portal's registration calls): an
// OpenTelemetry TracerProvider whose tracers follow Set, so that a reload
// that changes the tracing configuration reaches them. Its methods are
// safe for concurrent use. The Switch does not own the Exporters: whoever
// calls Set shuts the one it replaced down.
type Switch struct {
	embedded.TracerProvider
	cur atomic.Pointer[Exporter]
}

var (
	_ oteltrace.TracerProvider = (*Switch)(nil)
	_ oteltrace.Tracer         = switchTracer{}
	_ http.RoundTripper        = (*transport)(nil)
)

// Set makes e (nil: none) the Exporter in use and returns the previous one.
func (s *Switch) Set(e *Exporter) *Exporter { return s.cur.Swap(e) }

// Load returns the Exporter in use; nil when tracing is off.
func (s *Switch) Load() *Exporter { return s.cur.Load() }

// Tracer returns a tracer that starts its spans with the Exporter in use
// at the time, or none.
func (s *Switch) Tracer(name string, _ ...oteltrace.TracerOption) oteltrace.Tracer {
	return switchTracer{s: s, name: name}
}

type switchTracer struct {
	embedded.Tracer
	s    *Switch
	name string
}

var off = noop.NewTracerProvider().Tracer("")

func (t switchTracer) Start(ctx context.Context, name string, opts ...oteltrace.SpanStartOption) (context.Context, oteltrace.Span) {
	if e := t.s.Load(); e != nil && !e.closed.Load() {
		return e.provider.Tracer(t.name).Start(ctx, name, opts...)
	}
	return off.Start(ctx, name, opts...)
}

// Transport returns base (http.DefaultTransport when nil) with a client
// span per request, named "<call> METHOD", with the method, the server's
// host and the status, and the W3C trace context sent along. The URL's
// path and query are not recorded: they may name a client.
func (s *Switch) Transport(base http.RoundTripper, call string) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, tracer: s.Tracer(scope), call: call}
}

type transport struct {
	base   http.RoundTripper
	tracer oteltrace.Tracer
	call   string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(req.Context(), t.call+" "+req.Method, oteltrace.WithSpanKind(oteltrace.SpanKindClient),
		oteltrace.WithAttributes(
			attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname()),
			attribute.String("cuegate.call", t.call)))
	if !span.IsRecording() {
		return t.base.RoundTrip(req)
	}
	defer span.End()
	req = req.Clone(ctx)
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := t.base.RoundTrip(req)
	switch {
	case err != nil:
		msg := err.Error()
		if ue, ok := err.(*url.Error); ok {
			msg = ue.Err.Error() // without the URL
		}
		span.SetStatus(codes.Error, msg)
	case resp.StatusCode >= 400:
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	default:
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	}
	return resp, err
}
