package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// panicHooks panics in the hook named by at.
type panicHooks struct{ at string }

var _ Hooks = panicHooks{}

func (h panicHooks) RequestHeader(*fasthttp.RequestHeader) {
	if h.at == "request" {
		panic("request hook")
	}
}

func (h panicHooks) ResponseHeader(*fasthttp.ResponseHeader) {
	if h.at == "response" {
		panic("response hook")
	}
}

func (panicHooks) ResponseDone(int, time.Duration, int64) {}

// TestHookPanicEndsTheExchange: a hook that panics (a bug, which the
// gateway answers with 500) ends the exchange, so that it keeps no slot
// of MaxInflight: the next requests are still let through.
func TestHookPanicEndsTheExchange(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(up.Close)
	for _, at := range []string{"request", "response"} {
		t.Run(at, func(t *testing.T) {
			t.Parallel()
			p, err := New(Options{Targets: []string{up.URL}, MaxInflight: 1})
			if err != nil {
				t.Fatal(err)
			}
			gw := serveHandler(t, func(ctx *fasthttp.RequestCtx) {
				defer func() {
					if recover() != nil {
						ctx.Error("panicked", 500) // as the gateway answers one
					}
				}()
				if _, err := p.Forward(ctx, &Request{Path: []byte("/x"), Hooks: panicHooks{at}}); err != nil {
					ctx.Error(err.Error(), 502)
				}
			})
			for i := range 3 {
				if resp, body := get(t, gw+"/x", nil); resp.StatusCode != 500 {
					t.Fatalf("request %d: %d %s, want the 500 of the %s hook's panic", i, resp.StatusCode, body, at)
				}
				if n := p.Inflight(); n != 0 {
					t.Fatalf("request %d: Inflight %d after the panic, want 0", i, n)
				}
			}
		})
	}
}
