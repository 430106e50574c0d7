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

// rulesAPI is the CUE of an API at /id on upstream up, with policy pol:
// scopes, a claim match, CORS and a claim header.
func rulesAPI(id, up, pol string) string {
	return `apis: ` + id + `: {
	name: "Rules", listen_path: "/` + id + `"
	upstream: {targets: ["` + up + `"], claim_headers: {"X-Roles": "realm_access.roles"}}
	auth: jwt: {idp: "dev", default_policies: ["` + pol + `"], scopes: ["read"], claims: {"realm_access.roles": "buyer"}}
	cors: origins: ["https://app.example"]
}`
}

// rulesClaims are the claims the rules APIs of the benchmarks need.
var rulesClaims = map[string]any{"scope": "read write", "realm_access": map[string]any{"roles": []any{"buyer"}}}

// BenchmarkRequest is the whole gateway handler on fasthttp's in-memory
// listener: a JWT API with a cached token, a policy with a rate limit and
// a quota, proxied to a loopback fasthttp upstream; access log on (to
// io.Discard).
func BenchmarkRequest(b *testing.B) {
	up := benchUpstream(b)
	e := newEnv(b, envOptions{extra: `
apis: bench: {name: "Bench", listen_path: "/bench", upstream: targets: ["` + up + `"], auth: jwt: {idp: "dev", default_policies: ["benchpol"]}}
apis: open: {name: "Open", listen_path: "/open", upstream: targets: ["` + up + `"], auth: keyless: true}
` + rulesAPI("rules", up, "benchpol") + `
policies: benchpol: {name: "Bench", access: {bench: {}, rules: {}}, rate: {requests: 1000000000, per: "1s"}, quota: {max: 1000000000, period: "24h"}}
`})
	ln := fasthttputil.NewInmemoryListener()
	srv := e.gw.Server()
	gln, _ := e.gw.Listener(ln) // the gateway's connection stack
	go srv.Serve(gln)           //nolint:errcheck
	defer srv.Shutdown()
	client := &fasthttp.HostClient{Addr: "gateway", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	tok := "Bearer " + e.token("bench-client", rulesClaims)

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
	// jwt-parallel is jwt from 64 concurrent clients, the cores saturated:
	// its ns/op follows the CPU a request costs rather than its latency.
	b.Run("jwt-parallel", func(b *testing.B) {
		b.SetParallelism(32)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://gateway/bench/items/7")
			req.Header.Set("Authorization", tok)
			for pb.Next() {
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Errorf("%v %d", err, resp.StatusCode())
					return
				}
			}
		})
	})
	// jwt+rules is jwt with scopes, a claim match, CORS (an allowed
	// Origin) and a claim header.
	for _, name := range []string{"jwt", "keyless", "jwt+rules"} {
		path := map[string]string{"jwt": "/bench/items/7", "keyless": "/open/items/7", "jwt+rules": "/rules/items/7"}[name]
		b.Run(name, func(b *testing.B) {
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI("http://gateway" + path)
			req.Header.Set("Authorization", tok)
			req.Header.Set("Origin", "https://app.example")
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
	preflight := map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
	buyer := func(scope string) string {
		return "Bearer " + e.token("c3", map[string]any{"scope": scope, "realm_access": map[string]any{"roles": []any{"buyer"}}})
	}
	tests := []struct {
		name, method, uri, auth string
		status                  int
		header                  map[string]string
	}{
		{"not found", "GET", "/nowhere/x", "", 404, nil},
		{"bad path", "GET", "/public/%2e%2e%2fx", "", 400, nil},
		{"method", "DELETE", "/private/x", "", 405, nil},
		{"no token", "GET", "/users/x", "", 401, nil},
		{"parameter, no token", "GET", "/users/x;v=1", "", 401, nil},
		{"denied by grant", "POST", "/users/profiles", reader, 403, nil},
		{"revoked", "GET", "/users/x", "Bearer " + e.token("revoked", nil), 403, nil},
		{"bound, denied by grant", "POST", "/users/profiles", "Bearer " + e.token("bound-reader", nil), 403, nil},
		{"rate limited", "GET", "/users/x", limited, 429, nil},
		{"CORS preflight", "OPTIONS", "/orders/7", "", 204, preflight},
		{"CORS on a 401", "GET", "/orders/7", "", 401, map[string]string{"Origin": "https://app.example"}},
		{"insufficient scope", "GET", "/orders/7", buyer("other"), 403, nil},
		{"none of scopes_any", "GET", "/catalog/7", buyer("other"), 403, nil},
		{"claim mismatch", "GET", "/orders/7", "Bearer " + e.token("c4", map[string]any{"scope": "orders:read"}), 403, nil},
		{"grant needs a scope", "POST", "/orders/7", buyer("orders:read"), 403, nil},
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
			for k, v := range tt.header {
				req.Header.Set(k, v)
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
` + rulesAPI("fwdrules", up, "fwdpol") + `
policies: fwdpol: {name: "Fwd", access: {fwd: {}, fwdrules: {}}, rate: {requests: 1000000000, per: "1s"}, quota: {max: 1000000000, period: "24h"}}
`})
	bare := &fasthttp.HostClient{Addr: strings.TrimPrefix(up, "http://"), StreamResponseBody: true, DisablePathNormalizing: true, NoDefaultUserAgentHeader: true}
	via := func(h fasthttp.RequestHandler, path string) func() {
		ln := fasthttputil.NewInmemoryListener()
		srv := &fasthttp.Server{Handler: h, StreamRequestBody: true}
		gln, _ := e.gw.Listener(ln) // the gateway's connection stack
		go srv.Serve(gln)           //nolint:errcheck
		t.Cleanup(func() { srv.Shutdown() })
		client := &fasthttp.HostClient{Addr: "gw", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://gw" + path)
		req.Header.Set("Authorization", "Bearer "+e.token("alloc-client", rulesClaims))
		req.Header.Set("Origin", "https://app.example")
		return func() {
			if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				t.Fatalf("%v %d %s", err, resp.StatusCode(), resp.Body())
			}
		}
	}
	gateway := via(e.gw.Handler, "/fwd/items/7")
	rules := via(e.gw.Handler, "/fwdrules/items/7")
	proxy := via(func(ctx *fasthttp.RequestCtx) {
		if err := bare.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), 502)
		}
	}, "/fwd/items/7")
	for range 100 { // warm pools, caches and counters
		gateway()
		rules()
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
	g, r, p := best(gateway), best(rules), best(proxy)
	if g > p || r > p {
		t.Fatalf("%v allocations per forwarded request (%v with scopes, a claim, CORS and a claim header), a bare proxy makes %v", g, r, p)
	}
	t.Logf("allocations per request, client included: gateway %v, with rules %v, bare proxy %v", g, r, p)
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
