package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// keepAliveUpstream is an upstream that closes a keep-alive connection
// idle for idle, as Node (5s), Apache (5s) and gunicorn (2s) do, and
// counts the requests it gets and the connections it closed.
type keepAliveUpstream struct {
	URL    string
	mu     sync.Mutex
	hits   map[string]int // method + " " + body → count
	closed atomic.Int64
}

func newKeepAliveUpstream(t *testing.T, idle time.Duration) *keepAliveUpstream {
	u := &keepAliveUpstream{hits: map[string]int{}}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.hits[r.Method+" "+string(b)]++
		u.mu.Unlock()
		io.WriteString(w, "ok") //nolint:errcheck
	}))
	s.Config.IdleTimeout = idle
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			u.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	u.URL = s.URL
	return u
}

func (u *keepAliveUpstream) count(key string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[key]
}

// TestStaleConnectionResent: after the upstream closed the pooled
// connection, a request of any method, with a body or chunked, is sent
// again on a new connection: it reaches the upstream exactly once and
// gets its answer, not 502.
func TestStaleConnectionResent(t *testing.T) {
	t.Parallel()
	up := newKeepAliveUpstream(t, 300*time.Millisecond)
	// The gateway keeps idle connections longer than the upstream does.
	p, err := New(Options{Targets: []string{up.URL}, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for i, tt := range []struct {
		method  string
		chunked bool
	}{{"POST", false}, {"PUT", false}, {"DELETE", false}, {"PATCH", false}, {"POST", true}, {"GET", false}} {
		// One request pools a connection; the upstream then closes it.
		closedBefore := up.closed.Load()
		if resp, body := get(t, gw+"/warm", nil); resp.StatusCode != 200 {
			t.Fatalf("warm-up: %d %s", resp.StatusCode, body)
		}
		testutil.Eventually(t, "the upstream closes the idle connection", func() bool { return up.closed.Load() > closedBefore })

		body := tt.method + "-body-" + string(rune('a'+i))
		var rd io.Reader = strings.NewReader(body)
		if tt.chunked {
			rd = io.MultiReader(rd) // no length: sent chunked
		}
		req, _ := http.NewRequest(tt.method, gw+"/x", rd)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s (chunked %v) after the upstream closed the idle connection: %d %s", tt.method, tt.chunked, resp.StatusCode, b)
		}
		if n := up.count(tt.method + " " + body); n != 1 {
			t.Fatalf("%s (chunked %v) reached the upstream %d times, want once", tt.method, tt.chunked, n)
		}
	}
}

// TestDefaultIdleTimeout: without a setting, an idle upstream connection
// is closed by the gateway before an upstream with a 2s keep-alive
// timeout closes it.
func TestDefaultIdleTimeout(t *testing.T) {
	t.Parallel()
	p, err := New(Options{Targets: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.targets[0].hc.MaxIdleConnDuration; d <= 0 || d >= 2*time.Second {
		t.Fatalf("idle connections kept %v, want under 2s", d)
	}
}

func TestFinalStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		start string
		want  bool
	}{
		{"HTTP/1.1 200 OK\r\n", true},
		{"HTTP/1.0 404 Not Found\r\n", true},
		{"HTTP/1.1 599\r\n", true},
		{"HTTP/1.1 204 ", true},
		{"HTTP/1.1 101 Switching Protocols\r\n", false},
		{"HTTP/1.1 103 Early Hints\r\n", false},
		{"HTTP/1.1 100 Continue\r\n", false},
		{"HTTP/1.1 600 Odd\r\n", false},
		{"HTTP/1.1  200 OK\r\n", false},
		{"\r\nHTTP/1.1 200 OK\r\n", false},
		{"HTTP/1.1 2000 OK\r\n", false},
		{"HTTP/1.2 200 OK\r\n", false},
		{"http/1.1 200 OK\r\n", false},
		{"HTTP/1.1 200", false}, // too short to tell
		{"", false},
	} {
		if got := finalStatus([]byte(c.start)); got != c.want {
			t.Errorf("finalStatus(%q) = %v, want %v", c.start, got, c.want)
		}
	}
}

// TestConnectionsReused: sequential requests to a target, GETs and POSTs,
// over http and https (TLS 1.2 and 1.3), go over one connection: the
// checks before a reuse refuse nothing a target sends in order, also after
// the connection idled past the read deadline its last exchange left.
func TestConnectionsReused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		tls      uint16 // 0: http
		idle     time.Duration
		requests int
	}{
		{"http", 0, 0, 20},
		{"https TLS 1.2", tls.VersionTLS12, 0, 20},
		{"https TLS 1.3", tls.VersionTLS13, 0, 20},
		{"http, idle past the last read deadline", 0, 150 * time.Millisecond, 3},
		{"https, idle past the last read deadline", tls.VersionTLS13, 150 * time.Millisecond, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var conns atomic.Int64
			up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body) //nolint:errcheck
				io.WriteString(w, "ok")     //nolint:errcheck
			}))
			up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			opts := Options{Timeout: 100 * time.Millisecond, IdleTimeout: 10 * time.Second}
			if c.tls != 0 {
				up.TLS = &tls.Config{MinVersion: c.tls, MaxVersion: c.tls}
				up.StartTLS()
				roots := x509.NewCertPool()
				roots.AddCert(up.Certificate())
				opts.TLSConfig = &tls.Config{RootCAs: roots}
			} else {
				up.Start()
			}
			t.Cleanup(up.Close)
			opts.Targets = []string{up.URL}
			p, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			gw := serve(t, p)
			for i := range c.requests {
				time.Sleep(c.idle) // the scenario: the connection idles
				var resp *http.Response
				var err error
				if i%2 == 0 {
					resp, err = http.Get(gw + "/")
				} else {
					resp, err = http.Post(gw+"/", "text/plain", strings.NewReader("hello"))
				}
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("request %d: %d", i, resp.StatusCode)
				}
			}
			if n := conns.Load(); n != 1 {
				t.Errorf("%d connections for %d requests, want 1", n, c.requests)
			}
		})
	}
}
