package runtime

import (
	"net"
	"testing"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

// BenchmarkTracing is BenchmarkRequest's JWT request with tracing off and
// on at sample ratios 0.01 and 1, to an in-process collector, each
// variant its own gateway. Run with -count so that the variants
// interleave, and compare them within one run.
func BenchmarkTracing(b *testing.B) {
	up := benchUpstream(b)
	col := newCollector(b)
	api := `
apis: bench: {name: "Bench", listen_path: "/bench", upstream: targets: ["` + up + `"], auth: jwt: {idp: "dev", default_policies: ["benchpol"]}}
policies: benchpol: {name: "Bench", access: bench: {}, rate: {requests: 1000000000, per: "1s"}, quota: {max: 1000000000, period: "24h"}}
`
	for _, v := range []struct{ name, cfg string }{
		{"off", ""},
		{"ratio=0.01", `gateway: tracing: {endpoint: "` + col.srv.URL + `", sample_ratio: 0.01}`},
		{"ratio=1", `gateway: tracing: {endpoint: "` + col.srv.URL + `", sample_ratio: 1}`},
	} {
		e := newEnv(b, envOptions{extra: api + v.cfg})
		ln := fasthttputil.NewInmemoryListener()
		srv := e.gw.Server()
		gln, _ := e.gw.Listener(ln)
		go srv.Serve(gln) //nolint:errcheck
		b.Cleanup(func() { srv.Shutdown() })
		client := &fasthttp.HostClient{Addr: "gateway", Dial: func(string) (net.Conn, error) { return ln.Dial() }}
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI("http://gateway/bench/items/7")
		req.Header.Set("Authorization", "Bearer "+e.token("bench-client", nil))
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := client.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d", err, resp.StatusCode())
				}
			}
		})
	}
}
