package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/runtime/pathclean"
)

// serve runs a fasthttp server that forwards every request to p with the
// request's own path, answering 502/504 on errors.
func serve(t *testing.T, p *Pool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fasthttp.Server{StreamRequestBody: true, NoDefaultContentType: true, Handler: func(ctx *fasthttp.RequestCtx) {
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
		case err != nil:
			ctx.Error(err.Error(), 502)
		}
	}}
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

func TestForwardHeaders(t *testing.T) {
	var got http.Header
	var gotPath, gotHost, gotQuery string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotPath, gotHost, gotQuery = r.Header.Clone(), r.URL.EscapedPath(), r.Host, r.URL.RawQuery
		w.Header().Set("Connection", "X-Up-Hop")
		w.Header().Set("X-Up-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		io.WriteString(w, "hello")
	}))
	defer up.Close()
	p, err := New(Options{Targets: []string{up.URL + "/base/"}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	resp, body := get(t, gw+"/x/a%20b?q=1%2F2", map[string]string{
		"Connection":          "X-Hop, keep-alive",
		"X-Hop":               "secret",
		"X-Keep":              "yes",
		"Proxy-Authorization": "Basic abc",
		"Te":                  "trailers",
		"X-Forwarded-For":     "10.1.1.1",
		"X-Forwarded-Host":    "spoofed",
	})
	if resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if gotPath != "/base/x/a%20b" {
		t.Errorf("upstream path %q", gotPath)
	}
	if gotQuery != "q=1%2F2" {
		t.Errorf("upstream query %q", gotQuery)
	}
	if gotHost != strings.TrimPrefix(up.URL, "http://") {
		t.Errorf("upstream host %q", gotHost)
	}
	for _, h := range []string{"X-Hop", "Proxy-Authorization", "Te"} {
		if v := got.Get(h); v != "" {
			t.Errorf("hop-by-hop %s reached the upstream: %q", h, v)
		}
	}
	if got.Get("X-Keep") != "yes" {
		t.Errorf("X-Keep lost")
	}
	if v := got.Get("X-Forwarded-For"); v != "10.1.1.1, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q", v)
	}
	if v := got.Get("X-Forwarded-Proto"); v != "http" {
		t.Errorf("X-Forwarded-Proto %q", v)
	}
	if v := got.Get("X-Forwarded-Host"); v != strings.TrimPrefix(gw, "http://") {
		t.Errorf("X-Forwarded-Host %q", v)
	}
	if v := got.Get("X-Request-Id"); v != "rid-1" {
		t.Errorf("X-Request-Id %q", v)
	}
	if v := resp.Header.Get("X-Up-Hop"); v != "" {
		t.Errorf("Connection-listed response header passed: %q", v)
	}
	if v := resp.Header.Get("Keep-Alive"); v != "" {
		t.Errorf("Keep-Alive response header passed: %q", v)
	}
	if v := resp.Header.Values("X-Multi"); len(v) != 2 {
		t.Errorf("X-Multi %q", v)
	}
}

func TestForwardFailover(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		io.WriteString(w, "ok "+r.URL.RawQuery)
	}))
	defer up.Close()
	p, err := New(Options{Targets: []string{testutil.DeadURL(t), up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	for i := 0; i < 10; i++ {
		// The query survives a try on the dead target (the request's
		// URI is rewritten per target).
		resp, body := get(t, gw+"/?q=1", nil)
		if resp.StatusCode != 200 || body != "ok q=1" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if hits != 10 {
		t.Fatalf("upstream hits %d", hits)
	}
	// The dead target is cooling down: it is skipped, not retried.
	if d := p.targets[0].downUntil.Load(); d == 0 {
		t.Fatal("dead target not marked down")
	}
}

// TestClientConnectionState: the request is forwarded in place without
// its Connection header, yet the client's own connection still closes
// when it asked for that (or spoke HTTP/1.0 without keep-alive), and the
// upstream connection is kept either way.
func TestClientConnectionState(t *testing.T) {
	var mu sync.Mutex
	var conns []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns = append(conns, r.Header.Get("Connection")+"|"+r.Proto)
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	defer up.Close()
	p, err := New(Options{Targets: []string{up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	gw := strings.TrimPrefix(serve(t, p), "http://")
	for _, tt := range []struct {
		name, request string
		closed        bool
	}{
		{"close", "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", true},
		{"http/1.0", "GET / HTTP/1.0\r\nHost: gw\r\n\r\n", true},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\n\r\n", false},
		{"keep-alive", "GET / HTTP/1.1\r\nHost: gw\r\n\r\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", gw)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.request); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
			var resp fasthttp.Response
			br := bufio.NewReader(c)
			if err := resp.Read(br); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != 200 || string(resp.Body()) != "ok" {
				t.Fatalf("%d %q", resp.StatusCode(), resp.Body())
			}
			// A closed connection reads EOF; an open one times out.
			wait := 200 * time.Millisecond
			if tt.closed {
				wait = 10 * time.Second
			}
			c.SetReadDeadline(time.Now().Add(wait)) //nolint:errcheck
			_, err = br.ReadByte()
			if closed := errors.Is(err, io.EOF); closed != tt.closed {
				t.Errorf("client connection closed %v, want %v (%v)", closed, tt.closed, err)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range conns {
		if c != "|HTTP/1.1" {
			t.Errorf("upstream saw Connection|proto %q", c)
		}
	}
}

func TestForwardAllDown(t *testing.T) {
	p, err := New(Options{Targets: []string{testutil.DeadURL(t), testutil.DeadURL(t)}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	for i := 0; i < 3; i++ { // also once both are cooling down
		if resp, _ := get(t, gw+"/", nil); resp.StatusCode != 502 {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
	}
}

func TestForwardTimeout(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer up.Close()
	defer close(release)
	p, err := New(Options{Targets: []string{up.URL}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	if resp, _ := get(t, gw+"/", nil); resp.StatusCode != 504 {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, targets := range [][]string{nil, {"ftp://x"}, {"/relative"}} {
		if _, err := New(Options{Targets: targets}); err == nil {
			t.Errorf("New(%q) accepted", targets)
		}
	}
}

func TestCloseWaitsForInflight(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	p, err := New(Options{Targets: []string{up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	get(t, gw+"/", nil)
	p.Close()
	if resp, body := get(t, gw+"/", nil); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("closed pool: %d %q", resp.StatusCode, body)
	}
	if n := p.Inflight(); n != 0 {
		t.Fatalf("inflight %d", n)
	}
}

func TestForwardHeadAndNoDefaultContentType(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "123")
		w.Header()["Content-Type"] = nil // no Content-Type at all
		w.Header().Set("X-Request-Id", "upstream-own")
		if r.Method != "HEAD" {
			w.Write(make([]byte, 123)) //nolint:errcheck
		}
	}))
	defer up.Close()
	p, err := New(Options{Targets: []string{up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	resp, err := http.Head(gw + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ContentLength != 123 {
		t.Errorf("HEAD Content-Length %d", resp.ContentLength)
	}
	resp, body := get(t, gw+"/x", nil)
	if len(body) != 123 || resp.Header.Get("Content-Type") != "" {
		t.Errorf("GET: %d bytes, Content-Type %q", len(body), resp.Header.Get("Content-Type"))
	}
	if v := resp.Header.Values("X-Request-Id"); len(v) != 0 {
		t.Errorf("the upstream's X-Request-Id passed: %q", v)
	}
}

// TestLargeBodyCopyDoesNotAllocate: a streamed 1 MiB response goes to the
// client through a pooled buffer; fasthttp's own copy would have the
// connection allocate 32 KiB per response.
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

func TestSplitTarget(t *testing.T) {
	tests := []struct{ target, path, query string }{
		{"/a/b", "/a/b", ""},
		{"/a?q=1&r=%2F", "/a", "q=1&r=%2F"},
		{"//a//b?x", "//a//b", "x"},
		{"/a#frag?notquery", "/a", ""},
		{"/a?q#frag", "/a", "q"},
		{"http://host.example/p%20q?z=1", "/p%20q", "z=1"},
	}
	for _, tt := range tests {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.Header.SetRequestURI(tt.target)
		path, query := SplitTarget(&ctx)
		if string(path) != tt.path || string(query) != tt.query {
			t.Errorf("SplitTarget(%q) = %q, %q; want %q, %q", tt.target, path, query, tt.path, tt.query)
		}
	}
}

// rawUpstream answers every request with resp as written, closing the
// connection after it.
func rawUpstream(t *testing.T, resp string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					io.WriteString(c, resp) //nolint:errcheck
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// gatewayTo returns a connection to a gateway (serve) in front of an
// upstream that answers every request with resp (rawUpstream).
func gatewayTo(t *testing.T, resp string) net.Conn {
	t.Helper()
	p, err := New(Options{Targets: []string{rawUpstream(t, resp)}})
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

// TestForwardResponseHeader: the client gets the upstream's status,
// headers and cookies but not its protocol version, reason phrase,
// hop-by-hop headers, X-Request-Id or decision to close; the client's
// connection stays open.
func TestForwardResponseHeader(t *testing.T) {
	c := gatewayTo(t, "HTTP/1.0 201 Made It\r\nContent-Length: 2\r\nContent-Type: text/x-up\r\n"+
		"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nServer: up/1\r\nX-Up: kept\r\n"+
		"Trailer: X-T\r\nUpgrade: h2c\r\nKeep-Alive: timeout=5\r\nX-Request-Id: upstream's\r\n"+
		"Connection: close, X-Listed\r\nX-Listed: dropped\r\n\r\nok")
	br := bufio.NewReader(c)
	for i := range 2 { // the second on the same connection
		io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\n\r\n") //nolint:errcheck
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if line != "HTTP/1.1 201 Created\r\n" {
			t.Errorf("status line %q, want HTTP/1.1 and the standard phrase", line)
		}
		resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		h := resp.Header
		if string(body) != "ok" || h.Get("Content-Type") != "text/x-up" || h.Get("Server") != "up/1" || h.Get("X-Up") != "kept" {
			t.Errorf("body %q, header %v", body, h)
		}
		if c := h.Values("Set-Cookie"); len(c) != 2 || c[0] != "a=1" || c[1] != "b=2" {
			t.Errorf("Set-Cookie %q", c)
		}
		for _, k := range []string{"Trailer", "Upgrade", "Keep-Alive", "X-Request-Id", "X-Listed", "Connection"} {
			if v := h.Values(k); len(v) > 0 {
				t.Errorf("%s: %q passed", k, v)
			}
		}
	}
}

// A 304 passes the upstream's validators but not its Content-Length (it
// describes the representation, which the gateway does not send).
func TestForwardNotModified(t *testing.T) {
	c := gatewayTo(t, "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"v1\"\r\n\r\n")
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: gw\r\nIf-None-Match: \"v1\"\r\n\r\n") //nolint:errcheck
	c.SetReadDeadline(time.Now().Add(5 * time.Second))                                //nolint:errcheck
	var head strings.Builder
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("%v after %q", err, head.String())
		}
		if line == "\r\n" {
			break
		}
		head.WriteString(line)
	}
	h := head.String()
	if !strings.HasPrefix(h, "HTTP/1.1 304 Not Modified\r\n") || !strings.Contains(strings.ToLower(h), "etag: \"v1\"\r\n") || strings.Contains(h, "Content-Length") {
		t.Errorf("response head %q: want the 304 with its ETag and no Content-Length", h)
	}
}
