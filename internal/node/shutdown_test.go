package node

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestServeGracefulShutdown: Shutdown stops accepting but lets a request
// in flight finish.
func TestServeGracefulShutdown(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	dir, _ := nodetest.Dir(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, "ok") //nolint:errcheck
	})
	n, err := Start(context.Background(), Options{ConfigDir: dir, Logger: zerolog.Nop()})
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
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	testutil.Eventually(t, "the gateway to refuse connections during shutdown", func() bool {
		_, err := c.Get(gw + "/open/x")
		return err != nil
	})
	close(release)
	if r := <-inflight; r.err != nil || r.status != 200 || r.body != "ok" {
		t.Fatalf("in-flight request: %+v", r)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
