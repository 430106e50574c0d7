package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"
)

// link is how a Publisher or a Follower reaches the keys they share in
// Redis, and how often and how long it may wait.
type link struct {
	client   rueidis.Client
	keys     keys
	interval time.Duration
	timeout  time.Duration
	log      zerolog.Logger
}

// newLink returns the link through client under prefix; an interval or a
// timeout of 0 means 1s.
func newLink(client rueidis.Client, prefix string, interval, timeout time.Duration, log zerolog.Logger) link {
	if interval <= 0 {
		interval = time.Second
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	return link{client: client, keys: newKeys(prefix), interval: interval, timeout: timeout, log: log}
}

// held returns the version Redis holds and the floor the followers
// raised (see the package documentation), 0 for none.
func (l *link) held(ctx context.Context) (version, floor int64, err error) {
	vals, err := l.client.Do(ctx, l.client.B().Hmget().Key(l.keys.hash).Field("version", "floor").Build()).ToArray()
	if err != nil {
		return 0, 0, fmt.Errorf("cluster: read the bindings version: %w", err)
	}
	if len(vals) != 2 {
		return 0, 0, fmt.Errorf("cluster: read the bindings version: %d values for 2 fields", len(vals))
	}
	if version, err = versionOf(vals[0], "version"); err == nil {
		floor, err = versionOf(vals[1], "floor")
	}
	if err == nil && max(version, floor) >= maxVersion {
		err = l.versionsExhausted(max(version, floor))
	}
	return version, floor, err
}

// versionsExhausted is the error of a version n at or beyond maxVersion,
// above which no snapshot can be published.
func (l *link) versionsExhausted(n int64) error {
	return fmt.Errorf("cluster: bindings version %d is at or beyond %d, above which no version can be published: a bindings file from elsewhere raised the hash %s; remove that file from the node that holds it, and delete the hash (DEL %s): the portal node writes it again", n, int64(maxVersion), l.keys.hash, l.keys.hash)
}

// versionOf parses the field name's value v, a version; 0 for none.
func versionOf(v rueidis.RedisMessage, name string) (int64, error) {
	n, err := v.AsInt64()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: the bindings %s in Redis: %w", name, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("cluster: Redis holds a negative bindings %s", name)
	}
	return n, nil
}
