package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// The headers' secrets are read at New and sent with every export.
func TestExporterHeaders(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.URL.Path + " " + r.Header.Get("X-Api-Key"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "key"), "s3cret\n", 0o600)
	exported := new(metrics.Counter)
	if err := exportOne(t, &table.Tracing{Endpoint: srv.URL, SampleRatio: 1, ServiceName: "x",
		Headers: map[string]table.Secret{"X-Api-Key": {File: "key"}}}, Options{ConfigDir: dir, Exported: exported}); err != nil {
		t.Fatal(err)
	}
	if got.Load() != "/v1/traces s3cret" || exported.Get() != 1 {
		t.Errorf("collector got %v, %d exported", got.Load(), exported.Get())
	}
}

// exportOne makes an exporter for cfg, records one sampled request with
// it, flushes and shuts it down; the error is Flush's.
func exportOne(t *testing.T, cfg *table.Tracing, opts Options) error {
	t.Helper()
	e, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background()) //nolint:errcheck
	var c Context
	c.Begin(nil, e)
	now := time.Now()
	e.Record(&c, &Request{Method: []byte("GET"), Path: []byte("/"), Start: now, End: now})
	return e.Flush(context.Background())
}

// A header whose secret cannot be read fails New, naming the header and
// the reference.
func TestExporterUnreadableSecret(t *testing.T) {
	t.Parallel()
	_, err := New(&table.Tracing{Endpoint: "http://127.0.0.1:1", Headers: map[string]table.Secret{"X-Api-Key": {Env: "CUEGATE_TEST_NEVER_SET"}}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "gateway.tracing.headers.X-Api-Key") || !strings.Contains(err.Error(), "CUEGATE_TEST_NEVER_SET") {
		t.Fatalf("err = %v", err)
	}
}

// Past the queue's bound spans are dropped and counted, never waited for;
// so are spans after Shutdown.
func TestExporterQueueBound(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	dropped := new(metrics.Counter)
	e, err := New(&table.Tracing{Endpoint: srv.URL, SampleRatio: 1}, Options{Dropped: dropped, QueueSize: 4, BatchTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for range 10 {
		var c Context
		c.Begin(nil, e)
		e.Record(&c, &Request{Method: []byte("GET"), Start: now, End: now})
	}
	if n := dropped.Get(); n != 6 {
		t.Errorf("%d dropped, want 6 of 10 past a queue of 4", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	e.Shutdown(ctx) //nolint:errcheck // the collector blocks
	var c Context
	c.Begin(nil, e)
	e.Record(&c, &Request{Method: []byte("GET"), Start: now, End: now})
	if n := dropped.Get(); n < 7 {
		t.Errorf("%d dropped after Shutdown, want at least 7", n)
	}
}

// A collector that redirects never gets the headers' secrets sent
// elsewhere: the export fails and its spans are dropped.
func TestExporterNoRedirect(t *testing.T) {
	var leaked atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("X-Api-Key"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.RedirectHandler(other.URL+"/v1/traces", http.StatusTemporaryRedirect))
	defer srv.Close()
	t.Setenv("CUEGATE_TEST_TRACING_KEY", "s3cret")
	dropped := new(metrics.Counter)
	exportOne(t, &table.Tracing{Endpoint: srv.URL, SampleRatio: 1, //nolint:errcheck // the export fails
		Headers: map[string]table.Secret{"X-Api-Key": {Env: "CUEGATE_TEST_TRACING_KEY"}}}, Options{Dropped: dropped})
	if leaked.Load() != nil || dropped.Get() != 1 {
		t.Errorf("redirect followed (%v), %d dropped", leaked.Load(), dropped.Get())
	}
}

// A collector's long answer to a failed export is logged clipped, not
// whole (the exporter reads up to 4 MiB of it).
func TestExportFailureLogIsBounded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, strings.Repeat("x", 1<<20), http.StatusBadRequest)
	}))
	defer srv.Close()
	var log testutil.SyncBuffer
	exportOne(t, &table.Tracing{Endpoint: srv.URL, SampleRatio: 1}, Options{Logger: zerolog.New(&log)}) //nolint:errcheck // the export fails
	if out := log.String(); !strings.Contains(out, "export failed") || len(out) > 2*maxLoggedError {
		t.Errorf("the failure is logged in %d bytes: %.200s", len(out), out)
	}
}

// An exporter serves the settings it was made for while the headers'
// secrets resolve to the values it sends: a rotated secret file, or
// other settings, need a new one.
func TestExporterServes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	testutil.WriteFile(t, key, "first", 0o600)
	cfg := func(endpoint string) *table.Tracing {
		return &table.Tracing{Endpoint: endpoint, SampleRatio: 1, Headers: map[string]table.Secret{"X-Api-Key": {File: "key"}}}
	}
	e, err := New(cfg("http://127.0.0.1:1"), Options{ConfigDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background()) //nolint:errcheck
	if !e.Serves(cfg("http://127.0.0.1:1")) {
		t.Error("the same settings and secrets: not served")
	}
	if e.Serves(cfg("http://127.0.0.1:2")) || e.Serves(nil) || (*Exporter)(nil).Serves(cfg("http://127.0.0.1:1")) {
		t.Error("other settings, or none, served")
	}
	testutil.WriteFile(t, key, "rotated", 0o600)
	if e.Serves(cfg("http://127.0.0.1:1")) {
		t.Error("a rotated secret: still served")
	}
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if e.Serves(cfg("http://127.0.0.1:1")) {
		t.Error("an unreadable secret: still served")
	}
}
