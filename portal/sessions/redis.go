package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// keyVersion names the layout of the keys and of their values; a change
// of either takes a new one, so nodes of two versions never read each
// other's sessions.
const keyVersion = "v1:session:"

// DefaultRedisTimeout bounds each call to Redis when RedisOptions.Timeout
// is 0. Portal pages are interactive and already spend a bcrypt on every
// log-in, so the budget can absorb a stall of Redis (a fork for a
// snapshot, a failover) that the gateway's per-request budget could not,
// while a developer still gets an answer in well under a second when
// Redis is gone.
const DefaultRedisTimeout = 500 * time.Millisecond

// RedisOptions configures NewRedis.
type RedisOptions struct {
	// KeyPrefix begins every key, before "v1:session:"; "" means
	// "cuegate:".
	KeyPrefix string
	// Timeout bounds each call to Redis; 0 means DefaultRedisTimeout.
	Timeout time.Duration
}

// Redis keeps sessions in Redis, so that every portal node sharing the
// server shares them and a restart of a node ends none.
//
// A session is one string key, KeyPrefix + "v1:session:" + the SHA-256
// of its token in hex: Redis never holds a token, so reading it does
// not let anybody log in. The value is the Session in JSON; the key
// expires with the session's time to live (SET … PX), which an Update
// keeps (SET … XX KEEPTTL). Each call is bounded by the Timeout.
//
// A Redis is safe for concurrent use. The client is the caller's, to
// close after the Redis is no longer used.
type Redis struct {
	client  rueidis.Client
	prefix  string
	timeout time.Duration
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Redis store that calls Redis through client.
func NewRedis(client rueidis.Client, opts RedisOptions) *Redis {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = "cuegate:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRedisTimeout
	}
	return &Redis{client: client, prefix: opts.KeyPrefix + keyVersion, timeout: opts.Timeout}
}

// key returns the Redis key of the session stored under token.
func (r *Redis) key(token string) string {
	h := sha256.Sum256([]byte(token))
	return r.prefix + hex.EncodeToString(h[:])
}

// Create stores s under token for ttl, rounded up to a whole millisecond.
func (r *Redis) Create(ctx context.Context, token string, s Session, ttl time.Duration) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	ms := max((ttl+time.Millisecond-1)/time.Millisecond, 1)
	return r.do(ctx, "create", r.client.B().Set().Key(r.key(token)).Value(string(v)).PxMilliseconds(int64(ms)).Build())
}

// Get returns the session stored under token. A value that is not a
// session (not written by this version) is taken for none.
func (r *Redis) Get(ctx context.Context, token string) (Session, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.client.Do(ctx, r.client.B().Get().Key(r.key(token)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, fmt.Errorf("sessions: redis: get: %w", err)
	}
	var s Session
	if json.Unmarshal(v, &s) != nil {
		return Session{}, false, nil
	}
	return s, true, nil
}

// Update replaces the session stored under token, keeping its time to
// live (SET … XX KEEPTTL: nothing is stored when the key is gone).
func (r *Redis) Update(ctx context.Context, token string, s Session) error {
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	return r.do(ctx, "update", r.client.B().Set().Key(r.key(token)).Value(string(v)).Xx().Keepttl().Build())
}

// Delete removes the session stored under token.
func (r *Redis) Delete(ctx context.Context, token string) error {
	return r.do(ctx, "delete", r.client.B().Del().Key(r.key(token)).Build())
}

// do runs cmd within the timeout; a nil reply (SET XX on no key) is no
// error.
func (r *Redis) do(ctx context.Context, what string, cmd rueidis.Completed) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Do(ctx, cmd).Error(); err != nil && !rueidis.IsRedisNil(err) {
		return fmt.Errorf("sessions: redis: %s: %w", what, err)
	}
	return nil
}
