package proxy

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestForwardHeaders(t *testing.T) {
	t.Parallel()
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
		"Connection":             "X-Hop, keep-alive",
		"X-Hop":                  "secret",
		"X-Keep":                 "yes",
		"Proxy-Authorization":    "Basic abc",
		"Te":                     "trailers",
		"X-Forwarded-For":        "10.1.1.1",
		"X-Forwarded-Host":       "spoofed",
		"Forwarded":              "for=10.9.9.9;proto=https;host=spoofed",
		"X-Real-IP":              "10.9.9.9",
		"X-Forwarded-Port":       "443",
		"X-Forwarded-Prefix":     "/admin",
		"X-Forwarded-Ssl":        "on",
		"X-HTTP-Method-Override": "DELETE",
		"X-HTTP-Method":          "DELETE",
		"X-Method-Override":      "DELETE",
		"X-Original-URL":         "/admin",
		"X-Rewrite-URL":          "/admin",
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
	for _, h := range []string{"Forwarded", "X-Real-Ip", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Ssl",
		"X-Http-Method-Override", "X-Http-Method", "X-Method-Override", "X-Original-Url", "X-Rewrite-Url"} {
		if v := got.Get(h); v != "" {
			t.Errorf("the client's %s reached the upstream: %q", h, v)
		}
	}
	if v := got.Get("Content-Type"); v != "" {
		t.Errorf("a GET without Content-Type reached the upstream with %q", v)
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

func TestForwardHeadAndNoDefaultContentType(t *testing.T) {
	t.Parallel()
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

// TestForwardResponseHeader: the client gets the upstream's status,
// headers and cookies but not its protocol version, reason phrase,
// hop-by-hop headers, X-Request-Id or decision to close; the client's
// connection stays open.
func TestForwardResponseHeader(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

// TestForwardNoInventedContentType: a request body without a Content-Type
// reaches the upstream without one; the gateway does not name its type.
func TestForwardNoInventedContentType(t *testing.T) {
	t.Parallel()
	var got []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Values("Content-Type")
	}))
	defer up.Close()
	p, err := New(Options{Targets: []string{up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", serve(t, p)+"/x", strings.NewReader("body"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(got) != 0 {
		t.Errorf("POST without Content-Type: %d, upstream saw Content-Type %q", resp.StatusCode, got)
	}
}

// countingHeader counts the passes stripHeaders makes over a header's
// keys.
type countingHeader struct {
	*fasthttp.RequestHeader
	passes int
}

var _ header = (*countingHeader)(nil)

func (h *countingHeader) PeekKeys() [][]byte {
	h.passes++
	return h.RequestHeader.PeekKeys()
}

// TestStripRepeatedHeaders: however many fields a dropped name has, it
// costs one deletion and the header one more pass over its keys.
func TestStripRepeatedHeaders(t *testing.T) {
	t.Parallel()
	var raw strings.Builder
	raw.WriteString("GET / HTTP/1.1\r\nHost: gw\r\n")
	for range 2000 {
		raw.WriteString("Te: x\r\nX-Keep: 1\r\nKeep-Alive: 5\r\n")
	}
	raw.WriteString("\r\n")
	var h fasthttp.RequestHeader
	if err := h.Read(bufio.NewReaderSize(strings.NewReader(raw.String()), raw.Len())); err != nil {
		t.Fatal(err)
	}
	ch := &countingHeader{RequestHeader: &h}
	stripHeaders(ch, stripped, nil)
	if ch.passes != 1 {
		t.Errorf("%d passes over the keys, want 1", ch.passes)
	}
	if len(h.Peek("Te")) != 0 || len(h.Peek("Keep-Alive")) != 0 || len(h.PeekAll("X-Keep")) != 2000 {
		t.Errorf("after the strip: Te %q, Keep-Alive %q, %d X-Keep", h.Peek("Te"), h.Peek("Keep-Alive"), len(h.PeekAll("X-Keep")))
	}
}

// TestForwardedForJoinsFields: a client's X-Forwarded-For fields reach the
// upstream joined in order, before the peer's address, as one field
// listing them would.
func TestForwardedForJoinsFields(t *testing.T) {
	t.Parallel()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.Add("X-Forwarded-For", "10.0.0.1")
	ctx.Request.Header.Add("X-Forwarded-For", "6.6.6.6, 7.7.7.7")
	ctx.Request.Header.Add("X-Forwarded-For", "")
	if got, want := string(appendForwardedFor(nil, &ctx)), "10.0.0.1, 6.6.6.6, 7.7.7.7, 0.0.0.0"; got != want {
		t.Errorf("X-Forwarded-For %q, want %q", got, want)
	}
}
