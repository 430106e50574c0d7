package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
