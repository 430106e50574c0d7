package runtime

import (
	"slices"
	"testing"
)

// TestRequestHeaderSetReplacesEveryField sends a header that
// request_headers sets, and one that claim_headers sets, each twice in
// two cases: the upstream gets the configured or verified value alone.
func TestRequestHeaderSetReplacesEveryField(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token("c1", map[string]any{"scope": "orders:read", "realm_access": map[string]any{"roles": []any{"buyer"}}})
	r := e.rawExchange("GET /orders/7 HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\nAuthorization: Bearer " + tok +
		"\r\nX-Env: evil1\r\nx-env: evil2\r\nX-ENV: evil3\r\nX-User: admin\r\nx-user: root\r\n\r\n")
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	hit := e.lastHit()
	for k, want := range map[string][]string{"X-Env": {"test"}, "X-User": {"c1"}} {
		if got := hit.Header.Values(k); !slices.Equal(got, want) {
			t.Errorf("upstream %s: %q, want %q", k, got, want)
		}
	}
}
