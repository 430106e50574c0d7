package runtime

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestPostAfterUpstreamIdleClose: an upstream closes idle keep-alive
// connections sooner than the API's upstream.idle_timeout; the first POST
// after it did reaches the upstream exactly once and gets 200, not 502.
func TestPostAfterUpstreamIdleClose(t *testing.T) {
	t.Parallel()
	var posts, closed atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			posts.Add(1)
		}
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		io.WriteString(w, "ok")     //nolint:errcheck
	}))
	up.Config.IdleTimeout = 300 * time.Millisecond
	up.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	e := newEnv(t, envOptions{extra: `apis: idle: {
	name:        "Idle"
	listen_path: "/idle"
	upstream: {targets: ["` + up.URL + `"], idle_timeout: "1m"}
	auth: keyless: true
}`})
	if r := e.do("GET", "/idle/warm", "", nil); r.status != 200 {
		t.Fatalf("warm-up: %d %s", r.status, r.body)
	}
	testutil.Eventually(t, "the upstream closes the idle connection", func() bool { return closed.Load() > 0 })
	req, _ := http.NewRequest("POST", e.url+"/idle/x", strings.NewReader("payload"))
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || posts.Load() != 1 {
		t.Fatalf("POST after the idle close: %d %s; the upstream got %d POSTs, want 1", resp.StatusCode, b, posts.Load())
	}
}
