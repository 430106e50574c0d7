package limit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
)

// Mode is how a Resilient answers: through Redis, or while Redis is
// unreachable by one of the fallbacks (its OnError).
type Mode int32

var (
	_ fmt.Stringer = Mode(0)
	_ Limiter      = (*Resilient)(nil)
	_ Limiter      = (*Redis)(nil)
)

const (
	// ModeLocal counts on this node in memory, each limit divided by the
	// number of live nodes (rounded up, so at least 1).
	ModeLocal Mode = iota
	// ModeAllow allows every request that has valid limits.
	ModeAllow
	// ModeDeny refuses every request with ErrUnavailable.
	ModeDeny
	// ModeRedis counts in Redis; never a fallback.
	ModeRedis
)

// String returns the mode's name: "local", "allow", "deny" or "redis".
func (m Mode) String() string {
	switch m {
	case ModeLocal:
		return "local"
	case ModeAllow:
		return "allow"
	case ModeDeny:
		return "deny"
	case ModeRedis:
		return "redis"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// ErrUnavailable is Take's error in ModeDeny: the request cannot be
// counted because Redis is unreachable (an answer of 503, not 401 or 403).
var ErrUnavailable = errors.New("limit: the rate-limit store (Redis) is unreachable and on_redis_error is \"deny\"")

// ResilientOptions configures NewResilient.
type ResilientOptions struct {
	// OnError is the fallback while Redis is unreachable: ModeLocal (the
	// zero value), ModeAllow or ModeDeny.
	OnError Mode
	// Failures is the number of failed calls in a row that opens the
	// breaker; 0 means 3.
	Failures int
	// Probe is the mean time between probes of Redis while the breaker is
	// open, each drawn between Probe/2 and 3·Probe/2; 0 means 500ms.
	Probe time.Duration
	// Nodes returns the number of live nodes (Heartbeat.Nodes); nil
	// means 1.
	Nodes func() int
	// MaxPendingBytes bounds the memory taken by the quota counted
	// locally while Redis is unreachable, still to add to Redis, each key
	// accounted as pendingBytes; 0 means 4MiB, some 20,000 identities.
	// When a new key does not fit, an eighth of the keys held go (see
	// bounded): their use is never added to Redis, and the number of keys
	// dropped is logged, at the first and when Redis answers again.
	MaxPendingBytes int64
	// Logger gets one line when the fallback begins and one when it ends.
	Logger zerolog.Logger
}

// Resilient is a Redis limiter that does not fail with Redis: every call
// has the Redis limiter's timeout, a failed call is answered by the
// fallback (ResilientOptions.OnError), and Failures of them in a row open
// a breaker: calls then go to the fallback alone, and the first of them
// after each probe interval (jittered) starts a probe (PING) off the
// callers' path, until Redis answers. ModeLocal counts each limit's
// share among the live nodes (ResilientOptions.Nodes, 1 when no node was
// ever seen) from zero, but for the quota of a key the Redis limiter holds
// a lease or a refusal of when the breaker opens: that one counts on from
// what was left of it (see seedLocal). Quota that ModeLocal counted while
// the breaker was open is then added to Redis's windows before Redis
// counts again (up to MaxPendingBytes of it: see there), so an outage
// does not hand out a quota twice; the answers to the failed calls
// themselves are not added, since Redis most likely ran them. The local counts outlive an outage (for as long as
// their windows), so a Redis that fails again and again does not hand
// out a node's share again each time. Opening the breaker drops the Redis
// limiter's leases, whose units left are given back once Redis answers
// (see Leases in the package doc).
// No Take waits longer than the timeout. It is safe for concurrent use.
type Resilient struct {
	redis    *Redis
	onError  Mode
	failures int32
	probe    time.Duration
	nodes    func() int
	log      zerolog.Logger

	failed    atomic.Int32
	open      atomic.Bool
	nextProbe atomic.Int64 // Unix ns
	probing   atomic.Bool
	flushing  atomic.Bool
	local     *Memory // counts while Redis does not

	mu      sync.Mutex
	pending bounded[*pendingQuota] // quota counted by local, to add to Redis
	dropped int64                  // keys of pending dropped since Redis last answered
	npend   atomic.Int64           // len(pending.m)
}

// pendingQuota is quota use counted locally for one key.
type pendingQuota struct {
	quota table.Quota
	n     int64
}

// pendingBytes is what the pending quota of k accounts for (see
// entryBytes): a pointer to a pendingQuota.
func pendingBytes(k Key) int64 {
	return entryBytes(k, unsafe.Sizeof(&pendingQuota{}), unsafe.Sizeof(pendingQuota{}))
}

// newPending returns an empty map of pending quota within max bytes; its
// entries never run out.
func newPending(max int64) bounded[*pendingQuota] {
	return newBounded(max, pendingBytes, func(*pendingQuota, time.Time) bool { return false })
}

// NewResilient wraps r.
func NewResilient(r *Redis, opts ResilientOptions) *Resilient {
	if opts.OnError == ModeRedis {
		opts.OnError = ModeLocal
	}
	if opts.Failures <= 0 {
		opts.Failures = 3
	}
	if opts.Probe <= 0 {
		opts.Probe = 500 * time.Millisecond
	}
	if opts.Nodes == nil {
		opts.Nodes = func() int { return 1 }
	}
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = 4 << 20
	}
	l := &Resilient{
		redis:    r,
		onError:  opts.OnError,
		failures: int32(opts.Failures),
		probe:    opts.Probe,
		nodes:    opts.Nodes,
		log:      opts.Logger,
		pending:  newPending(opts.MaxPendingBytes),
	}
	l.local = NewMemory(MemoryOptions{})
	return l
}

// LeaseHits returns Redis.LeaseHits.
func (l *Resilient) LeaseHits() uint64 { return l.redis.LeaseHits() }

// Mode returns the mode in force: ModeRedis, or OnError while the breaker
// is open.
func (l *Resilient) Mode() Mode {
	if l.open.Load() {
		return l.onError
	}
	return ModeRedis
}

// Take counts one request as Redis.Take does while Redis answers, and
// by the fallback when it does not. Its error is ErrUnavailable in
// ModeDeny, or ctx's when ctx ended first.
func (l *Resilient) Take(ctx context.Context, req Request, now time.Time) (rate, quota Decision, err error) {
	if l.open.Load() {
		l.maybeProbe()
		return l.fallback(req, now, true)
	}
	rate, quota, err = l.redis.Take(ctx, req, now)
	if err == nil {
		if l.failed.Load() != 0 { // no shared write while all is well
			l.failed.Store(0)
		}
		if l.npend.Load() > 0 {
			l.flushAsync()
		}
		return rate, quota, nil
	}
	if ctx.Err() != nil {
		return Decision{}, Decision{}, ctx.Err()
	}
	if l.failed.Add(1) >= l.failures {
		l.trip(err)
	}
	// The call that failed was most likely sent, and Redis may still
	// count it: the fallback answers without adding it to Redis later.
	return l.fallback(req, now, false)
}

// trip opens the breaker, once.
func (l *Resilient) trip(err error) {
	if !l.open.CompareAndSwap(false, true) {
		return
	}
	l.seedLocal(l.redis.now())
	l.redis.leases.clear()
	l.scheduleProbe()
	l.log.Warn().Err(err).Str("on_redis_error", l.onError.String()).Msg("limit: Redis is unreachable; answering by the fallback until it is back")
}

func (l *Resilient) scheduleProbe() {
	d := l.probe/2 + rand.N(l.probe+1)
	l.nextProbe.Store(time.Now().Add(d).UnixNano())
}

// maybeProbe starts a probe in the background when one is due and none
// runs.
func (l *Resilient) maybeProbe() {
	if time.Now().UnixNano() < l.nextProbe.Load() || !l.probing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer l.probing.Store(false)
		if err := l.redis.ping(context.Background()); err != nil {
			l.scheduleProbe()
			return
		}
		if err := l.flush(); err != nil {
			l.scheduleProbe()
			return
		}
		l.failed.Store(0)
		l.redis.maybeDrain(l.redis.now())
		if l.open.CompareAndSwap(true, false) {
			l.mu.Lock()
			dropped := l.dropped
			l.dropped = 0
			l.mu.Unlock()
			l.log.Info().Int64("quota_keys_dropped", dropped).Msg("limit: Redis answers again; counting in Redis")
		}
	}()
}

// fallback answers req by OnError.
// Quota it counts locally is added to Redis on recovery when pending is
// true: the request never reached Redis.
func (l *Resilient) fallback(req Request, now time.Time, pending bool) (rate, quota Decision, err error) {
	if rate, quota, done := refuseInvalid(req.Rate, req.Quota); done {
		return rate, quota, nil
	}
	switch l.onError {
	case ModeAllow:
		if req.Rate != nil {
			rate = Decision{Allowed: true, Limit: req.Rate.Requests}
		}
		if req.Quota != nil {
			quota = Decision{Allowed: true, Limit: req.Quota.Max}
		}
		return rate, quota, nil
	case ModeDeny:
		return rate, quota, ErrUnavailable
	}
	n := int64(max(l.nodes(), 1))
	share := req
	if r := req.Rate; r != nil {
		share.Rate = &table.Rate{Requests: ceilDiv(r.Requests, n), Per: r.Per}
	}
	if q := req.Quota; q != nil {
		share.Quota = &table.Quota{Max: ceilDiv(q.Max, n), Period: q.Period}
	}
	rate, quota = l.local.Count(share, now)
	if pending && req.Quota != nil && quota.Allowed && (req.Rate == nil || rate.Allowed) {
		l.addPending(req.QuotaKey, *req.Quota)
	}
	return rate, quota, nil
}

func ceilDiv(a, b int64) int64 { return a/b + min(a%b, 1) }

// addPending records one request counted locally against k's quota q.
func (l *Resilient) addPending(k Key, q table.Quota) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch p := l.pending.m[k]; {
	case p != nil && p.quota == q:
		p.n++
	case p != nil: // counted since under another quota, after a table swap
		l.pending.m[k] = &pendingQuota{quota: q, n: 1}
	default:
		k.Identity = strings.Clone(k.Identity) // not a part of a larger string kept alive
		l.putPending(k, &pendingQuota{quota: q, n: 1})
	}
}

// putPending holds p, new, under k, counting the keys dropped to make
// room; l.mu is held.
func (l *Resilient) putPending(k Key, p *pendingQuota) {
	before := len(l.pending.m)
	l.pending.put(k, p, time.Time{})
	// p itself when it did not fit, or the keys makeRoom deleted for it
	if dropped := int64(before + 1 - len(l.pending.m)); dropped > 0 {
		if l.dropped == 0 {
			l.log.Warn().Int64("max_pending_bytes", l.pending.max).Msg("limit: too much quota counted locally while Redis is unreachable; dropping some of it, which Redis will not count")
		}
		l.dropped += dropped
	}
	l.npend.Store(int64(len(l.pending.m)))
}

// flushAsync runs flush in the background unless one runs.
func (l *Resilient) flushAsync() {
	if !l.flushing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer l.flushing.Store(false)
		l.flush()
	}()
}

// flush adds the quota counted locally to Redis; what could not be added
// stays pending (unless its key has been counted since under another
// quota, after a table swap: then that one's use is kept).
func (l *Resilient) flush() error {
	l.mu.Lock()
	todo := l.pending.m
	l.pending = newPending(l.pending.max)
	l.npend.Store(0)
	l.mu.Unlock()
	var first error
	for k, p := range todo {
		if first == nil {
			if first = l.redis.addQuota(context.Background(), k, p.quota, p.n); first == nil {
				continue
			}
		}
		l.mu.Lock()
		if q := l.pending.m[k]; q != nil && q.quota == p.quota {
			q.n += p.n
		} else if q == nil {
			l.putPending(k, p)
		}
		l.mu.Unlock()
	}
	return first
}
