// Package limit counts requests per identity and policy: a smooth rate limit
// (GCRA) and a fixed-window quota.
package limit

import (
	"hash/maphash"
	"sync"
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
	// Rate counts one request against r.Requests per r.Per, smoothly: the
	// generic cell rate algorithm with a burst of r.Requests. A refused
	// request is not counted.
	Rate(k Key, r compiler.Rate, now time.Time) Decision
	// Quota counts one request against a fixed window of q.Period that
	// allows q.Max requests. A key's window starts with its first request
	// and the next one with the first request after it ends. A refused
	// request is not counted.
	Quota(k Key, q compiler.Quota, now time.Time) Decision
}

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// Shards is the number of independently locked maps; 0 means 64.
	Shards int
	// IdleAfter is how long an unused counter is kept once it holds no
	// state (its rate bucket is full and its quota window has ended); 0
	// means 10m.
	IdleAfter time.Duration
	// MaxKeys bounds the number of counters; 0 means 1,000,000. When it is
	// reached, a new key evicts the least recently used of a few sampled
	// ones, which forgets that key's counts.
	MaxKeys int
}

// Memory is an in-memory Limiter for one gateway node. Counters live in
// sharded maps, each behind its own mutex; counting on an existing key does
// not allocate. Idle counters are swept out as requests arrive (no
// goroutine), so a Memory needs no Close. It is safe for concurrent use and
// is meant to outlive table generations, so counts survive a hot swap.
type Memory struct {
	seed      maphash.Seed
	shards    []shard
	idle      int64 // ns
	perShard  int
	sweepEach int64 // ns
}

// entry is one key's state; times are Unix nanoseconds.
type entry struct {
	tat    int64 // GCRA theoretical arrival time
	qStart int64 // quota window start; 0: no window yet
	qEnd   int64
	qCount int64
	used   int64
}

type shard struct {
	mu        sync.Mutex
	m         map[Key]entry
	nextSweep int64
	_         [40]byte // keep shards on separate cache lines
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an empty in-memory Limiter.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Shards <= 0 {
		opts.Shards = 64
	}
	if opts.IdleAfter <= 0 {
		opts.IdleAfter = 10 * time.Minute
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 1_000_000
	}
	m := &Memory{
		seed:      maphash.MakeSeed(),
		shards:    make([]shard, opts.Shards),
		idle:      int64(opts.IdleAfter),
		perShard:  max(1, (opts.MaxKeys+opts.Shards-1)/opts.Shards),
		sweepEach: max(int64(time.Second), int64(opts.IdleAfter)/2),
	}
	for i := range m.shards {
		m.shards[i].m = make(map[Key]entry)
	}
	return m
}

// Len returns the number of counters held.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Rate implements Limiter.
func (m *Memory) Rate(k Key, r compiler.Rate, now time.Time) Decision {
	if r.Requests <= 0 || r.Per <= 0 {
		return Decision{Limit: max(r.Requests, 0), RetryAfter: max(r.Per.D(), time.Second)}
	}
	t := now.UnixNano()
	interval := max(int64(r.Per)/r.Requests, 1) // emission interval
	burst := interval * r.Requests

	s, e := m.lock(k, t)
	defer s.mu.Unlock()
	tat := max(e.tat, t)
	next := tat + interval
	diff := t - (next - burst)
	if diff < 0 {
		s.m[k] = e
		return Decision{Limit: r.Requests, Reset: time.Duration(tat - t), RetryAfter: time.Duration(-diff)}
	}
	e.tat = next
	s.m[k] = e
	return Decision{Allowed: true, Limit: r.Requests, Remaining: diff / interval, Reset: time.Duration(next - t)}
}

// Quota implements Limiter.
func (m *Memory) Quota(k Key, q compiler.Quota, now time.Time) Decision {
	if q.Max <= 0 || q.Period <= 0 {
		return Decision{Limit: max(q.Max, 0), RetryAfter: max(q.Period.D(), time.Second)}
	}
	t := now.UnixNano()
	s, e := m.lock(k, t)
	defer s.mu.Unlock()
	if e.qStart == 0 || t >= e.qStart+int64(q.Period) {
		e.qStart, e.qCount = t, 0
	}
	e.qEnd = e.qStart + int64(q.Period)
	reset := time.Duration(e.qEnd - t)
	if e.qCount >= q.Max {
		s.m[k] = e
		return Decision{Limit: q.Max, Reset: reset, RetryAfter: reset}
	}
	e.qCount++
	s.m[k] = e
	return Decision{Allowed: true, Limit: q.Max, Remaining: q.Max - e.qCount, Reset: reset}
}

// lock locks k's shard, sweeps it when due, and returns k's entry (zero for
// a new key, room made for it) marked as used at t. The caller stores the
// entry back and unlocks.
func (m *Memory) lock(k Key, t int64) (*shard, entry) {
	h := maphash.String(m.seed, k.Identity) ^ maphash.String(m.seed, k.Policy)*0x9e3779b97f4a7c15
	s := &m.shards[h%uint64(len(m.shards))]
	s.mu.Lock()
	if t >= s.nextSweep {
		for key, e := range s.m {
			if m.idleAt(e, t) {
				delete(s.m, key)
			}
		}
		s.nextSweep = t + m.sweepEach
	}
	e, ok := s.m[k]
	if !ok && len(s.m) >= m.perShard {
		s.evictOne()
	}
	e.used = t
	return s, e
}

// idleAt reports whether e can be forgotten at t without changing any
// decision: unused for the idle time, bucket full, quota window over.
func (m *Memory) idleAt(e entry, t int64) bool {
	return t-e.used >= m.idle && e.tat <= t && e.qEnd <= t
}

// evictOne deletes the least recently used of a few keys sampled at random
// (map iteration starts at a random place), the way Redis approximates LRU.
func (s *shard) evictOne() {
	const samples = 8
	var (
		victim Key
		oldest int64
		n      int
	)
	for k, e := range s.m {
		if n == 0 || e.used < oldest {
			victim, oldest = k, e.used
		}
		if n++; n == samples {
			break
		}
	}
	delete(s.m, victim)
}
