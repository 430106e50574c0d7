package node

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestServeTimeouts: the gateway listener's deadlines are armed lazily
// (runtime/deadline); read_timeout still ends a request whose header stalls,
// idle_timeout a keep-alive connection left idle, neither before its time,
// and a connection kept busy outlives both. The admin listener keeps the
// same read and idle timeouts.
func TestServeTimeouts(t *testing.T) {
	t.Parallel()
	const read, idle = 300 * time.Millisecond, 600 * time.Millisecond
	dir, _ := nodetest.Dir(t, nil)
	writeFiles(t, dir, map[string]string{
		"timeouts.cue": fmt.Sprintf("package t\n\ngateway: {read_timeout: %q, idle_timeout: %q}\n", read, idle),
	})
	n := startNode(t, dir, zerolog.Nop(), false)
	const request = "GET /open/x HTTP/1.1\r\nHost: gw\r\n\r\n"
	dialAt := func(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a hung test fails on it
		return c, bufio.NewReader(c)
	}
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) { return dialAt(t, n.GatewayAddr()) }
	roundTrip := func(t *testing.T, c net.Conn, br *bufio.Reader, request string) {
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
		roundTrip(t, c, br, request)
		closedAfter(t, br, start, idle)
	})
	t.Run("busy keep-alive", func(t *testing.T) {
		c, br := dial(t)
		for end := time.Now().Add(3 * idle); time.Now().Before(end); time.Sleep(read / 3) {
			roundTrip(t, c, br, request)
		}
	})
	t.Run("admin idle keep-alive", func(t *testing.T) {
		c, br := dialAt(t, n.AdminAddr())
		start := time.Now()
		roundTrip(t, c, br, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		closedAfter(t, br, start, idle)
	})
	t.Run("admin stalled body", func(t *testing.T) {
		start := time.Now()
		c, br := dialAt(t, n.AdminAddr())
		if _, err := io.WriteString(c, "POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n0123456789"); err != nil {
			t.Fatal(err)
		}
		closedAfter(t, br, start, read)
	})
}

// TestServeTLS: with gateway.tls the listener's connections are the
// deadline wrapper's, TLS above them; the gateway still knows a request
// came over TLS (the upstream is told X-Forwarded-Proto: https) and serves
// several requests on one connection.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	protos := make(chan string, 2)
	dir, _ := nodetest.Dir(t, func(w http.ResponseWriter, r *http.Request) {
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

// TestCertificateRotationWatched: a certificate and key rewritten in the
// configuration directory are served from the next connection on,
// without SIGHUP: the watcher follows the files the table names.
func TestCertificateRotationWatched(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	testutil.WriteCert(t, dir)
	writeFiles(t, dir, map[string]string{"tls.cue": "package t\n\n" + testutil.CertConfig})
	n := startNode(t, dir, zerolog.Nop(), true)
	served := func() []byte {
		c, err := tls.Dial("tcp", n.GatewayAddr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the certificate itself is what is looked at
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	first := served()
	next := t.TempDir()
	testutil.WriteCert(t, next)
	for _, f := range []string{"key.pem", "cert.pem"} {
		b, err := os.ReadFile(filepath.Join(next, "tls", f))
		if err != nil {
			t.Fatal(err)
		}
		testutil.WriteFile(t, filepath.Join(dir, "tls", f), string(b), 0o600)
	}
	want, _ := os.ReadFile(filepath.Join(next, "tls", "cert.pem"))
	block, _ := pem.Decode(want)
	testutil.Eventually(t, "the rotated certificate to be served", func() bool { return bytes.Equal(served(), block.Bytes) })
	if bytes.Equal(first, block.Bytes) {
		t.Fatal("the two certificates are the same")
	}
}

// TestRewriteWithTheSameBytesReloadsNothing: a watched file written again
// with the same bytes (as tools that render a secret or certificate on a
// schedule do) runs no reload; a change does.
func TestRewriteWithTheSameBytesReloadsNothing(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	testutil.WriteCert(t, dir)
	writeFiles(t, dir, map[string]string{"tls.cue": "package t\n\n" + testutil.CertConfig})
	var logs testutil.SyncBuffer
	n := startNode(t, dir, zerolog.New(&logs).Level(zerolog.DebugLevel), true)
	cert := filepath.Join(dir, "tls", "cert.pem")
	b, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, cert, string(b), 0o644)
	testutil.Eventually(t, "the rewrite to be skipped", func() bool { return strings.Contains(logs.String(), "reload skipped") })
	if got := n.reloads(t); len(got) != 0 {
		t.Errorf("reloads after a rewrite with the same bytes: %v, want none", got)
	}
	writeFiles(t, dir, map[string]string{"tls.cue": "package t\n\n" + testutil.CertConfig + "gateway: max_body_bytes: 2048\n"})
	testutil.Eventually(t, "a change to be reloaded", func() bool { return n.reloads(t)["ok"] == 1 })
}

// TestCertificateOutsideConfigRotated: a certificate and key mounted
// outside the configuration directory as Kubernetes mounts a Secret (the
// names are symlinks through a "..data" link that the kubelet swaps for a
// new timestamped directory) are served anew after the swap, without
// SIGHUP.
func TestCertificateOutsideConfigRotated(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	secret := t.TempDir()
	publish := func(version string) []byte {
		src := t.TempDir()
		testutil.WriteCert(t, src)
		ts := filepath.Join(secret, "..2026_12_08_"+version)
		hotMust(t, os.Mkdir(ts, 0o755))
		for _, f := range []string{"cert.pem", "key.pem"} {
			b, err := os.ReadFile(filepath.Join(src, "tls", f))
			hotMust(t, err)
			hotMust(t, os.WriteFile(filepath.Join(ts, f), b, 0o600))
		}
		old, _ := os.Readlink(filepath.Join(secret, "..data"))
		hotMust(t, os.Symlink(filepath.Base(ts), filepath.Join(secret, "..data_tmp")))
		hotMust(t, os.Rename(filepath.Join(secret, "..data_tmp"), filepath.Join(secret, "..data")))
		if old != "" {
			hotMust(t, os.RemoveAll(filepath.Join(secret, old)))
		}
		b, err := os.ReadFile(filepath.Join(ts, "cert.pem"))
		hotMust(t, err)
		block, _ := pem.Decode(b)
		return block.Bytes
	}
	first := publish("a")
	for _, f := range []string{"cert.pem", "key.pem"} {
		hotMust(t, os.Symlink(filepath.Join("..data", f), filepath.Join(secret, f)))
	}
	writeFiles(t, dir, map[string]string{"tls.cue": fmt.Sprintf("package t\n\ngateway: tls: {cert_file: %q, key_file: %q}\n",
		filepath.Join(secret, "cert.pem"), filepath.Join(secret, "key.pem"))})
	n := startNode(t, dir, zerolog.Nop(), true)
	served := func() []byte {
		c, err := tls.Dial("tcp", n.GatewayAddr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the certificate itself is what is looked at
		hotMust(t, err)
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	if !bytes.Equal(served(), first) {
		t.Fatal("the first certificate is not served")
	}
	second := publish("b")
	testutil.Eventually(t, "the certificate of the new Secret version to be served", func() bool { return bytes.Equal(served(), second) })
}
