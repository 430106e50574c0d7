// Package limit counts requests per identity and policy: a sliding-window
// rate limit and a fixed-window quota.
//
// # Rate limit
//
// A rate of N requests per P means at most N requests in any window of
// length P. It is kept as a sliding-window counter: two fixed windows of
// length P per key, the current one and the one before it, and an estimate
// of the requests in the last P that weights the previous window by the part
// of it that still overlaps:
//
//	est(t) = prev × (P − elapsed)/P + cur
//
// where elapsed is the time since the current window began. A request is
// allowed when est(t) + 1 ≤ N, and then counted in cur; a refused request is
// not counted. A key's windows start with its first request (and again with
// the first request after both windows have emptied), so a fresh identity
// begins at the start of a window: offered 300 req/s against 100 per second
// for 5 s, it passes 496 (100 in the first window, then 99 a window), not
// 600.
//
// The estimate assumes the previous window's requests were spread evenly.
// After a burst at the start of a window it is conservative: a key that spent
// its N at once gets its next request P + P/N after the burst (5 per 10 s: 5
// quick calls pass, and the next one 12 s after the first). Requests bunched
// at the very end of one window and then of the next are undercounted:
// nearly 2N can pass within a span of P across the boundary. For steady or
// random traffic it is close to exact.
//
// Why not GCRA: a GCRA (or token bucket) with a burst of N allows up to 2N
// requests in a window of P whenever a key starts or returns from idle (the
// full burst, then the refill): 600 where 500 is meant above. The
// sliding-window counter keeps a window start and two counts per key, and
// the Redis limiter of DESIGN §8 can run the same arithmetic on one hash in
// one Lua script, one round trip per check.
//
// Arithmetic is exact: products such as prev × (P − elapsed) are taken in 128
// bits (math/bits), so there is no rounding near the limit and no overflow
// for any int64 request count and any window up to a century.
package limit

import (
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"time"

	"github.com/cuegate/cuegate/compiler"
)

// Key is what a counter is kept for: one identity under one policy.
type Key struct{ Identity, Policy string }

// Decision is the outcome of counting one request.
type Decision struct {
	Allowed bool
	// Limit is the rate's Requests or the quota's Max.
	Limit int64
	// Remaining is how many more requests would be allowed at this instant:
	// for the rate, floor(Requests − est) after this request; for the quota,
	// Max minus the requests counted in the window. It is 0 when refused.
	Remaining int64
	// Reset is, for the rate, the time until the estimate falls back to zero
	// (the full Requests available again) when no more requests are allowed;
	// for the quota, the time until its window ends.
	Reset time.Duration
	// RetryAfter is, when !Allowed, the time until the earliest instant at
	// which the request would be allowed (always > 0); 0 when Allowed.
	// Rounding it up to whole seconds is the caller's job.
	RetryAfter time.Duration
}

// Limiter is the counter store. The in-memory one is the default; a Redis
// one (the same sliding-window arithmetic in a Lua script) can come later
// behind the same interface. Implementations are safe for concurrent use.
type Limiter interface {
	// Rate counts one request against at most r.Requests in any window of
	// r.Per, by the sliding-window estimate of the package doc. A refused
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
	// state (both of its rate windows have ended and so has its quota
	// window); 0 means 10m.
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
	rStart int64 // current rate window start
	rPrev  int64 // requests counted in the rate window before it
	rCur   int64 // requests counted in the current rate window
	rZero  int64 // when the rate estimate falls to zero (rCur, rPrev expired)
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
	t, per, n := now.UnixNano(), int64(r.Per), r.Requests

	s, e := m.lock(k, t)
	defer s.mu.Unlock()
	if d := t - e.rStart; d >= per {
		e.rStart, e.rPrev, e.rCur = e.rStart+per, e.rCur, 0
		if d-per >= per {
			e.rPrev = 0
		}
	}
	if e.rPrev == 0 && e.rCur == 0 {
		// A new key, or both windows are empty: start afresh at t, as for
		// an identity never seen.
		e.rStart = t
	}
	// A t a little before rStart (a request that read the clock before
	// another one took the lock) counts as at the window's start.
	elapsed := max(t-e.rStart, 0)
	// weighted = ceil(prev × (per − elapsed) / per): est+1 <= n holds exactly
	// when weighted+cur+1 <= n, as the right side is a whole number.
	weighted := mulDivCeil(e.rPrev, per-elapsed, per)
	allowed := weighted+e.rCur+1 <= n
	if allowed {
		e.rCur++
	}
	// Set on refusal too: the key's Per may have changed with the table.
	e.rZero = e.zeroAt(per)
	s.m[k] = e
	d := Decision{Allowed: allowed, Limit: n, Reset: time.Duration(e.rZero - t)}
	if allowed {
		d.Remaining = n - e.rCur - weighted
	} else {
		d.RetryAfter = retryAfter(e, n, per, elapsed)
	}
	return d
}

// zeroAt returns when e's rate estimate falls to zero if nothing more is
// counted: at the end of the next window while the current one holds
// requests, else at the end of the current one.
func (e *entry) zeroAt(per int64) int64 {
	switch {
	case e.rCur > 0:
		return addSat(addSat(e.rStart, per), per)
	case e.rPrev > 0:
		return addSat(e.rStart, per)
	}
	return e.rStart
}

// retryAfter solves for the earliest time, from elapsed into e's current
// window, at which est + 1 <= n if nothing more is counted: later in this
// window as the previous one's weight falls, else in the next window, where
// this window's count takes the previous one's place (a window after that
// has an estimate of 0, so the answer is under 2 per away).
func retryAfter(e entry, n, per, elapsed int64) time.Duration {
	if room := n - e.rCur - 1; room >= 0 {
		if at := earliest(e.rPrev, room, per); at < per {
			return time.Duration(at - elapsed)
		}
	}
	return time.Duration(per - elapsed + earliest(e.rCur, n-1, per))
}

// earliest returns the least elapsed time x >= 0 in a window of length per
// at which count × (per − x)/per <= room, for count > room >= 0 or room >=
// count >= 0 (then 0): x = per − floor(room × per / count).
func earliest(count, room, per int64) int64 {
	if room >= count {
		return 0
	}
	hi, lo := bits.Mul64(uint64(room), uint64(per))
	q, _ := bits.Div64(hi, lo, uint64(count)) // room < count: q < per
	return per - int64(q)
}

// addSat returns a + b for a, b >= 0, at most math.MaxInt64.
func addSat(a, b int64) int64 {
	return int64(min(uint64(a)+uint64(b), math.MaxInt64))
}

// mulDivCeil returns ceil(a × b / c) for a, b >= 0, c > 0 and b <= c, in
// 128-bit arithmetic (the result is at most a).
func mulDivCeil(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, rem := bits.Div64(hi, lo, uint64(c))
	if rem != 0 {
		q++
	}
	return int64(q)
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
	s := &m.shards[maphash.Comparable(m.seed, k)%uint64(len(m.shards))]
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
// decision: unused for the idle time, both rate windows over (the estimate is
// zero and a new request would start afresh), quota window over.
func (m *Memory) idleAt(e entry, t int64) bool {
	return t-e.used >= m.idle && e.rZero <= t && e.qEnd <= t
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
