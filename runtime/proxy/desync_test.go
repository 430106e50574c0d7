package proxy

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// poison is a response a target sends beyond the one asked for; the
// client whose request reads it would get another's answer.
const poison = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nSet-Cookie: session=attacker\r\n\r\nPOISON"

// desyncUpstream is a target that reads each request's line and header
// but never its body (so a body can hold a request of its own), and
// answers "/smuggled" with poison once release is closed, "/trigger"
// with trigger followed, once release is closed, by stray (bytes beyond
// the response), and anything else with "ok". It reports on done once it
// has written a poison.
func desyncUpstream(t *testing.T, trigger, stray string, release <-chan struct{}, done chan<- struct{}) string {
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
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					for h := ""; h != "\r\n"; {
						if h, err = br.ReadString('\n'); err != nil {
							return
						}
					}
					switch path := strings.Fields(line)[1]; path {
					case "/smuggled":
						<-release
						io.WriteString(c, poison) //nolint:errcheck // the gateway may have closed
						done <- struct{}{}
					case "/trigger":
						io.WriteString(c, trigger) //nolint:errcheck
						if stray != "" {
							<-release
							io.WriteString(c, stray) //nolint:errcheck
							done <- struct{}{}
						}
					default:
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") //nolint:errcheck
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// exchangeRaw sends raw on a new connection to gw and reads the response.
func exchangeRaw(t *testing.T, gw, raw string, head bool) *fasthttp.Response {
	t.Helper()
	c, err := net.Dial("tcp", gw)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp := new(fasthttp.Response)
	resp.SkipBody = head
	if err := resp.Read(bufio.NewReader(c)); err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestNoResponseReadOutOfStep: bytes a target sends beyond its response
// (a body after a response that has none, more than its Content-Length, or
// the answer to a request it read from another's unread body) never answer
// the next request on the pooled connection, another client's.
func TestNoResponseReadOutOfStep(t *testing.T) {
	t.Parallel()
	smuggle := "GET /smuggled HTTP/1.1\r\nHost: up\r\n\r\n"
	withBody := func(method string) string {
		return method + " /trigger HTTP/1.1\r\nHost: gw\r\nContent-Length: " + strconv.Itoa(len(smuggle)) + "\r\n\r\n" + smuggle
	}
	const get = "GET /trigger HTTP/1.1\r\nHost: gw\r\n\r\n"
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, c := range []struct {
		name, request, trigger, stray string
		status                        int
	}{
		{"a body after HEAD's header", "HEAD /trigger HTTP/1.1\r\nHost: gw\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 44\r\n\r\n", poison, 200},
		{"a body after a 204", get, "HTTP/1.1 204 No Content\r\n\r\n", poison, 204},
		{"a body after a 304", get, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", poison, 304},
		{"more than Content-Length", get, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", poison, 200},
		{"a 101 never asked for", get, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", poison, 502},
		{"a GET's body left unread", withBody("GET"), ok, "", 200},
		{"a DELETE's body left unread", withBody("DELETE"), ok, "", 200},
		{"an OPTIONS's body left unread", withBody("OPTIONS"), ok, "", 200},
		{"a POST's body left unread", withBody("POST"), ok, "", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			release, done := make(chan struct{}), make(chan struct{}, 1)
			p, err := New(Options{Targets: []string{desyncUpstream(t, c.trigger, c.stray, release, done)}, MaxConnsPerTarget: 1})
			if err != nil {
				t.Fatal(err)
			}
			gw := strings.TrimPrefix(serve(t, p), "http://")
			if got := exchangeRaw(t, gw, c.request, strings.HasPrefix(c.request, "HEAD")); got.StatusCode() != c.status {
				t.Fatalf("the request answered %d, want %d", got.StatusCode(), c.status)
			}
			close(release)
			select { // the poison is on its way, or read
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the target never sent its poison")
			}
			if got := exchangeRaw(t, gw, "GET /victim HTTP/1.1\r\nHost: gw\r\n\r\n", false); string(got.Body()) != "ok" {
				t.Errorf("another client's request was answered %d %q (Set-Cookie %q), want the target's answer to it",
					got.StatusCode(), got.Body(), got.Header.PeekCookie("session"))
			}
		})
	}
}
