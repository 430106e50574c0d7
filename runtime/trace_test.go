package runtime

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/cuegate/cuegate/internal/testutil"
)

// collector is an OTLP/HTTP receiver: it decodes the protobuf export
// requests posted to /v1/traces and keeps their spans.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs map[string]string // resource attributes, last seen
	keys  map[string]string // span name → the X-Api-Key header it came with
}

func newCollector(t testing.TB) *collector {
	c := &collector{attrs: map[string]string{}, keys: map[string]string{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want a protobuf POST to /v1/traces", 400)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, kv := range rs.Resource.GetAttributes() {
				c.attrs[kv.Key] = kv.Value.GetStringValue()
			}
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
				for _, s := range ss.Spans {
					c.keys[s.Name] = r.Header.Get("X-Api-Key")
				}
			}
		}
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// span returns the span named name, if the collector got it.
func (c *collector) span(name string) *tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = strconv.FormatInt(v.IntValue, 10)
		default:
			m[kv.Key] = kv.Value.GetStringValue()
		}
	}
	return m
}

// flush has the gateway's exporter send what it holds.
func flush(t testing.TB, g *Gateway) {
	t.Helper()
	if err := g.tracing.Load().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTraceThroughGateway(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	var logs testutil.SyncBuffer
	e := newEnv(t, envOptions{log: &logs, extra: `gateway: tracing: {endpoint: "` + col.srv.URL + `", sample_ratio: 0, service_name: "edge"}`})
	const caller = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tok := e.token("trace-client", map[string]any{"pol": "writer"})
	r := e.do("GET", "/users/a", tok, map[string]string{"Traceparent": caller, caseHeader: "trace"})
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	hit, _ := e.hitOf("trace")
	sent := hit.Header.Get("Traceparent")
	if !strings.HasPrefix(sent, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || !strings.HasSuffix(sent, "-01") || len(sent) != 55 {
		t.Fatalf("upstream got traceparent %q", sent)
	}
	flush(t, e.gw)
	server, client := col.span("GET /users"), col.span("upstream GET /users")
	if server == nil || client == nil {
		t.Fatalf("spans: server %v, upstream %v", server, client)
	}
	// client → gateway → upstream
	if got := hex.EncodeToString(server.TraceId); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace %s", got)
	}
	if got := hex.EncodeToString(server.ParentSpanId); got != "00f067aa0ba902b7" {
		t.Errorf("server span's parent %s, want the caller's", got)
	}
	if string(client.ParentSpanId) != string(server.SpanId) || hex.EncodeToString(client.SpanId) != sent[36:52] {
		t.Errorf("upstream span %x (parent %x), server span %x, upstream got %s", client.SpanId, client.ParentSpanId, server.SpanId, sent)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER || client.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds %v %v", server.Kind, client.Kind)
	}
	want := map[string]string{
		"http.request.method": "GET", "http.route": "/users", "url.path": "/users/a", "server.address": "127.0.0.1",
		"http.response.status_code": "200", "cuegate.api": "users", "cuegate.policy": "writer", "cuegate.decision": "passed",
	}
	got := attrMap(server.Attributes)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	col.mu.Lock()
	if col.attrs["service.name"] != "edge" {
		t.Errorf("service.name %q", col.attrs["service.name"])
	}
	for _, s := range col.spans {
		for _, v := range attrMap(s.Attributes) {
			if strings.Contains(v, tok[:20]) || strings.Contains(v, "trace-client") {
				t.Errorf("span %s holds the token or the identity: %q", s.Name, v)
			}
		}
	}
	col.mu.Unlock()
	var line struct {
		TraceID string `json:"trace_id"`
	}
	testutil.Eventually(t, "the access line", func() bool {
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, `"path":"/users/a"`) {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	})
	if line.TraceID != hex.EncodeToString(server.TraceId) {
		t.Errorf("access line trace_id %q, span's %x", line.TraceID, server.TraceId)
	}
}

// A refusal is recorded with its decision; an unsampled caller is not.
func TestTraceRefusals(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	e := newEnv(t, envOptions{extra: `gateway: tracing: {endpoint: "` + col.srv.URL + `/", sample_ratio: 1}`})
	e.do("GET", "/users/a", "", nil)
	e.do("GET", "/private/a", "", map[string]string{"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})
	flush(t, e.gw)
	s := col.span("GET /users")
	if s == nil {
		t.Fatalf("no span of the refusal: %v", col.spans)
	}
	if got := attrMap(s.Attributes)["cuegate.decision"]; got != "token_invalid" {
		t.Errorf("decision %q", got)
	}
	if col.span("GET /private") != nil {
		t.Error("an unsampled caller's request was recorded")
	}
}

// Several traceparent headers are malformed: the trace starts anew.
func TestTraceparentDuplicated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.rawExchange("GET /public/x HTTP/1.1\r\nHost: g\r\nConnection: close\r\n" + caseHeader + ": dup\r\n" +
		"Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n" +
		"Tracestate: a=b\r\n\r\n")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	hit, _ := e.hitOf("dup")
	if tp := hit.Header.Values("Traceparent"); len(tp) != 1 || strings.Contains(tp[0], "4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("upstream got traceparent %q", tp)
	}
	if ts := hit.Header.Values("Tracestate"); len(ts) != 0 {
		t.Errorf("upstream got tracestate %q", ts)
	}
}

// With the collector down requests pass as before and the spans are
// dropped and counted.
func TestTraceCollectorDown(t *testing.T) {
	t.Parallel()
	dead := testutil.DeadURL(t)
	e := newEnv(t, envOptions{extra: `gateway: tracing: {endpoint: "` + dead + `", sample_ratio: 1}`})
	for range 5 {
		if r := e.do("GET", "/public/x", "", nil); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	flush(t, e.gw)
	if n := e.gw.series.spansDropped.Get(); n < 5 {
		t.Errorf("%d spans dropped, want at least 5", n)
	}
}

// A reload that changes the tracing block swaps the exporter (the old one
// is shut down); one that keeps it keeps the exporter.
func TestTraceReload(t *testing.T) {
	t.Parallel()
	a, b := newCollector(t), newCollector(t)
	cfg := func(c *collector) string {
		return `gateway: tracing: {endpoint: "` + c.srv.URL + `", sample_ratio: 1}`
	}
	e := newEnv(t, envOptions{extra: cfg(a)})
	first := e.gw.tracing.Load()
	e.writeConfig(cfg(a) + "\napis: extra: {name: \"Extra\", listen_path: \"/extra\", upstream: targets: apis.public.upstream.targets, auth: keyless: true}")
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	if e.gw.tracing.Load() != first {
		t.Fatal("an unchanged tracing block built a new exporter")
	}
	e.writeConfig(cfg(b))
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	if e.gw.tracing.Load() == first || e.gw.cur.Load().exporter != e.gw.tracing.Load() {
		t.Fatal("a changed tracing block kept the exporter")
	}
	testutil.Eventually(t, "the old exporter shut down", first.Closed)
	e.do("GET", "/public/x", "", nil)
	flush(t, e.gw)
	if b.span("GET /public") == nil || a.span("GET /public") != nil {
		t.Error("the request's span did not go to the new collector only")
	}
	e.writeConfig("")
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	if e.gw.tracing.Load() != nil || e.gw.cur.Load().exporter != nil {
		t.Error("tracing removed, an exporter remains")
	}
}

// A method HTTP does not define is recorded as _OTHER, its span named
// "HTTP route"; attribute values the client chooses are cut short.
func TestTraceUnknownMethod(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	e := newEnv(t, envOptions{extra: `gateway: tracing: {endpoint: "` + col.srv.URL + `", sample_ratio: 1}`})
	method, path := strings.Repeat("X", 900), "/public/"+strings.Repeat("p", 1500)
	r := e.rawExchange(method + " " + path + " HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	flush(t, e.gw)
	s, up := col.span("HTTP /public"), col.span("upstream HTTP /public")
	if s == nil || up == nil {
		col.mu.Lock()
		defer col.mu.Unlock()
		t.Fatalf("no span named HTTP /public and its upstream span: %d spans", len(col.spans))
	}
	got := attrMap(s.Attributes)
	if got["http.request.method"] != "_OTHER" || got["http.request.method_original"] != method[:512] || got["url.path"] != path[:512] {
		t.Errorf("attributes %q", got)
	}
	if m := attrMap(up.Attributes)["http.request.method"]; m != "_OTHER" {
		t.Errorf("upstream span's method %q", m)
	}
}

// A reload after a header's secret file changed exports with the new
// value, though the tracing block is the same.
func TestTraceReloadRotatedSecret(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "otel-key")
	testutil.WriteFile(t, key, "first", 0o600)
	extra := `gateway: tracing: {endpoint: "` + col.srv.URL + `", sample_ratio: 1, headers: "X-Api-Key": file: "` + key + `"}`
	e := newEnv(t, envOptions{extra: extra})
	first := e.gw.tracing.Load()
	testutil.WriteFile(t, key, "rotated", 0o600)
	if err := reload(e.gw); err != nil {
		t.Fatal(err)
	}
	if e.gw.tracing.Load() == first {
		t.Fatal("a rotated secret kept the exporter")
	}
	e.do("GET", "/public/x", "", nil)
	flush(t, e.gw)
	col.mu.Lock()
	defer col.mu.Unlock()
	if got := col.keys["GET /public"]; got != "rotated" {
		t.Errorf("the request's span came with key %q, want the rotated one", got)
	}
}
