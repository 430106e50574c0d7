package node

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/cluster"
	"github.com/cuegate/cuegate/portal"
	"github.com/cuegate/cuegate/portal/sessions"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime"
	"github.com/cuegate/cuegate/runtime/limit"
)

// clusterNode is what a node shares with the other nodes of its
// configuration through Redis: the limiter, the count of live nodes, the
// client bindings (published by the node with the state file, followed
// by the others) and the portal's sessions. It is made once at start from
// the first table; a reload that changes the cluster block needs a
// restart. Its methods are safe for concurrent use.
type clusterNode struct {
	client    rueidis.Client
	limiter   *limit.Resilient
	heartbeat *limit.Heartbeat
	publisher *cluster.Publisher // on the node with the state file
	follower  *cluster.Follower  // on the others
	sessions  sessions.Store
}

var (
	_ runtime.Cluster  = (*clusterNode)(nil)
	_ runtime.Bindings = (*store.Store)(nil)
	_ portal.Revoker   = (*cluster.Publisher)(nil)
)

// startCluster connects to c's Redis and starts the heartbeat, and the
// publisher of st's bindings when st is not nil, else a follower that
// keeps its last snapshot in bindingsFile ("": one in the user's cache
// directory for this node, named by its gateway address listen). Redis need not be reachable:
// the client connects when it can, and meanwhile limits fall back to
// on_redis_error and a follower serves from its file.
func startCluster(c *table.Cluster, configDir string, st *store.Store, bindingsFile, listen string, log zerolog.Logger) (*clusterNode, error) {
	opt, err := redisOptions(c.Redis, configDir)
	if err != nil {
		return nil, err
	}
	client, err := rueidis.NewClient(opt)
	if client == nil {
		return nil, fmt.Errorf("cluster.redis: %w", err)
	}
	if refusedCredentials(err) {
		client.Close()
		return nil, fmt.Errorf("cluster.redis: Redis at %s refused the username or password: %w", c.Redis.Address, err)
	}
	if err != nil {
		log.Warn().Err(err).Str("address", c.Redis.Address).Msg("cluster: Redis is unreachable at start; limits fall back to on_redis_error until it answers")
	}
	prefix, timeout := c.Redis.KeyPrefix, c.Redis.Timeout.D()
	n := &clusterNode{client: client, sessions: sessions.NewRedis(client, sessions.RedisOptions{KeyPrefix: prefix})}
	n.heartbeat = limit.NewHeartbeat(client, limit.HeartbeatOptions{KeyPrefix: prefix, Timeout: timeout, MinNodes: c.MinNodes})
	n.limiter = limit.NewResilient(limit.NewRedis(client, limit.RedisOptions{KeyPrefix: prefix, Timeout: timeout, Nodes: n.heartbeat.Nodes}),
		limit.ResilientOptions{OnError: onRedisError(c.OnRedisError), Nodes: n.heartbeat.Nodes, Logger: log})
	if st != nil {
		n.publisher = cluster.NewPublisher(client, st, cluster.PublisherOptions{KeyPrefix: prefix, Logger: log})
	} else if n.follower, err = newFollower(client, c, bindingsFile, listen, log); err != nil {
		client.Close()
		return nil, err
	}
	n.heartbeat.Start()
	if n.publisher != nil {
		n.publisher.Start()
	} else {
		n.follower.Start()
	}
	return n, nil
}

// newFollower follows the bindings in c's Redis, keeping them in file, or
// in defaultBindingsFile when file is "".
func newFollower(client rueidis.Client, c *table.Cluster, file, listen string, log zerolog.Logger) (*cluster.Follower, error) {
	r := c.Redis
	if file == "" {
		var err error
		if file, err = defaultBindingsFile(r, listen); err != nil {
			return nil, fmt.Errorf("bindings file: %w (pass --bindings-file)", err)
		}
	}
	f, err := cluster.NewFollower(client, cluster.FollowerOptions{KeyPrefix: r.KeyPrefix, File: file, Logger: log, MaxAge: c.MaxBindingsAge.D()})
	if err != nil {
		return nil, fmt.Errorf("bindings file: %w", err)
	}
	return f, nil
}

// defaultBindingsFile is a follower's file in the user's cache directory
// (made private when it is missing): one per Redis address, database, key
// prefix and gateway address listen, so that the nodes on one host keep
// theirs apart.
func defaultBindingsFile(r table.Redis, listen string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "cuegate")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s", r.Address, r.Database, r.KeyPrefix, listen))
	return filepath.Join(dir, "bindings-"+hex.EncodeToString(sum[:8])+".json"), nil
}

// redisOptions is the client configuration of r; the password is read
// now, and an error names its reference, never a value.
func redisOptions(r table.Redis, configDir string) (rueidis.ClientOption, error) {
	opt := rueidis.ClientOption{
		InitAddress: []string{r.Address},
		Username:    r.Username,
		SelectDB:    r.Database,
		// One server (or Valkey): a client even while it is down, which
		// connects when it can.
		ForceSingleClient: true,
		// No client-side cache: nothing reads through one, and it needs
		// CLIENT TRACKING, which a least-privilege ACL user lacks.
		DisableCache:     true,
		Dialer:           net.Dialer{Timeout: time.Second},
		ConnWriteTimeout: time.Second,
		// Nagle's algorithm on: every command is small and answered at
		// once, so a write waits at most for the answer to the one before
		// it, and the commands of concurrent requests leave in one segment.
		DisableTCPNoDelay: true,
	}
	if r.Password != nil {
		pw, err := r.Password.Resolve(configDir)
		if err != nil {
			return opt, fmt.Errorf("cluster.redis.password: %w", err)
		}
		opt.Password = pw
	}
	if r.TLS != nil {
		host, _, _ := net.SplitHostPort(r.Address)
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
		if r.TLS.ServerName != "" {
			opt.TLSConfig.ServerName = r.TLS.ServerName
		}
		if r.TLS.CAFile != "" {
			pem, err := table.ReadPEM(configDir, r.TLS.CAFile)
			if err != nil {
				return opt, fmt.Errorf("cluster.redis.tls.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return opt, fmt.Errorf("cluster.redis.tls.ca_file: %s holds no PEM certificate", r.TLS.CAFile)
			}
			opt.TLSConfig.RootCAs = pool
		}
	}
	return opt, nil
}

// refusedCredentials reports whether err is Redis refusing the client's
// credentials or rights: a configuration mistake, not an outage.
func refusedCredentials(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "NOAUTH") || strings.Contains(msg, "NOPERM")
}

// onRedisError is the limiter's fallback for on_redis_error.
func onRedisError(s string) limit.Mode {
	switch s {
	case "allow":
		return limit.ModeAllow
	case "deny":
		return limit.ModeDeny
	}
	return limit.ModeLocal
}

// ClusterStatus implements runtime.Cluster.
func (n *clusterNode) ClusterStatus() runtime.ClusterStatus {
	s := runtime.ClusterStatus{Limiter: n.limiter.Mode().String(), Nodes: n.heartbeat.Nodes(), LeaseHits: n.limiter.LeaseHits()}
	s.Bindings = runtime.BindingsStatus{Role: "follower", Ready: n.BindingsReady()}
	if n.publisher != nil {
		s.Bindings.Role = "publisher"
	}
	return s
}

// BindingsReady implements runtime.Cluster.
func (n *clusterNode) BindingsReady() bool { return n.publisher != nil || n.follower.Ready() }

// stop stops the background work and closes the client.
func (n *clusterNode) stop() {
	if n.publisher != nil {
		n.publisher.Stop()
	}
	if n.follower != nil {
		n.follower.Stop()
	}
	n.heartbeat.Stop()
	n.client.Close()
}
