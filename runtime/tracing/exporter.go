package tracing

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/outbound"
	"github.com/cuegate/cuegate/internal/printable"
)

// Defaults of Options.
const (
	DefaultQueueSize    = 2048
	DefaultBatchTimeout = 5 * time.Second
	exportTimeout       = 10 * time.Second
	scope               = "github.com/cuegate/cuegate"
)

// collectorClient sends spans to the collector. It follows no redirect:
// the headers' secrets are for the endpoint configured, and a redirect
// is a failed export.
var collectorClient = outbound.NoRedirects(&http.Client{Timeout: exportTimeout})

// Options configures New.
type Options struct {
	// ConfigDir is where the relative secret files of the headers are read
	// from (see table.ConfigPath).
	ConfigDir string
	// Exported and Dropped count the spans the collector took and those
	// lost: the queue was full, the export failed, or they ended after
	// Shutdown. Nil counts nowhere.
	Exported, Dropped *metrics.Counter
	// Logger gets export failures, at most one line per 30s.
	Logger zerolog.Logger
	// QueueSize bounds the spans waiting for export; 0 means
	// DefaultQueueSize. BatchTimeout is how long a span waits at most
	// before its batch is sent; 0 means DefaultBatchTimeout.
	QueueSize    int
	BatchTimeout time.Duration
}

// Exporter exports the spans of one tracing configuration: an
// OpenTelemetry tracer provider with a bounded batch processor and an
// OTLP/HTTP (protobuf) exporter. Ending a span never blocks: past the
// queue's bound spans are dropped and counted. All methods are safe for
// concurrent use; the owner calls Shutdown once, after which spans are
// dropped and counted.
type Exporter struct {
	provider *sdktrace.TracerProvider
	tracer   oteltrace.Tracer
	bound    uint64 // a started trace is sampled when its ID's low 63 bits are below bound
	closed   atomic.Bool
	queued   atomic.Int64 // spans handed to the batch processor, not yet exported or failed
	max      int64
	opts     Options
	failLog  zerolog.Logger // opts.Logger, at most one line per 30 s
	// cfg and headerSum are what e was made for: the settings, and the
	// SHA-256 of the headers' resolved values (see Serves).
	cfg       *table.Tracing
	headerSum [sha256.Size]byte
}

// New returns an Exporter for cfg. It reads the headers' secrets now (see
// Serves); the error names the header, never a value. Nothing is sent
// before a span ends.
func New(cfg *table.Tracing, opts Options) (*Exporter, error) {
	headers, err := resolveHeaders(cfg, opts.ConfigDir)
	if err != nil {
		return nil, err
	}
	client, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(cfg.Endpoint+"/v1/traces"),
		otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithTimeout(exportTimeout),
		otlptracehttp.WithHTTPClient(collectorClient),
		// A collector that is down loses the batch at once: waiting
		// would only fill the queue.
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}),
	)
	if err != nil {
		return nil, fmt.Errorf("gateway.tracing: %w", err)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchTimeout <= 0 {
		opts.BatchTimeout = DefaultBatchTimeout
	}
	e := &Exporter{opts: opts, max: int64(opts.QueueSize), bound: uint64(cfg.SampleRatio * (1 << 63)),
		cfg: cfg, headerSum: headerSum(headers), failLog: opts.Logger.Sample(&zerolog.BurstSampler{Burst: 1, Period: 30 * time.Second})}
	if cfg.SampleRatio >= 1 {
		e.bound = 1 << 63
	}
	bsp := sdktrace.NewBatchSpanProcessor(&countingExporter{SpanExporter: client, e: e},
		// Above the bound countingProcessor keeps: the processor's own
		// drops are uncounted, so it must never drop.
		sdktrace.WithMaxQueueSize(2*opts.QueueSize),
		sdktrace.WithBatchTimeout(opts.BatchTimeout),
		sdktrace.WithExportTimeout(exportTimeout))
	e.provider = sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(&countingProcessor{SpanProcessor: bsp, e: e}),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName))),
		sdktrace.WithSampler(sampler{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))}),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithRawSpanLimits(spanLimits()),
	)
	e.tracer = e.provider.Tracer(scope)
	return e, nil
}

// resolveHeaders reads the secrets of cfg's headers, relative to dir.
// The error names the header, never a value.
func resolveHeaders(cfg *table.Tracing, dir string) (map[string]string, error) {
	headers := make(map[string]string, len(cfg.Headers))
	for name, s := range cfg.Headers {
		v, err := s.Resolve(dir)
		if err != nil {
			return nil, fmt.Errorf("gateway.tracing.headers.%s: %w", name, err)
		}
		headers[name] = v
	}
	return headers, nil
}

// headerSum is the SHA-256 of headers, names and values, in name order.
func headerSum(headers map[string]string) [sha256.Size]byte {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(headers)) {
		h.Write([]byte(name + "\x00" + headers[name] + "\x00"))
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// Serves reports whether e is the exporter for cfg as it stands: the
// same settings, with header secrets that resolve to the values e sends.
// It reads the secrets again, so a rotated secret file makes it false; so
// does a secret that cannot be read. A nil e serves no cfg.
func (e *Exporter) Serves(cfg *table.Tracing) bool {
	if e == nil || cfg == nil || !reflect.DeepEqual(e.cfg, cfg) {
		return false
	}
	headers, err := resolveHeaders(cfg, e.opts.ConfigDir)
	return err == nil && headerSum(headers) == e.headerSum
}

// maxAttributeLen bounds a span attribute's value, in bytes: the client
// chooses the path, the Host and an unknown method.
const maxAttributeLen = 512

// spanLimits are OpenTelemetry's defaults with attribute values cut at
// maxAttributeLen.
func spanLimits() sdktrace.SpanLimits {
	l := sdktrace.NewSpanLimits()
	l.AttributeValueLengthLimit = maxAttributeLen
	return l
}

// samples reports whether a trace the gateway starts with id is
// exported: the decision of OpenTelemetry's TraceIDRatioBased sampler,
// which the spans' own sampler repeats. A nil e samples none.
func (e *Exporter) samples(id [16]byte) bool {
	return e != nil && binary.BigEndian.Uint64(id[8:])>>1 < e.bound
}

// Shutdown exports what is queued, within ctx, and stops e.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.closed.Store(true)
	return e.provider.Shutdown(ctx)
}

// Closed reports whether Shutdown was called.
func (e *Exporter) Closed() bool { return e.closed.Load() }

// Flush exports what is queued, within ctx.
func (e *Exporter) Flush(ctx context.Context) error { return e.provider.ForceFlush(ctx) }

// drop counts n spans lost.
func (e *Exporter) drop(n int) {
	if e.opts.Dropped != nil {
		e.opts.Dropped.Add(n)
	}
}

// countingProcessor keeps the batch processor's queue under e.max,
// counting what it turns away.
type countingProcessor struct {
	sdktrace.SpanProcessor
	e *Exporter
}

func (p *countingProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if p.e.closed.Load() || p.e.queued.Load() >= p.e.max {
		p.e.drop(1)
		return
	}
	p.e.queued.Add(1)
	p.SpanProcessor.OnEnd(s)
}

// countingExporter counts what the collector took and what it did not,
// and logs failures itself instead of OpenTelemetry's global handler.
type countingExporter struct {
	sdktrace.SpanExporter
	e *Exporter
}

func (x *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := x.SpanExporter.ExportSpans(ctx, spans)
	x.e.queued.Add(-int64(len(spans)))
	if err == nil {
		if x.e.opts.Exported != nil {
			x.e.opts.Exported.Add(len(spans))
		}
		return nil
	}
	x.e.drop(len(spans))
	x.e.failLog.Warn().Str("error", printable.Clip(err.Error(), maxLoggedError)).Int("spans", len(spans)).Msg("tracing: export failed, spans dropped (logged at most every 30s; see cuegate_tracing_spans_dropped_total)")
	return nil
}

// maxLoggedError bounds the text of an export failure in the log: it may
// quote the collector's answer, up to the exporter's 4 MiB.
const maxLoggedError = 1 << 10

// ids are the IDs a span the gateway records must have: those it already
// propagated.
type ids struct {
	trace [16]byte
	span  [8]byte
}

type idsKey struct{}

// idGenerator gives a span the IDs its context carries (under idsKey),
// or random ones.
type idGenerator struct{}

var _ sdktrace.IDGenerator = idGenerator{}

func (idGenerator) NewIDs(ctx context.Context) (oteltrace.TraceID, oteltrace.SpanID) {
	if id, ok := ctx.Value(idsKey{}).(*ids); ok {
		return id.trace, id.span
	}
	return newTraceID(), newSpanID()
}

func (idGenerator) NewSpanID(ctx context.Context, _ oteltrace.TraceID) oteltrace.SpanID {
	if id, ok := ctx.Value(idsKey{}).(*ids); ok {
		return id.span
	}
	return newSpanID()
}

// sampler samples a span with given IDs (the request path decided it
// already) and leaves the others, JWKS fetches and portal calls, to the
// parent-based ratio sampler.
type sampler struct{ sdktrace.Sampler }

func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if _, ok := p.ParentContext.Value(idsKey{}).(*ids); ok {
		return sdktrace.SamplingResult{
			Decision:   sdktrace.RecordAndSample,
			Tracestate: oteltrace.SpanContextFromContext(p.ParentContext).TraceState(),
		}
	}
	return s.Sampler.ShouldSample(p)
}
