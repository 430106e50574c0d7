package runtime

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMaxConns(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ configured, openFiles, want int }{
		{0, 20000, 10000},
		{0, 1024, 512},
		{0, 0, 0}, // unknown: fasthttp's default
		{300, 20000, 300},
		{300, 0, 300},
	} {
		if got := maxConns(tt.configured, tt.openFiles); got != tt.want {
			t.Errorf("maxConns(%d, %d) = %d, want %d", tt.configured, tt.openFiles, got, tt.want)
		}
	}
}

// TestConnectionsBeyondMaxConns: with max_conns 2 (and the test's client
// exempt from max_conns_per_client), two kept-alive connections are
// served, and a third is answered 503 and closed.
func TestConnectionsBeyondMaxConns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{extra: "gateway: {max_conns: 2, conns_exempt: [\"127.0.0.0/8\"]}\n"})
	addr := strings.TrimPrefix(e.url, "http://")
	get := func(t *testing.T) (net.Conn, *http.Response) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hung test fails on it
		if _, err := io.WriteString(c, "GET /public/x HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		return c, resp
	}
	for i := range 2 {
		if _, resp := get(t); resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
	if _, resp := get(t); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a third connection: %d, want 503", resp.StatusCode)
	}
}
