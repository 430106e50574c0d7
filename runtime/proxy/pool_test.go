package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

func TestForwardFailover(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	hits := 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		io.WriteString(w, "ok "+r.URL.RawQuery)
	}))
	defer up.Close()
	p, err := New(Options{Targets: []string{testutil.DeadURL(t), up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	for i := 0; i < 10; i++ {
		// The query survives a try on the dead target (the request's
		// URI is rewritten per target).
		resp, body := get(t, gw+"/?q=1", nil)
		if resp.StatusCode != 200 || body != "ok q=1" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if hits != 10 {
		t.Fatalf("upstream hits %d", hits)
	}
	// The dead target is cooling down: it is skipped, not retried.
	if d := p.targets[0].downUntil.Load(); d == 0 {
		t.Fatal("dead target not marked down")
	}
}

func TestForwardAllDown(t *testing.T) {
	t.Parallel()
	p, err := New(Options{Targets: []string{testutil.DeadURL(t), testutil.DeadURL(t)}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	for i := 0; i < 3; i++ { // also once both are cooling down
		if resp, _ := get(t, gw+"/", nil); resp.StatusCode != 502 {
			t.Fatalf("status %d, want 502", resp.StatusCode)
		}
	}
}

func TestForwardTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer up.Close()
	defer close(release)
	p, err := New(Options{Targets: []string{up.URL}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	if resp, _ := get(t, gw+"/", nil); resp.StatusCode != 504 {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	t.Parallel()
	for _, targets := range [][]string{nil, {"ftp://x"}, {"/relative"}} {
		if _, err := New(Options{Targets: targets}); err == nil {
			t.Errorf("New(%q) accepted", targets)
		}
	}
}

func TestCloseWaitsForInflight(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	p, err := New(Options{Targets: []string{up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	get(t, gw+"/", nil)
	p.Close()
	if resp, body := get(t, gw+"/", nil); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("closed pool: %d %q", resp.StatusCode, body)
	}
	if n := p.Inflight(); n != 0 {
		t.Fatalf("inflight %d", n)
	}
}

// TestForwardFailoverOnHandshake: an https target whose TLS handshake
// fails (here it never answers one) is like one that refuses connections:
// nothing was sent, so the request goes to the next target, and the
// target cools down.
func TestForwardFailoverOnHandshake(t *testing.T) {
	t.Parallel()
	silent := testutil.Loopback(t)
	testutil.ServeConns(silent, func(c net.Conn) { t.Cleanup(func() { c.Close() }) }) // holds it, answering nothing
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	roots := x509.NewCertPool()
	roots.AddCert(up.Certificate())
	p, err := New(Options{Targets: []string{"https://" + silent.Addr().String(), up.URL}, ConnectTimeout: 200 * time.Millisecond, TLSConfig: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	for i := range 4 {
		if resp, body := get(t, gw+"/", nil); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if d := p.targets[0].downUntil.Load(); d == 0 {
		t.Fatal("the target whose handshake failed is not cooling down")
	}
}

// TestForwardMaxInflight: of a burst of concurrent requests to a slow
// upstream, MaxInflight reach it and the others are refused at once with
// ErrBusy; once they finish, the pool takes requests again.
func TestForwardMaxInflight(t *testing.T) {
	t.Parallel()
	const capped, burst = 3, 20
	release := make(chan struct{})
	var mu sync.Mutex
	waiting, most := 0, 0
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		waiting++
		most = max(most, waiting)
		mu.Unlock()
		<-release
		mu.Lock()
		waiting--
		mu.Unlock()
	}))
	defer up.Close()
	p, err := New(Options{Targets: []string{up.URL}, MaxInflight: capped})
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, p)
	statuses := make(chan int, burst)
	for range burst {
		go func() {
			resp, err := http.Get(gw + "/slow")
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	counts := map[int]int{}
	for range burst - capped { // the refusals come without waiting for the upstream
		counts[<-statuses]++
	}
	testutil.Eventually(t, "the requests let through to reach the upstream", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return waiting == capped
	})
	close(release)
	for range capped {
		counts[<-statuses]++
	}
	mu.Lock()
	atOnce := most
	mu.Unlock()
	if counts[503] != burst-capped || counts[200] != capped || atOnce != capped {
		t.Fatalf("statuses %v, at most %d at the upstream at once; want %d refused with 503, %d answered, %d at once", counts, atOnce, burst-capped, capped, capped)
	}
	if resp, _ := get(t, gw+"/after", nil); resp.StatusCode != 200 {
		t.Fatalf("after the burst: status %d, want 200", resp.StatusCode)
	}
	if n := p.Inflight(); n != 0 {
		t.Fatalf("Inflight %d after every request finished", n)
	}
}
