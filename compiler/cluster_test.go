package compiler_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

// TestCluster: the cluster block compiles to the table with its defaults;
// without one a table has no Cluster (one node, in memory).
func TestCluster(t *testing.T) {
	t.Parallel()
	const api = `package cfg

apis: a: {name: "A", listen_path: "/a", upstream: targets: ["http://127.0.0.1:9000"], auth: keyless: true}
`
	for _, tt := range []struct {
		name, extra string
		want        *table.Cluster
	}{
		{"none", "", nil},
		{"defaults", `cluster: redis: address: "127.0.0.1:6379"`, &table.Cluster{
			Redis:        table.Redis{Address: "127.0.0.1:6379", KeyPrefix: "cuegate:", Timeout: table.Duration(50 * time.Millisecond)},
			OnRedisError: "local", MinNodes: 1,
		}},
		{"everything", `cluster: {
	redis: {address: "r:6380", username: "u", password: file: "redis.pw", tls: server_name: "r.example", database: 3, key_prefix: "gw1:", timeout: "20ms"}
	on_redis_error: "allow"
	min_nodes: 3
	max_bindings_age: "30s"
}`, &table.Cluster{
			Redis: table.Redis{Address: "r:6380", Username: "u", Password: &table.Secret{File: "redis.pw"}, TLS: &table.RedisTLS{ServerName: "r.example"},
				Database: 3, KeyPrefix: "gw1:", Timeout: table.Duration(20 * time.Millisecond)},
			OnRedisError: "allow", MinNodes: 3, MaxBindingsAge: table.Duration(30 * time.Second),
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tab := mustCompile(t, api+tt.extra+"\n")
			if !reflect.DeepEqual(tab.Cluster, tt.want) {
				t.Errorf("Cluster = %+v, want %+v", tab.Cluster, tt.want)
			}
		})
	}
}
