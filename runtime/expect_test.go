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

// TestDecidedBeforeBody sends headers that declare a large body and no
// body: a request refused on its header is answered at once, without 100
// Continue and without waiting for the body, and the connection closed.
func TestDecidedBeforeBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// root adds a catch-all API, past which a path parameter could route.
	root := newEnv(t, envOptions{extra: `apis: root: {
	name:        "Root"
	listen_path: "/"
	upstream: targets: apis.public.upstream.targets
	auth: keyless: true
}`})
	tests := []struct {
		name, head string
		status     int
		catchAll   bool
	}{
		{"no token, Expect", "POST /private/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n", 401, false},
		{"no token", "POST /private/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n", 401, false},
		{"bad token, Expect", "POST /private/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer x.y.z\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n", 401, false},
		{"bad token", "POST /private/x HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer x.y.z\r\nContent-Length: 1000000\r\n\r\n", 401, false},
		{"no token, chunked", "POST /private/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("a", 4096), 401, false},
		{"no API", "PUT /nowhere HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n", 404, false},
		{"over max_body_bytes", "POST /public/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 2000000000\r\n\r\n", 413, false},
		{"bad path", "POST /public/..;/private/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n", 400, false},
		{"parameter changes the route", "POST /private;x/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n", 400, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := e.url
			if tt.catchAll {
				url = root.url
			}
			c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// The gateway's read timeout is 30s: an answer within 5s was
			// not waiting for the body.
			c.SetDeadline(time.Now().Add(5 * time.Second)) //nolint:errcheck
			if _, err := io.WriteString(c, tt.head); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d (a 100 Continue first means the body was asked for)", resp.StatusCode, b, tt.status)
			}
			if !resp.Close {
				t.Fatal("the connection stays open with the body unread")
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the answer: %v, want the connection closed", err)
			}
		})
	}
}

// TestExpectContinueAdmitted: an admitted request that expects 100
// Continue gets it, then sends its body, which reaches the upstream.
func TestExpectContinueAdmitted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))                                                           //nolint:errcheck
	io.WriteString(c, "POST /private/body HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer "+e.token("c1", nil)+ //nolint:errcheck
		"\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100 ") {
		t.Fatalf("first line %q, %v; want 100 Continue", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q", blank)
	}
	io.WriteString(c, "hello") //nolint:errcheck
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || e.lastHit().Body != "hello" {
		t.Fatalf("status %d, upstream body %q", resp.StatusCode, e.lastHit().Body)
	}
	if got := e.lastHit().Header.Get("Expect"); got != "" {
		t.Fatalf("Expect %q reached the upstream", got)
	}
}
