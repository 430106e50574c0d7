package runtime

import (
	"net/http/httptest"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestUpstreamMaxInflight: with two requests held by a slow upstream, a
// third to it is answered 503 at once with Retry-After and counted, an
// API on another upstream still answers, and once the two finish the
// upstream takes requests again. The cap is upstream.max_inflight, or
// by default half of max_conns as serving started.
func TestUpstreamMaxInflight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, extra, reloaded string }{
		{"configured", "apis: public: upstream: max_inflight: 2\n", ""},
		{"half of max_conns", "gateway: {max_conns: 4, max_conns_per_client: 4}\n", ""},
		// max_conns takes effect at start, and so does the default.
		{"half of max_conns at start", "gateway: {max_conns: 4, max_conns_per_client: 4}\n", "gateway: {max_conns: 1000, max_conns_per_client: 1000}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{extra: tc.extra})
			if tc.reloaded != "" {
				e.writeConfig(tc.reloaded)
				if err := reload(e.gw); err != nil {
					t.Fatal(err)
				}
			}
			admin := httptest.NewServer(e.gw.AdminHandler())
			defer admin.Close()
			held := make(chan response, 2)
			for range 2 {
				go func() { held <- e.do("GET", "/public/block", "", nil) }()
			}
			pool := e.gw.cur.Load().apis[e.gw.Current().APIs["public"]].pool
			testutil.Eventually(t, "two requests in flight", func() bool { return pool.Inflight() == 2 })

			r := e.do("GET", "/public/x", "", nil)
			if r.status != 503 || r.header.Get("Retry-After") != "1" {
				t.Fatalf("third request: %d %s, Retry-After %q; want 503, Retry-After 1", r.status, r.body, r.header.Get("Retry-After"))
			}
			const busy = `cuegate_upstream_errors_total{api="public",kind="busy"}`
			if got := metricValue(t, scrape(t, admin.URL), busy); got != 1 {
				t.Errorf("%s = %v, want 1", busy, got)
			}
			if r := e.do("GET", "/half/x", "", nil); r.status != 200 {
				t.Errorf("an API on another upstream answers %d", r.status)
			}
			close(e.release)
			for range 2 {
				if r := <-held; r.status != 200 {
					t.Errorf("held request: %d %s", r.status, r.body)
				}
			}
			if r := e.do("GET", "/public/x", "", nil); r.status != 200 {
				t.Errorf("after the held requests: %d %s", r.status, r.body)
			}
		})
	}
}
