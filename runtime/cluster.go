package runtime

import (
	"fmt"

	"github.com/cuegate/cuegate/runtime/limit"
)

// Cluster reports what a node shares with the other nodes of its
// configuration (limits, bindings), for Status, /readyz and /metrics.
// Implementations are safe for concurrent use and answer without I/O.
type Cluster interface {
	ClusterStatus() ClusterStatus
	// BindingsReady is ClusterStatus().Bindings.Ready, asked on every
	// request to a JWT API: until the bindings are loaded, such a request
	// is answered 503, never with a refusal a missing binding would cause.
	BindingsReady() bool
}

// ClusterStatus is a node's view of its cluster.
type ClusterStatus struct {
	// Limiter is the mode in force: "redis" while Redis counts, else
	// on_redis_error's fallback ("local", "allow" or "deny").
	Limiter string `json:"limiter"`
	// Nodes is the number of nodes a limit's share is counted by: the live
	// nodes last seen in Redis, or the cluster's min_nodes when more.
	Nodes int `json:"nodes"`
	// LeaseHits is the requests counted from the limiter's leases,
	// without a call to Redis, since the process started.
	LeaseHits uint64 `json:"lease_hits"`
	// Bindings says where this node's client bindings come from.
	Bindings BindingsStatus `json:"bindings"`
}

// BindingsStatus is the state of a node's client bindings.
type BindingsStatus struct {
	// Role is "publisher" on the node with the state file, "follower" on
	// the others.
	Role string `json:"role"`
	// Ready is whether bindings are loaded (from Redis or the follower's
	// file); a node is not ready before.
	Ready bool `json:"ready"`
}

// registerClusterMetrics adds the cluster's gauges to g's metrics set:
// cuegate_cluster_limiter_mode{mode} (1 for the mode in force, 0 for the
// others) and cuegate_cluster_nodes.
func (g *Gateway) registerClusterMetrics(c Cluster) {
	for m := range limit.ModeRedis + 1 {
		mode := m.String()
		g.series.set.NewGauge(fmt.Sprintf(`cuegate_cluster_limiter_mode{mode=%q}`, mode), func() float64 {
			if c.ClusterStatus().Limiter == mode {
				return 1
			}
			return 0
		})
	}
	g.series.set.NewGauge(`cuegate_cluster_nodes`, func() float64 { return float64(c.ClusterStatus().Nodes) })
}
