package runtime

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/runtime/auth"
	"github.com/cuegate/cuegate/runtime/limit"
	"github.com/cuegate/cuegate/runtime/proxy"
)

// TestDefaultsAsTheSchemaSays: what a package falls back to for a setting
// left zero (a table built by hand) is the schema's default of it.
func TestDefaultsAsTheSchemaSays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := `package cfg

apis: a: {name: "A", listen_path: "/a", upstream: targets: ["http://127.0.0.1:9000"], auth: keyless: true}
cluster: redis: address: "127.0.0.1:6379"
`
	if err := os.WriteFile(filepath.Join(dir, "cfg.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tab, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		setting          string
		schema, fallback any
	}{
		{"upstream.idle_timeout", tab.APIs["a"].Upstream.IdleTimeout.D(), proxy.DefaultIdleTimeout},
		{"gateway.token_cache", tab.Gateway.TokenCache, int64(auth.DefaultCacheBytes)},
		{"cluster.redis.key_prefix", tab.Cluster.Redis.KeyPrefix, limit.DefaultKeyPrefix},
		{"cluster.redis.timeout", tab.Cluster.Redis.Timeout.D(), limit.DefaultTimeout},
	} {
		if tt.schema != tt.fallback {
			t.Errorf("%s: the schema's default is %v, the fallback %v", tt.setting, tt.schema, tt.fallback)
		}
	}
}
