package runtime

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime/tracing"
)

var (
	hdrTraceparent = []byte("Traceparent")
	hdrTracestate  = []byte("Tracestate")
)

// exporterShutdown bounds the flush of an Exporter a reload replaced, or
// Close's.
const exporterShutdown = 5 * time.Second

// startTrace continues the trace of the request header h or starts one,
// sampled by gen's exporter. A sampled request keeps its Host for its
// span. It does not allocate once r's buffers have grown.
func (r *request) startTrace(h *fasthttp.RequestHeader, gen *generation) {
	r.exporter = gen.exporter
	r.trace.Begin(h.PeekAll("Traceparent"), gen.exporter)
	if r.trace.Recorded(r.exporter) {
		r.host = append(r.host[:0], h.Host()...)
	}
}

// propagate sets the trace context the upstream gets in h, the request
// about to be forwarded: with on, a traceparent naming the gateway's
// upstream span, and the caller's tracestate only when its traceparent
// was valid and it is valid itself (tracing.ValidTracestate); without,
// neither. A client's traceparent is never passed on. It uses r.buf.
func (r *request) propagate(h *fasthttp.RequestHeader, on bool) {
	if r.trace.Recorded(r.exporter) {
		r.upstreamAt = time.Now()
	}
	h.DelBytes(hdrTraceparent) // every one of them
	if !on || !r.trace.Remote || !tracing.ValidTracestate(h.PeekAll("Tracestate")) {
		h.DelBytes(hdrTracestate)
	}
	if on {
		r.buf = r.trace.AppendTraceparent(r.buf[:0])
		h.SetCanonical(hdrTraceparent, r.buf)
	}
}

// recordSpan hands a sampled request, finished at end, to its exporter.
func (r *request) recordSpan(end time.Time) {
	s := tracing.Request{
		Method: r.method, Path: r.path, Host: r.host,
		API: r.api, Policy: r.policy, Decision: r.decision(),
		Status: r.status, Start: r.start, End: end,
	}
	if r.st != nil { // the request matched an API
		s.Route = r.st.api.ListenPath
	}
	if !r.upstreamAt.IsZero() {
		s.UpstreamStart, s.UpstreamEnd = r.upstreamAt, r.upstreamAt.Add(r.upstream)
		if r.upstreamAnswered {
			s.UpstreamStatus = r.status
		}
	}
	r.exporter.Record(&r.trace, &s)
}

// decision is what the gateway decided about the request, for its span.
func (r *request) decision() string {
	switch {
	case !r.upstreamAt.IsZero():
		return "passed"
	case r.status == 429:
		return "refused_rate"
	case r.status == 403 && r.limits == reportLimit:
		return "refused_quota"
	case r.status == 403:
		return "refused_access"
	case r.status == 401:
		return "token_invalid"
	default:
		return "refused"
	}
}

// writeError makes e the response, its JSON body with the request's
// trace_id; one without a body (errPreflight) has no Content-Type either.
func (r *request) writeError(resp *fasthttp.Response, e errorResponse) {
	resp.SetStatusCode(e.status)
	if e.body == nil { // errPreflight
		return
	}
	resp.Header.SetContentTypeBytes(contentTypeJSON)
	var id [32]byte
	resp.SetBody(e.body[:len(e.body)-2]) // without "}\n"
	resp.AppendBodyString(`,"trace_id":"`)
	resp.AppendBody(r.trace.AppendTraceID(id[:0]))
	resp.AppendBodyString("\"}\n")
}

// swapExporter returns the exporter t's generation records with: prev's
// when it still serves t's tracing configuration (the same settings and
// header secrets, read again: tracing.Exporter.Serves), a new one when
// not, nil when t has none. fresh reports a new one, which the caller
// must install (installExporter) or shut down.
func (g *Gateway) swapExporter(prev *generation, t *table.Table) (e *tracing.Exporter, fresh bool, err error) {
	cfg := t.Gateway.Tracing
	if cfg == nil {
		return nil, false, nil
	}
	if prev != nil && prev.exporter.Serves(cfg) {
		return prev.exporter, false, nil
	}
	e, err = tracing.New(cfg, tracing.Options{
		ConfigDir: g.opts.ConfigDir, Logger: g.log,
		Exported: g.series.spansExported, Dropped: g.series.spansDropped,
	})
	return e, err == nil, err
}

// exporterCurrent reports whether the exporter being served still serves
// t's tracing configuration, its header secrets read again: a reload of
// an unchanged table swaps when not, so that a rotated secret file takes
// effect.
func (g *Gateway) exporterCurrent(t *table.Table) bool {
	cfg := t.Gateway.Tracing
	return cfg == nil || g.cur.Load().exporter.Serves(cfg)
}

// installExporter makes e the exporter of the calls besides requests and
// shuts the one it replaces down in the background: requests still on an
// older generation then drop their spans, counted.
func (g *Gateway) installExporter(e *tracing.Exporter) {
	if old := g.tracing.Set(e); old != nil && old != e {
		go shutdownExporter(old)
	}
}

func shutdownExporter(e *tracing.Exporter) {
	ctx, cancel := context.WithTimeout(context.Background(), exporterShutdown)
	defer cancel()
	e.Shutdown(ctx) //nolint:errcheck // what it could not send is counted as dropped
}

// TracerProvider returns the OpenTelemetry tracer provider of the calls
// the gateway's node makes besides requests (JWKS fetches, the portal's
// registration calls): it follows the tracing configuration being served.
func (g *Gateway) TracerProvider() *tracing.Switch { return &g.tracing }
