package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
)

const serveTestConfig = `package t

gateway: {
	listen:         "127.0.0.1:0"
	admin_listen:   "127.0.0.1:0"
	shutdown_grace: "20s"
}
apis: open: {
	name:        "Open"
	listen_path: "/open"
	upstream: targets: ["%s"]
	auth: keyless: true
}
portal: {}
`

// serveTestDir writes serveTestConfig, proxying to an upstream running
// handler (or answering "ok"), into a new directory and returns it and the
// upstream's URL. The upstream is closed when the test ends.
func serveTestDir(t *testing.T, handler http.HandlerFunc) (dir, upstream string) {
	t.Helper()
	if handler == nil {
		handler = func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") } //nolint:errcheck
	}
	up := httptest.NewServer(handler)
	t.Cleanup(up.Close)
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.cue"), []byte(strings.Replace(serveTestConfig, "%s", up.URL, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, up.URL
}

func TestServeExitCodes(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.cue"), []byte("package t\n\napis: x: listen_path: 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, exitUsage, "usage: cuegate serve"},
		{[]string{"--config", dir, "--log-format", "xml"}, exitUsage, "usage: cuegate serve"},
		{[]string{"--config", dir}, exitInvalid, "c.cue:3:"},
		{[]string{"--config", filepath.Join(dir, "missing")}, exitUsage, "cuegate:"},
	} {
		var stderr bytes.Buffer
		if code := runServe(tt.args, io.Discard, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("serve %q: exit %d, want %d; stderr:\n%s", tt.args, code, tt.code, stderr.String())
		}
	}
}

// TestServeGracefulShutdown: Shutdown stops accepting but lets a request
// in flight finish.
func TestServeGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	dir, _ := serveTestDir(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "ok") //nolint:errcheck
	})
	n, err := startServe(context.Background(), serveOptions{ConfigDir: dir, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	gw, admin := "http://"+n.GatewayAddr(), "http://"+n.AdminAddr()
	for _, u := range []string{gw + "/open/x", admin + "/healthz", admin + "/readyz"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", u, resp.StatusCode)
		}
	}

	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(gw + "/open/slow")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- result{resp.StatusCode, string(b), nil}
	}()
	select {
	case <-entered:
	case r := <-inflight:
		t.Fatalf("the slow request ended before reaching the upstream: %+v", r)
	case <-time.After(30 * time.Second):
		t.Fatal("the slow request did not reach the upstream within 30s")
	}
	shut := make(chan error, 1)
	go func() { shut <- n.Shutdown() }()
	// New connections are refused once the listener is closed.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
		if _, err := c.Get(gw + "/open/x"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway still accepts connections during shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if r := <-inflight; r.err != nil || r.status != 200 || r.body != "ok" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestServeEditDuringStartup: an edit made after the first compile, while
// the node is still starting (a ConfigMap update racing the pod's start),
// is reloaded without waiting for another edit.
func TestServeEditDuringStartup(t *testing.T) {
	dir, upURL := serveTestDir(t, nil)
	late := "package t\n\napis: late: {name: \"Late\", listen_path: \"/late\", upstream: targets: [\"" + upURL + "\"], auth: keyless: true}\n"
	n, err := startServe(context.Background(), serveOptions{ConfigDir: dir, Logger: zerolog.Nop(), Watch: true,
		compiled: func() {
			if err := os.WriteFile(filepath.Join(dir, "late.cue"), []byte(late), 0o644); err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown() //nolint:errcheck
	if n.Gateway().Current().APIs["late"] != nil {
		t.Fatal("the first compile read the edit: it was not made during start-up")
	}
	for deadline := time.Now().Add(20 * time.Second); n.Gateway().Current().APIs["late"] == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the edit made during start-up was not reloaded")
		}
	}
	resp, err := http.Get("http://" + n.GatewayAddr() + "/late/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /late/x after the reload: %d", resp.StatusCode)
	}
}

// accessPath finds the path of TestServeAccessLog's requests in a line.
var accessPath = regexp.MustCompile(`/open/r[0-9]+\b`)

// TestServeAccessLog: the command's wiring of the access log (openLog:
// newLogger on a logwriter.Writer, access lines through Spread) writes one line
// per request, in each log format, and the logger's own lines beside them.
func TestServeAccessLog(t *testing.T) {
	dir, _ := serveTestDir(t, nil)
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			var out testutil.SyncBuffer
			lw, log, access := openLog(&out, format, 4<<10, time.Millisecond)
			n, err := startServe(context.Background(), serveOptions{ConfigDir: dir, Logger: log, AccessLog: access})
			if err != nil {
				t.Fatal(err)
			}
			const requests = 50
			for i := range requests {
				resp, err := http.Get(fmt.Sprintf("http://%s/open/r%d", n.GatewayAddr(), i))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if err := n.Shutdown(); err != nil {
				t.Fatal(err)
			}
			if err := lw.Close(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for l := range strings.Lines(out.String()) {
				path := accessPath.FindString(l)
				if path == "" {
					continue
				}
				seen[path] = true
				if format == "json" && !strings.HasSuffix(l, `"message":"request"}`+"\n") {
					t.Errorf("access line %q", l)
				}
			}
			if len(seen) != requests {
				t.Errorf("%d of %d requests have an access line:\n%s", len(seen), requests, out.String())
			}
			if !strings.Contains(out.String(), "cuegate serving") {
				t.Errorf("no line of the logger's own:\n%s", out.String())
			}
		})
	}
}

// TestServeTimeouts: the gateway listener's deadlines are armed lazily
// (runtime/deadline); read_timeout still ends a request whose header stalls,
// idle_timeout a keep-alive connection left idle, neither before its time,
// and a connection kept busy outlives both.
func TestServeTimeouts(t *testing.T) {
	const read, idle = 300 * time.Millisecond, 600 * time.Millisecond
	dir, _ := serveTestDir(t, nil)
	writeFiles(t, dir, map[string]string{
		"timeouts.cue": fmt.Sprintf("package t\n\ngateway: {read_timeout: %q, idle_timeout: %q}\n", read, idle),
	})
	n := startNode(t, dir, zerolog.Nop(), false)
	const request = "GET /open/x HTTP/1.1\r\nHost: gw\r\n\r\n"
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", n.GatewayAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hung test fails on it
		return c, bufio.NewReader(c)
	}
	roundTrip := func(t *testing.T, c net.Conn, br *bufio.Reader) {
		t.Helper()
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// closedAfter waits for the gateway to end c (any answer, then EOF) and
	// checks it took at least timeout, counted from before the gateway can
	// have armed it, and not much more (it may fire 1/16 late; the rest is
	// room for a loaded machine).
	closedAfter := func(t *testing.T, br *bufio.Reader, since time.Time, timeout time.Duration) {
		t.Helper()
		_, err := io.Copy(io.Discard, br)
		if err != nil {
			t.Fatalf("the gateway did not close the connection: %v", err)
		}
		switch took := time.Since(since); {
		case took < timeout:
			t.Errorf("closed after %v, before its timeout of %v", took, timeout)
		case took > 2*timeout+time.Second:
			t.Errorf("closed after %v, long after its timeout of %v", took, timeout)
		}
	}

	t.Run("stalled header", func(t *testing.T) {
		start := time.Now() // the read timeout runs from the accept
		c, br := dial(t)
		if _, err := io.WriteString(c, request[:20]); err != nil {
			t.Fatal(err)
		}
		closedAfter(t, br, start, read)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, br := dial(t)
		start := time.Now() // the idle timeout runs from the response
		roundTrip(t, c, br)
		closedAfter(t, br, start, idle)
	})
	t.Run("busy keep-alive", func(t *testing.T) {
		c, br := dial(t)
		for end := time.Now().Add(3 * idle); time.Now().Before(end); time.Sleep(read / 3) {
			roundTrip(t, c, br)
		}
	})
}

// TestServeTLS: with gateway.tls the listener's connections are the
// deadline wrapper's, TLS above them; the gateway still knows a request
// came over TLS (the upstream is told X-Forwarded-Proto: https) and serves
// several requests on one connection.
func TestServeTLS(t *testing.T) {
	protos := make(chan string, 2)
	dir, _ := serveTestDir(t, func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Header.Get("X-Forwarded-Proto")
		io.WriteString(w, "ok") //nolint:errcheck
	})
	testutil.WriteCert(t, dir)
	writeFiles(t, dir, map[string]string{"tls.cue": "package t\n\n" + testutil.CertConfig})
	n := startNode(t, dir, zerolog.Nop(), false)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: testutil.CertPool(t, dir)},
		MaxConnsPerHost: 1,
	}}
	for range 2 {
		resp, err := client.Get("https://" + n.GatewayAddr() + "/open/x")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" || resp.TLS == nil {
			t.Fatalf("status %d, body %q, TLS %v", resp.StatusCode, body, resp.TLS != nil)
		}
		if p := <-protos; p != "https" {
			t.Errorf("upstream got X-Forwarded-Proto %q, want https", p)
		}
	}
}

// The JSON logger's "time" field is what zerolog's Timestamp() writes
// (RFC 3339, whole seconds), though formatted once per second.
func TestLoggerTimeField(t *testing.T) {
	var buf bytes.Buffer
	log, _ := newLogger(&buf, &buf, "json")
	before := time.Now().Truncate(time.Second)
	for range 3 {
		log.Info().Str("k", "v").Msg("request")
	}
	after := time.Now()
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var v struct {
			Level, K, Time, Message string
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ts, err := time.Parse(time.RFC3339, v.Time)
		if err != nil || ts.Before(before) || ts.After(after) || v.Level != "info" || v.K != "v" || v.Message != "request" {
			t.Errorf("line %q: time %v (%v), want RFC 3339 between %v and %v", l, ts, err, before, after)
		}
		if !strings.HasSuffix(l, `","time":"`+v.Time+`","message":"request"}`) {
			t.Errorf("line %q: want the fields, then time, then message, as zerolog's Timestamp() orders them", l)
		}
	}
}
