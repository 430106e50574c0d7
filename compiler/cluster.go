package compiler

import (
	"net"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// maxRedisTimeout bounds cluster.redis.timeout: a call to Redis is on the
// request path.
const maxRedisTimeout = time.Second

// minBindingsAge is the least cluster.max_bindings_age: a follower checks
// its bindings every second, so a shorter age would make a node unready
// on one slow answer.
const minBindingsAge = 3 * time.Second

// buildCluster compiles the cluster block; nil is one node.
func (c *compilation) buildCluster(t *table.Table, r *schema.Cluster) {
	if r == nil {
		return
	}
	at := field("cluster", "redis")
	c.checkSecret(r.Redis.Password, at.field("password"))
	if strings.Contains(r.Redis.Address, "@") {
		// Not quoted: what comes before the "@" may be a password.
		c.errorf(at.field("address"), "invalid Redis address: it holds an \"@\" (not shown: what comes before it may be a password); want host:port, with the credentials in username and password")
	} else if _, port, err := net.SplitHostPort(r.Redis.Address); err != nil || port == "" {
		c.errorf(at.field("address"), "invalid Redis address %q: want host:port", r.Redis.Address)
	}
	cl := &table.Cluster{
		Redis: table.Redis{
			Address:   r.Redis.Address,
			Username:  r.Redis.Username,
			Password:  secret(r.Redis.Password),
			Database:  int(r.Redis.Database),
			KeyPrefix: r.Redis.Key_prefix,
			Timeout:   c.duration(r.Redis.Timeout, true, at.field("timeout")),
		},
		OnRedisError: r.On_redis_error,
		MinNodes:     int(r.Min_nodes),
	}
	if d := cl.Redis.Timeout.D(); d > maxRedisTimeout {
		c.errorf(at.field("timeout"), "%s is longer than %s: every request under a limit may wait this long for Redis", d, maxRedisTimeout)
	}
	if a := r.Max_bindings_age; a != "" {
		at := field("cluster", "max_bindings_age")
		cl.MaxBindingsAge = c.duration(string(a), true, at)
		if d := cl.MaxBindingsAge.D(); d > 0 && d < minBindingsAge { // d <= 0: reported by duration
			c.errorf(at, "%s is shorter than %s: a node would be unready after one slow answer from Redis", d, minBindingsAge)
		}
	}
	if strings.ContainsAny(cl.Redis.KeyPrefix, "{}") {
		c.errorf(at.field("key_prefix"), "%q holds a brace: it would decide the Redis Cluster slot of every key (the hash tag is cuegate's)", cl.Redis.KeyPrefix)
	}
	if tl := r.Redis.Tls; tl != nil {
		cl.Redis.TLS = &table.RedisTLS{CAFile: deref(tl.Ca_file), ServerName: deref(tl.Server_name)}
	}
	t.Cluster = cl
}
