// Package limit counts requests per identity and policy: a smooth rate limit
// (GCRA) and a fixed-window quota.
package limit

import (
	"time"

	"github.com/cuegate/cuegate/compiler"
)

// Key is what a counter is kept for: one identity under one policy.
type Key struct{ Identity, Policy string }

// Decision is the outcome of counting one request.
type Decision struct {
	Allowed          bool
	Limit, Remaining int64
	// Reset is the time until the rate bucket is full again, or until the
	// quota window ends.
	Reset time.Duration
	// RetryAfter is when the request would be allowed, when !Allowed.
	RetryAfter time.Duration
}

// Limiter is the counter store. The in-memory one is the default; a Redis
// one (GCRA in a Lua script, like go-redis/redis_rate) can come later behind
// the same interface. Implementations are safe for concurrent use.
type Limiter interface {
	// Rate counts one request against r.Requests per r.Per (GCRA, burst =
	// r.Requests).
	Rate(k Key, r compiler.Rate, now time.Time) Decision
	// Quota counts one request against a fixed window of q.Period that
	// allows q.Max requests.
	Quota(k Key, q compiler.Quota, now time.Time) Decision
}

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// Shards is the number of independently locked maps; 0 means 64.
	Shards int
	// IdleAfter is how long an unused counter is kept; 0 means 1h.
	IdleAfter time.Duration
	// MaxKeys bounds the number of counters; 0 means 1,000,000.
	MaxKeys int
}

// Memory is an in-memory Limiter. It is safe for concurrent use.
type Memory struct {
	opts MemoryOptions
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-memory Limiter.
func NewMemory(opts MemoryOptions) *Memory {
	return &Memory{opts: opts}
}

// Rate implements Limiter. TODO(limit): not yet counting; allows everything.
func (m *Memory) Rate(k Key, r compiler.Rate, now time.Time) Decision {
	return Decision{Allowed: true, Limit: r.Requests, Remaining: r.Requests}
}

// Quota implements Limiter. TODO(limit): not yet counting; allows everything.
func (m *Memory) Quota(k Key, q compiler.Quota, now time.Time) Decision {
	return Decision{Allowed: true, Limit: q.Max, Remaining: q.Max}
}
