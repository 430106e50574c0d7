package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestClientConnectionState: the request is forwarded in place without
// its Connection header, yet the client's own connection still closes
// when it asked for that (or spoke HTTP/1.0 without keep-alive), and the
// upstream connection is kept either way.
func TestClientConnectionState(t *testing.T) {
	t.Parallel()
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

func TestSplitTarget(t *testing.T) {
	t.Parallel()
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

// TestHTTP10ClientGetsLengthNotChunks: an HTTP/1.0 client, which cannot
// read a chunked body, gets a response of unknown length (chunked, or ended
// by the target's close) with a Content-Length, or a 502 past
// maxHTTP10Body; an HTTP/1.1 client gets it streamed, and a body with a
// length is streamed to either.
func TestHTTP10ClientGetsLengthNotChunks(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", maxHTTP10Body+1)
	chunked := func(body string) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	}
	for _, c := range []struct {
		name, upstream, proto string
		status                int
		wantTE, wantBody      string
	}{
		{"chunked to HTTP/1.0", chunked("hello"), "HTTP/1.0", 200, "", "hello"},
		{"chunked to HTTP/1.0 keep-alive", chunked("hello"), "HTTP/1.0\r\nConnection: keep-alive", 200, "", "hello"},
		{"ended by close to HTTP/1.0", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello", "HTTP/1.0", 200, "", "hello"},
		{"chunked to HTTP/1.1", chunked("hello"), "HTTP/1.1", 200, "chunked", "hello"},
		{"a length over the bound to HTTP/1.0", "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big, "HTTP/1.0", 200, "", big},
		{"over the bound to HTTP/1.0", chunked(big), "HTTP/1.0", 502, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, err := New(Options{Targets: []string{rawUpstream(t, c.upstream, false)}})
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", strings.TrimPrefix(serve(t, p), "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))            //nolint:errcheck
			io.WriteString(conn, "GET / "+c.proto+"\r\nHost: gw\r\n\r\n") //nolint:errcheck
			var resp fasthttp.Response
			if err := resp.Read(bufio.NewReader(conn)); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != c.status || string(resp.Header.Peek("Transfer-Encoding")) != c.wantTE {
				t.Fatalf("%d, Transfer-Encoding %q; want %d, %q", resp.StatusCode(), resp.Header.Peek("Transfer-Encoding"), c.status, c.wantTE)
			}
			if c.status == 200 && (string(resp.Body()) != c.wantBody || (c.wantTE == "" && resp.Header.ContentLength() != len(c.wantBody))) {
				t.Errorf("body %q, Content-Length %d; want %q with its length", resp.Body(), resp.Header.ContentLength(), c.wantBody)
			}
		})
	}
}
