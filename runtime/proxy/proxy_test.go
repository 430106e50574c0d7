package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/runtime/pathclean"
)

// serve runs a fasthttp server that forwards every request to p with the
// request's own path, answering 502/504 on errors.
func serve(t *testing.T, p *Pool) string {
	t.Helper()
	return serveHandler(t, func(ctx *fasthttp.RequestCtx) {
		raw, query := SplitTarget(ctx)
		path, err := pathclean.Clean(nil, raw)
		if err != nil {
			ctx.Error("bad path", 400)
			return
		}
		_, err = p.Forward(ctx, &Request{Path: pathclean.Append(nil, path), Query: query, RequestID: []byte("rid-1")})
		switch {
		case errors.Is(err, ErrTimeout):
			ctx.Error("timeout", 504)
		case errors.Is(err, ErrBusy):
			ctx.Error("busy", 503)
		case err != nil:
			ctx.Error(err.Error(), 502)
		}
	})
}

// serveHandler serves h on a loopback listener, as the gateway's server
// is configured for Forward, until the test ends, and returns its URL.
func serveHandler(t *testing.T, h fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{StreamRequestBody: true, NoDefaultContentType: true, Handler: h}
	go s.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { s.Shutdown() })
	return "http://" + ln.Addr().String()
}

func get(t *testing.T, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// rawUpstream answers every request with resp as written, closing the
// connection after it, or, with hold, keeping it open until the test ends.
func rawUpstream(t *testing.T, resp string, hold bool) string {
	t.Helper()
	ln := testutil.Loopback(t)
	testutil.ServeConns(ln, func(c net.Conn) {
		if hold {
			t.Cleanup(func() { c.Close() })
		} else {
			defer c.Close()
		}
		if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			io.WriteString(c, resp) //nolint:errcheck
		}
	})
	return "http://" + ln.Addr().String()
}

// gatewayTo returns a connection to a gateway (serve) in front of an
// upstream that answers every request with resp (rawUpstream).
func gatewayTo(t *testing.T, resp string) net.Conn {
	t.Helper()
	p, err := New(Options{Targets: []string{rawUpstream(t, resp, false)}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(serve(t, p), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
