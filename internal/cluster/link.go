package cluster

import (
	"context"
	"errors"
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

// heldVersion returns the version Redis holds, 0 for none.
func (l *link) heldVersion(ctx context.Context) (int64, error) {
	v, err := l.client.Do(ctx, l.client.B().Hget().Key(l.keys.hash).Field("version").Build()).AsInt64()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cluster: read the bindings version: %w", err)
	}
	if v < 0 {
		return 0, errors.New("cluster: Redis holds a negative bindings version")
	}
	return v, nil
}
