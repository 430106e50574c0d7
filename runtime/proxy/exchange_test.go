package proxy

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestLargeBodyCopyDoesNotAllocate: a streamed 1 MiB response goes to the
// client through a pooled buffer; fasthttp's own copy would have the
// connection allocate 32 KiB per response. Not parallel: it counts the
// whole process's allocations.
func TestLargeBodyCopyDoesNotAllocate(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation figures are meaningless under the race detector")
	}
	body := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString(body) }}
	uln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(uln) //nolint:errcheck
	defer up.Shutdown()
	p, err := New(Options{Targets: []string{"http://" + uln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	gw := strings.TrimPrefix(serve(t, p), "http://")
	c := &fasthttp.HostClient{Addr: gw, StreamResponseBody: true}
	get := func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + gw + "/big")
		if err := c.Do(req, resp); err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.BodyStream())
		if err != nil || n != int64(len(body)) {
			t.Fatalf("read %d bytes, %v; want %d", n, err, len(body))
		}
	}
	for range 20 { // warm the pools
		get()
	}
	// Bytes allocated per response, by the whole process (client and
	// server included): the best of three rounds, so that a background
	// goroutine cannot fail the test.
	perResponse := uint64(1 << 62)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 50 {
			get()
		}
		runtime.ReadMemStats(&after)
		perResponse = min(perResponse, (after.TotalAlloc-before.TotalAlloc)/50)
	}
	if perResponse >= 16<<10 {
		t.Errorf("%d bytes allocated per 1 MiB response, want under 16 KiB", perResponse)
	}
	t.Logf("%d bytes allocated per 1 MiB response", perResponse)
}
