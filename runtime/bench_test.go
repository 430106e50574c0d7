package runtime

import (
	"io"
	"net"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/cuegate/cuegate/internal/testutil"
)

// benchUpstream is a fasthttp upstream answering "ok", so that the
// allocations measured are the gateway's.
func benchUpstream(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("ok") }}
	go s.Serve(ln) //nolint:errcheck
	tb.Cleanup(func() { s.Shutdown() })
	return "http://" + ln.Addr().String()
}

// BenchmarkRequest is the whole gateway handler on fasthttp's in-memory
// listener: a JWT API with a cached token, a policy with a rate limit and
// a quota, proxied to a loopback fasthttp upstream; access log on (to
// io.Discard).
func BenchmarkRequest(b *testing.B) {
	up := benchUpstream(b)
	e := newEnv(b, envOptions{extra: `
apis: bench: {name: "Bench", listen_path: "/bench", upstream: targets: ["` + up + `"], auth: jwt: {idp: "dev", default_policies: ["benchpol"]}}
apis: open: {name: "Open", listen_path: "/open", upstream: targets: ["` + up + `"], auth: keyless: true}
policies: benchpol: {name: "Bench", access: bench: {}, rate: {requests: 1000000000, per: "1s"}, quota: {max: 1000000000, period: "24h"}}
`})
	ln := fasthttputil.NewInmemoryListener()
	srv := e.gw.Server()
	gln, _ := e.gw.Listener(ln) // the gateway's connection stack
	go srv.Serve(gln)           //nolint:errcheck
	defer srv.Shutdown()
	client := &fasthttp.HostClient{Addr: "gateway", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	tok := "Bearer " + e.token("bench-client", nil)

	// The bare upstream, for comparison: the same client straight to it.
	b.Run("direct", func(b *testing.B) {
		direct := &fasthttp.HostClient{Addr: strings.TrimPrefix(up, "http://")}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(up + "/items/7")
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := direct.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Fatalf("%v %d", err, resp.StatusCode())
			}
		}
	})
	for _, path := range []string{"/bench/items/7", "/open/items/7"} {
		name := "jwt"
		if path == "/open/items/7" {
			name = "keyless"
		}
		b.Run(name, func(b *testing.B) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://gateway" + path)
			req.Header.Set("Authorization", tok)
			for i := 0; i < 100; i++ { // warm pools, caches and counters
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("warm-up: %v %d %s", err, resp.StatusCode(), resp.Body())
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d", err, resp.StatusCode())
				}
			}
		})
	}
}

// TestHandlerAllocs: everything the gateway does before the upstream
// exchange (trace context, clean, route, validate a cached token, resolve
// the policy, check access, count limits, answer, log) allocates nothing.
func TestHandlerAllocs(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	e := newEnv(t, envOptions{})
	e.bindings.set("revoked", binding{revoked: true})
	e.bindings.set("bound-reader", binding{policy: "reader"})
	reader := "Bearer " + e.token("c1", map[string]any{"pol": "reader"})
	limited := "Bearer " + e.token("c2", map[string]any{"pol": "limited"})
	tests := []struct {
		name, method, uri, auth string
		status                  int
	}{
		{"not found", "GET", "/nowhere/x", "", 404},
		{"bad path", "GET", "/public/%2e%2e%2fx", "", 400},
		{"method", "DELETE", "/private/x", "", 405},
		{"no token", "GET", "/users/x", "", 401},
		{"parameter, no token", "GET", "/users/x;v=1", "", 401},
		{"denied by grant", "POST", "/users/profiles", reader, 403},
		{"revoked", "GET", "/users/x", "Bearer " + e.token("revoked", nil), 403},
		{"bound, denied by grant", "POST", "/users/profiles", "Bearer " + e.token("bound-reader", nil), 403},
		{"rate limited", "GET", "/users/x", limited, 429},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			var req fasthttp.Request
			req.Header.SetMethod(tt.method)
			req.SetRequestURI(tt.uri)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if i%2 == 1 { // every other case continues a caller's trace
				req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				req.Header.Set("Tracestate", "a=b")
			}
			ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, nil)
			run := func() {
				// As the server does per request: a forwarded request is
				// edited in place.
				req.CopyTo(&ctx.Request)
				ctx.Response.Reset()
				e.gw.Handler(&ctx)
			}
			for i := 0; i < 5; i++ { // warm caches and the limiter
				run()
			}
			if got := ctx.Response.StatusCode(); got != tt.status {
				t.Fatalf("status %d, want %d: %s", got, tt.status, ctx.Response.Body())
			}
			// AllocsPerRun counts the whole process: take the best of three
			// so that a background goroutine cannot fail the test.
			n := testing.AllocsPerRun(200, run)
			for i := 0; i < 2 && n != 0; i++ {
				n = min(n, testing.AllocsPerRun(200, run))
			}
			if n != 0 {
				t.Fatalf("%v allocations per request", n)
			}
		})
	}
}

// TestForwardAllocs: a forwarded request (cached token, policy, limits,
// the upstream exchange with its headers both ways, the access line)
// allocates no more than the same request through a bare fasthttp proxy
// with the gateway's client settings: what allocates is fasthttp's
// streamed round trip, which both make.
func TestForwardAllocs(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	up := benchUpstream(t)
	e := newEnv(t, envOptions{log: io.Discard, extra: `
apis: fwd: {name: "Fwd", listen_path: "/fwd", upstream: targets: ["` + up + `"], auth: jwt: {idp: "dev", default_policies: ["fwdpol"]}}
policies: fwdpol: {name: "Fwd", access: fwd: {}, rate: {requests: 1000000000, per: "1s"}, quota: {max: 1000000000, period: "24h"}}
`})
	bare := &fasthttp.HostClient{Addr: strings.TrimPrefix(up, "http://"), StreamResponseBody: true, DisablePathNormalizing: true, NoDefaultUserAgentHeader: true}
	via := func(h fasthttp.RequestHandler) func() {
		ln := fasthttputil.NewInmemoryListener()
		srv := &fasthttp.Server{Handler: h, StreamRequestBody: true}
		gln, _ := e.gw.Listener(ln) // the gateway's connection stack
		go srv.Serve(gln)           //nolint:errcheck
		t.Cleanup(func() { srv.Shutdown() })
		client := &fasthttp.HostClient{Addr: "gw", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://gw/fwd/items/7")
		req.Header.Set("Authorization", "Bearer "+e.token("alloc-client", nil))
		return func() {
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				t.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
			}
		}
	}
	gateway := via(e.gw.Handler)
	proxy := via(func(ctx *fasthttp.RequestCtx) {
		if err := bare.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), 502)
		}
	})
	for range 100 { // warm pools, caches and counters
		gateway()
		proxy()
	}
	// AllocsPerRun counts the whole process: the best of three, so that a
	// background goroutine cannot fail the test.
	best := func(run func()) float64 {
		n := testing.AllocsPerRun(200, run)
		for range 2 {
			n = min(n, testing.AllocsPerRun(200, run))
		}
		return n
	}
	g, p := best(gateway), best(proxy)
	if g > p {
		t.Fatalf("%v allocations per forwarded request, a bare proxy makes %v", g, p)
	}
	t.Logf("allocations per request, client included: gateway %v, bare proxy %v", g, p)
}

// BenchmarkStatusCounter is the per-request lookup of the status counter,
// from every core at once.
func BenchmarkStatusCounter(b *testing.B) {
	m := newAPIMetrics(metrics.NewSet(), "bench-status-counter")
	m.requests(200)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.requests(200).Inc()
		}
	})
}
