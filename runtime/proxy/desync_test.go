package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cuegate/cuegate/internal/testutil"
)

// poison is a response a target sends beyond the one asked for; the
// client whose request reads it would get another's answer.
const poison = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nSet-Cookie: session=attacker\r\n\r\nPOISON"

// desync is how a desyncUpstream answers "/trigger": with trigger, then
// either stray (bytes beyond the response, sent once release is closed,
// or at once with eager) or, with switched, poison to every request after
// it on the connection, as a target that switched protocols would answer
// in its own. With late, it answers "/smuggled" only once the next
// request's bytes arrive, as a slow endpoint would, past what a peek
// before that request can see.
type desync struct {
	trigger, stray        string
	switched, late, eager bool
}

// desyncUpstream is a target, behind TLS with cfg, that reads each
// request's line and header but never its body (so a body can hold a
// request of its own); it answers "/trigger" as d says, "/smuggled" with
// poison once release is closed, and anything else with "ok". It reports
// on done once it has written a poison unasked.
func desyncUpstream(t *testing.T, d desync, cfg *tls.Config, release <-chan struct{}, done chan<- struct{}) string {
	t.Helper()
	ln, scheme := testutil.Loopback(t), "http://"
	if cfg != nil {
		ln, scheme = tls.NewListener(ln, cfg), "https://"
	}
	testutil.ServeConns(ln, func(c net.Conn) { answerDesync(c, d, release, done) })
	return scheme + ln.Addr().String()
}

// answerDesync is desyncUpstream's side of one connection.
func answerDesync(c net.Conn, d desync, release <-chan struct{}, done chan<- struct{}) {
	defer c.Close()
	br := bufio.NewReader(c)
	switched := false
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
		switch path := strings.Fields(line)[1]; {
		case switched:
			io.WriteString(c, poison) //nolint:errcheck
		case path == "/smuggled":
			if d.late {
				if _, err := br.Peek(1); err != nil {
					return
				}
			} else {
				<-release
			}
			io.WriteString(c, poison) //nolint:errcheck // the gateway may have closed
			select {
			case done <- struct{}{}:
			default:
			}
		case path == "/trigger":
			io.WriteString(c, d.trigger) //nolint:errcheck
			switched = d.switched
			if d.stray != "" {
				if !d.eager {
					<-release
				}
				io.WriteString(c, d.stray) //nolint:errcheck
				done <- struct{}{}
			}
		default:
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") //nolint:errcheck
		}
	}
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

// testTLS returns a target's TLS settings and the client settings that
// trust them.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	testutil.WriteCert(t, dir)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: testutil.CertPool(t, dir)}
}

// TestNoResponseReadOutOfStep: bytes a target sends beyond its response
// (a body after a response that has none, more than its Content-Length,
// what it says after switching protocols or in the body of a status no
// client frames, or the answer to a request it read from another's unread
// body) never answer the next request on the pooled connection, another
// client's, over http or https.
func TestNoResponseReadOutOfStep(t *testing.T) {
	t.Parallel()
	smuggle := "GET /smuggled HTTP/1.1\r\nHost: up\r\n\r\n"
	withBody := func(method string) string {
		return method + " /trigger HTTP/1.1\r\nHost: gw\r\nContent-Length: " + strconv.Itoa(len(smuggle)) + "\r\n\r\n" + smuggle
	}
	const get = "GET /trigger HTTP/1.1\r\nHost: gw\r\n\r\n"
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	const switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
	cases := []struct {
		name, request string
		desync
		status int
	}{
		{"a body after HEAD's header", "HEAD /trigger HTTP/1.1\r\nHost: gw\r\n\r\n", desync{trigger: "HTTP/1.1 200 OK\r\nContent-Length: 44\r\n\r\n", stray: poison}, 200},
		{"a body after a 204", get, desync{trigger: "HTTP/1.1 204 No Content\r\n\r\n", stray: poison}, 204},
		{"a body right after a 204", get, desync{trigger: "HTTP/1.1 204 No Content\r\n\r\n", stray: poison, eager: true}, 204},
		{"more than Content-Length, at once", get, desync{trigger: ok, stray: poison, eager: true}, 200},
		{"a body after a 304", get, desync{trigger: "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", stray: poison}, 304},
		{"more than Content-Length", get, desync{trigger: ok, stray: poison}, 200},
		{"a 101 never asked for", get, desync{trigger: switching, switched: true}, 502},
		{"a 101 after a 103", get, desync{trigger: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + switching, switched: true}, 502},
		{"a 101 after a 100", get, desync{trigger: "HTTP/1.1 100 Continue\r\n\r\n" + switching, switched: true}, 502},
		{"a 101 after a blank line", get, desync{trigger: "\r\n" + switching, switched: true}, 502},
		{"a 101 after two spaces", get, desync{trigger: "HTTP/1.1  101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n", switched: true}, 502},
		{"a final status below 200", get, desync{trigger: "HTTP/1.1 099 X\r\nContent-Length: " + strconv.Itoa(len(poison)) + "\r\n\r\n" + poison, switched: true}, 502},
		{"a status over 599", get, desync{trigger: "HTTP/1.1 600 X\r\nContent-Length: 2\r\n\r\nok", switched: true}, 502},
		{"a GET's body left unread", withBody("GET"), desync{trigger: ok, late: true}, 200},
		{"a get's body left unread", withBody("get"), desync{trigger: ok, late: true}, 200},
		{"a DELETE's body left unread", withBody("DELETE"), desync{trigger: ok, late: true}, 200},
		{"an OPTIONS's body left unread", withBody("OPTIONS"), desync{trigger: ok, late: true}, 200},
		{"a PROPFIND's body left unread", withBody("PROPFIND"), desync{trigger: ok, late: true}, 200},
		// A POST's, PUT's or PATCH's body is taken to be read; what a target
		// answers from one it left unread is found by the peek when it
		// comes before the next request (not when it comes after).
		{"a POST's body left unread, answered at once", withBody("POST"), desync{trigger: ok}, 200},
	}
	serverTLS, clientTLS := testTLS(t)
	for _, scheme := range []string{"http", "https"} {
		for _, c := range cases {
			t.Run(scheme+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				var up *tls.Config
				if scheme == "https" {
					up = serverTLS
				}
				release, done := make(chan struct{}), make(chan struct{}, 1)
				p, err := New(Options{Targets: []string{desyncUpstream(t, c.desync, up, release, done)}, MaxConnsPerTarget: 1, TLSConfig: clientTLS})
				if err != nil {
					t.Fatal(err)
				}
				gw := strings.TrimPrefix(serve(t, p), "http://")
				if got := exchangeRaw(t, gw, c.request, strings.HasPrefix(c.request, "HEAD")); got.StatusCode() != c.status {
					t.Fatalf("the request answered %d, want %d", got.StatusCode(), c.status)
				}
				close(release)
				if !c.switched && !c.late {
					select { // the poison is on its way, or read
					case <-done:
					case <-time.After(10 * time.Second):
						t.Fatal("the target never sent its poison")
					}
				}
				if got := exchangeRaw(t, gw, "GET /victim HTTP/1.1\r\nHost: gw\r\n\r\n", false); string(got.Body()) != "ok" {
					t.Errorf("another client's request was answered %d %q (Set-Cookie %q), want the target's answer to it",
						got.StatusCode(), got.Body(), got.Header.PeekCookie("session"))
				}
			})
		}
	}
}
