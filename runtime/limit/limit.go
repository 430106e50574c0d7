package limit

import (
	"context"
	"hash/maphash"
	"math"
	"math/bits"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cuegate/cuegate/compiler/table"
)

// Key is what a counter is kept for: one identity of one token issuer,
// taken from one claim, under one policy. Identities from two issuers, or
// from two claims (a user's sub and a client's client_id), are two
// identities, even with the same value; two IdP entries with one issuer
// share counters, as two APIs taking identities from one claim do.
type Key struct{ Issuer, Claim, Identity, Policy string }

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

// Request is one request to count: the rate limit and the quota that
// apply to it, each with the key it is counted under (they differ when the
// two limits come from different policies). A nil Rate or Quota does not
// apply.
type Request struct {
	RateKey  Key
	Rate     *table.Rate
	QuotaKey Key
	Quota    *table.Quota
}

// Limiter is a counter store: Memory (one node), Redis and Resilient
// (shared by the nodes). Implementations are safe for concurrent use.
type Limiter interface {
	// Take counts one request against the limits of req that apply, as
	// one step: the request is counted in both when both allow it, and in
	// neither when either refuses. The rate allows at most Rate.Requests
	// in any window of Rate.Per, by the sliding-window estimate of the
	// package doc; the quota allows Quota.Max in a fixed window of
	// Quota.Period that starts with a key's first request (and the next
	// one with the first request after it ends). The decision of a limit
	// that does not apply is the zero Decision. When one limit refuses,
	// the other's decision says whether it alone would have allowed the
	// request, and its Remaining is not lowered by it. now is the time
	// of the request for a store of one node; a shared store keeps its
	// own clock. An error means the request could not be counted (see
	// ErrUnavailable); the decisions are then zero. A shared store
	// bounds each call by its own timeout; ctx carries values, and its
	// cancellation need not interrupt a call.
	Take(ctx context.Context, req Request, now time.Time) (rate, quota Decision, err error)
}

// MemoryOptions configures NewMemory.
type MemoryOptions struct {
	// Shards is the number of independently locked maps; 0 means 64.
	Shards int
	// IdleAfter is how long an unused counter is kept once it holds no
	// state (both of its rate windows have ended and so has its quota
	// window); 0 means 10m.
	IdleAfter time.Duration
	// MaxBytes bounds the memory the counters take, each accounted as
	// keyBytes; 0 means DefaultMemoryBytes. Each shard holds at most its
	// Shards-th part. When a new key does not fit its shard, it evicts the
	// least recently used of 8 keys sampled at random, as often as needed,
	// which forgets their counts: an identity seen again starts afresh.
	// (A Take whose rate and quota keys differ never evicts its first key
	// for its second: a shard whose only key that is goes over.)
	MaxBytes int64
}

// DefaultMemoryBytes is the MaxBytes of a zero MemoryOptions: some
// 100,000 identities under two policies.
const DefaultMemoryBytes = 32 << 20

// keyBytes is what the counter of k accounts for (see entryBytes): a
// pointer to its entry.
func keyBytes(k Key) int64 {
	return entryBytes(k, unsafe.Sizeof(&entry{}), unsafe.Sizeof(entry{}))
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
	perShard  int64 // bytes
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
	m         map[Key]*entry
	bytes     int64 // keyBytes of m's keys, summed
	nextSweep int64
	_         [32]byte // keep shards on separate cache lines
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
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMemoryBytes
	}
	m := &Memory{
		seed:      maphash.MakeSeed(),
		shards:    make([]shard, opts.Shards),
		idle:      int64(opts.IdleAfter),
		perShard:  opts.MaxBytes / int64(opts.Shards),
		sweepEach: max(int64(time.Second), int64(opts.IdleAfter)/2),
	}
	for i := range m.shards {
		m.shards[i].m = make(map[Key]*entry)
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

// Take implements Limiter: Count, which never fails.
func (m *Memory) Take(_ context.Context, req Request, now time.Time) (rate, quota Decision, err error) {
	rate, quota = m.Count(req, now)
	return rate, quota, nil
}

// Count counts one request as Limiter.Take does, at now.
func (m *Memory) Count(req Request, now time.Time) (rate, quota Decision) {
	r, q := req.Rate, req.Quota
	if rate, quota, done := refuseInvalid(r, q); done {
		return rate, quota
	}
	t := now.UnixNano()
	rk, qk := req.RateKey, req.QuotaKey
	switch {
	case r == nil:
		rk = qk
	case q == nil:
		qk = rk
	}

	// One entry holds a key's rate and quota state: when both limits are
	// counted under the same key (one policy), that is one lookup.
	same := qk == rk
	ri := m.shardIndex(rk)
	qi := ri
	if qk.Identity != rk.Identity { // shardIndex hashes the identity alone
		qi = m.shardIndex(qk)
	}
	m.lockPair(ri, qi)
	defer m.unlockPair(ri, qi)
	re := m.load(&m.shards[ri], rk, t, nil)
	qe := re
	if !same {
		qe = m.load(&m.shards[qi], qk, t, re)
	}

	rateOK, quotaOK := true, true
	var weighted int64
	if r != nil {
		weighted = re.advanceRate(int64(r.Per), t)
		rateOK = weighted+re.rCur+1 <= r.Requests
	}
	if q != nil {
		qe.advanceQuota(int64(q.Period), t)
		quotaOK = qe.qCount < q.Max
	}
	if rateOK && quotaOK {
		if r != nil {
			re.rCur++
		}
		if q != nil {
			qe.qCount++
		}
	}
	if r != nil {
		rate = re.rateDecision(r.Requests, int64(r.Per), weighted, rateOK, t)
	}
	if q != nil {
		quota = qe.quotaDecision(q.Max, quotaOK, t)
	}
	return rate, quota
}

// refuseInvalid decides a request without counting it when no limit
// applies (zero Decisions) or one allows nothing (the compiler refuses
// such a limit): that one refuses, and done is true.
func refuseInvalid(r *table.Rate, q *table.Quota) (rate, quota Decision, done bool) {
	switch {
	case r == nil && q == nil:
		return rate, quota, true
	case r != nil && (r.Requests <= 0 || r.Per <= 0):
		return Decision{Limit: max(r.Requests, 0), RetryAfter: max(r.Per.D(), time.Second)}, quota, true
	case q != nil && (q.Max <= 0 || q.Period <= 0):
		return rate, Decision{Limit: max(q.Max, 0), RetryAfter: max(q.Period.D(), time.Second)}, true
	}
	return rate, quota, false
}

// advanceRate moves e's rate windows to t and returns the previous
// window's weight in the estimate at t, rounded up: ceil(prev × (per −
// elapsed) / per), so that est + 1 <= n holds exactly when weighted + cur
// + 1 <= n (the right side is a whole number).
func (e *entry) advanceRate(per, t int64) (weighted int64) {
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
	return e.weighted(per, t)
}

// weighted is the previous rate window's weight in the estimate at t,
// rounded up: ceil(rPrev × (per − elapsed) / per). A t a little before
// rStart (a request that read the clock before another one took the
// lock) counts as at the window's start.
func (e *entry) weighted(per, t int64) int64 {
	return mulDivCeil(e.rPrev, per-max(t-e.rStart, 0), per)
}

// rateDecision reports e's rate state at t, once the request was counted
// or not; weighted is advanceRate's, ok whether the rate allows the request.
func (e *entry) rateDecision(n, per, weighted int64, ok bool, t int64) Decision {
	// Set on refusal too: the key's Per may have changed with the table.
	e.rZero = e.zeroAt(per)
	d := Decision{Allowed: ok, Limit: n, Reset: time.Duration(e.rZero - t)}
	if ok {
		d.Remaining = n - e.rCur - weighted
	} else {
		d.RetryAfter = retryAfter(*e, n, per, max(t-e.rStart, 0))
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

// advanceQuota starts a new quota window at t when there is none or the
// last one has ended.
func (e *entry) advanceQuota(period, t int64) {
	if e.qStart == 0 || t >= addSat(e.qStart, period) {
		e.qStart, e.qCount = t, 0
	}
	e.qEnd = addSat(e.qStart, period)
}

// quotaDecision reports e's quota state at t, once the request was counted
// or not; ok is whether the quota allows the request.
func (e *entry) quotaDecision(limit int64, ok bool, t int64) Decision {
	reset := time.Duration(e.qEnd - t)
	if !ok {
		return Decision{Limit: limit, Reset: reset, RetryAfter: reset}
	}
	return Decision{Allowed: true, Limit: limit, Remaining: limit - e.qCount, Reset: reset}
}

// shardIndex is the shard of k, chosen by its identity alone: a hash of
// one string is several times cheaper than maphash.Comparable of the
// whole key, and one identity's keys then share a shard (one lock for a
// Take whose rate and quota come from two policies).
func (m *Memory) shardIndex(k Key) int {
	return int(maphash.String(m.seed, k.Identity) % uint64(len(m.shards)))
}

// lockPair locks shards i and j (once when i == j), the lower index first,
// so that two Takes cannot wait on each other.
func (m *Memory) lockPair(i, j int) {
	m.shards[min(i, j)].mu.Lock()
	if i != j {
		m.shards[max(i, j)].mu.Lock()
	}
}

func (m *Memory) unlockPair(i, j int) {
	m.shards[i].mu.Unlock()
	if i != j {
		m.shards[j].mu.Unlock()
	}
}

// load returns k's entry in the locked shard s, a new one for a new key
// (room made for it, but never by evicting keep), marked as used at t, and
// sweeps s when due. Entries are updated in place.
func (m *Memory) load(s *shard, k Key, t int64, keep *entry) *entry {
	if t >= s.nextSweep {
		for key, e := range s.m {
			if m.idleAt(e, t) {
				s.delete(key)
			}
		}
		s.nextSweep = t + m.sweepEach
	}
	e := s.m[k]
	if e == nil {
		size := keyBytes(k)
		for s.bytes+size > m.perShard && s.evictOne(keep) {
		}
		k.Identity = strings.Clone(k.Identity) // not a part of a larger string kept alive
		e = new(entry)
		s.m[k] = e
		s.bytes += size
	}
	e.used = t
	return e
}

// idleAt reports whether e can be forgotten at t without changing any
// decision: unused for the idle time, both rate windows over (the estimate is
// zero and a new request would start afresh), quota window over.
func (m *Memory) idleAt(e *entry, t int64) bool {
	return t-e.used >= m.idle && e.rZero <= t && e.qEnd <= t
}

// delete forgets k, held in s.
func (s *shard) delete(k Key) {
	delete(s.m, k)
	s.bytes -= keyBytes(k)
}

// evictOne deletes the least recently used of a few keys sampled at random
// (map iteration starts at a random place), the way Redis approximates LRU;
// keep is not a candidate. It reports whether it deleted one.
func (s *shard) evictOne(keep *entry) bool {
	const samples = 8
	var (
		victim Key
		oldest int64
		n      int
	)
	for k, e := range s.m {
		if e == keep {
			continue
		}
		if n == 0 || e.used < oldest {
			victim, oldest = k, e.used
		}
		if n++; n == samples {
			break
		}
	}
	if n > 0 {
		s.delete(victim)
	}
	return n > 0
}
