package main

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestParseWrk(t *testing.T) {
	t.Parallel()
	q := make([]string, wrkQuantiles)
	for i := range q {
		q[i] = fmt.Sprint(100 + i) // µs
	}
	out := "Running 1s test @ http://127.0.0.1:1/\n  2 threads and 4 connections\n" +
		"wrk-summary requests=10000 duration=1000000 bytes=99 connect=0 read=2 write=0 status=3 timeout=0 max=5000\n" +
		"wrk-quantiles " + strings.Join(q, " ") + "\nRequests/sec: 10000.00\n"
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 10000 || r.Elapsed != time.Second || r.errors() != 5 || r.Max != 5*time.Millisecond {
		t.Errorf("parsed %+v", r)
	}
	h := r.hist()
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 599 * time.Microsecond}, {0.99, 1089 * time.Microsecond}, {1, 5 * time.Millisecond}} {
		if got := h.Quantile(c.q); got < c.want*99/100 || got > c.want*101/100 {
			t.Errorf("quantile %v = %v, want %v (±1%%)", c.q, got, c.want)
		}
	}
	if h.Count() != 10000 {
		t.Errorf("histogram of %d requests, want 10000", h.Count())
	}
	if _, err := parseWrk("Requests/sec: 1\n"); err == nil {
		t.Error("output without the script's lines parsed")
	}
}

// TestWrkTokens runs wrk with the token script against a server that
// records the Authorization headers: every request carries a token of the
// pool, the threads walk it from the cursor, and the counts agree.
func TestWrkTokens(t *testing.T) {
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		n    int
	)
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		seen[string(ctx.Request.Header.Peek("Authorization"))]++
		n++
		mu.Unlock()
		ctx.SetBodyString("ok")
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })

	toks := make([][]byte, 500)
	for i := range toks {
		toks[i] = fmt.Appendf(nil, "Bearer tok-%03d", i)
	}
	dir := t.TempDir()
	tgt := &Target{Name: "t", Addr: ln.Addr().String(), Path: "/", Tokens: toks}
	g := &wrkGen{t: tgt, o: LoadOptions{Conns: 4, Warmup: 0, Duration: time.Second, Dir: dir}}
	if err := g.record(); err != nil {
		t.Fatal(err)
	}
	win := &Window{ErrKinds: map[string]uint64{}}
	if err := g.finish(win); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if win.Requests == 0 || win.Errors != 0 || uint64(n) < win.Requests {
		t.Fatalf("wrk: %d requests, %d errors; the server saw %d", win.Requests, win.Errors, n)
	}
	for tok := range seen {
		if !strings.HasPrefix(tok, "Bearer tok-") {
			t.Fatalf("a request carried %q", tok)
		}
	}
	if want := min(n, len(toks)) * 9 / 10; len(seen) < want {
		t.Errorf("%d requests carried %d distinct tokens, want at least %d", n, len(seen), want)
	}
	if tgt.cursor.Load() != win.Requests {
		t.Errorf("cursor at %d after %d requests", tgt.cursor.Load(), win.Requests)
	}
}
