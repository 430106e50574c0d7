package compiler_test

import (
	"testing"
	"time"
)

// TestUpstreamIdleTimeout: the default keeps idle upstream connections for
// less than the shortest common keep-alive timeout of upstream servers
// (gunicorn's 2s; Node's and Apache's 5s), an API may set its own, and the
// setting is part of the pool's Key.
func TestUpstreamIdleTimeout(t *testing.T) {
	t.Parallel()
	tab := mustCompile(t, `package cfg

apis: a: {name: "A", listen_path: "/a", upstream: targets: ["http://127.0.0.1:9000"], auth: keyless: true}
apis: b: {name: "B", listen_path: "/b", upstream: {targets: ["http://127.0.0.1:9000"], idle_timeout: "30s"}, auth: keyless: true}
`)
	a, b := tab.APIs["a"].Upstream, tab.APIs["b"].Upstream
	if d := a.IdleTimeout.D(); d <= 0 || d >= 2*time.Second {
		t.Errorf("default idle_timeout %v, want positive and under 2s", d)
	}
	if d := b.IdleTimeout.D(); d != 30*time.Second {
		t.Errorf("idle_timeout %v, want 30s", d)
	}
	if a.Key() == b.Key() {
		t.Errorf("upstreams with different idle timeouts share the pool key %q", a.Key())
	}
}
