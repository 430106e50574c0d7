package node

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/node/nodetest"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestServeGracefulShutdown: Shutdown stops accepting, on every listener
// at once, but lets a request in flight finish.
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
	// The other listeners shut down at the same time, not once the
	// gateway's request is through.
	testutil.Eventually(t, "the admin listener to refuse connections while the gateway drains", func() bool {
		_, err := c.Get(admin + "/healthz")
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

// TestShutdownEndsAReload: a reload asked for (SIGHUP's RequestReload)
// whose compile is in progress does not hold up Shutdown: the compile's
// context ends, nothing is applied, and a reload after it is refused.
func TestShutdownEndsAReload(t *testing.T) {
	t.Parallel()
	dir, _ := nodetest.Dir(t, nil)
	compiling := make(chan struct{})
	var calls atomic.Int32
	compile := func(ctx context.Context, dir string) (*table.Table, error) {
		if calls.Add(1) == 1 {
			return compiler.Compile(dir) // the start's
		}
		close(compiling)
		<-ctx.Done() // a runaway configuration, until the node ends it
		return nil, ctx.Err()
	}
	n, err := Start(context.Background(), Options{ConfigDir: dir, Logger: zerolog.Nop(), Compile: compile})
	if err != nil {
		t.Fatal(err)
	}
	gen := n.gw.Current().Hash
	n.RequestReload()
	n.RequestReload() // while one is asked for: the same one
	<-compiling
	if err := n.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := n.Reload(); !errors.Is(err, errShuttingDown) {
		t.Errorf("Reload after Shutdown: %v, want errShuttingDown", err)
	}
	if calls.Load() != 2 || n.gw.Current().Hash != gen {
		t.Errorf("%d compiles and the table %s after, want 2 and the start's %s", calls.Load(), n.gw.Current().Hash, gen)
	}
}
