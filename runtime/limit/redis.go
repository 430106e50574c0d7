package limit

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"github.com/cuegate/cuegate/compiler/table"
)

// stateSource keeps a counter key's state, for the scripts that follow it.
//
//go:embed state.lua
var stateSource string

// takeSource counts one request; see its header for keys, arguments and
// reply.
//
//go:embed redis.lua
var takeSource string

var (
	scriptSource = stateSource + takeSource
	takeScript   = rueidis.NewLuaScript(scriptSource)
)

// counterVersion names the layout of the counter keys and of their values
// (state.lua); a change takes a new one, so nodes of two versions never
// read each other's counts.
const counterVersion = "v3:"

// leaseHitsMetric counts, on the default VictoriaMetrics set, the
// requests counted from a lease, without a call to Redis.
const leaseHitsMetric = "cuegate_cluster_lease_hits_total"

// LeaseHits returns the requests this process counted from a lease,
// without a call to Redis.
func (r *Redis) LeaseHits() uint64 { return r.hits.Get() }

// maxMicros bounds a Per or Period in microseconds (2^52 − 1, about 142
// years): the script's exact products need it.
const maxMicros = 1<<52 - 1

// RedisOptions configures NewRedis.
type RedisOptions struct {
	// KeyPrefix begins every key, before the version ("v3:"); "" means
	// DefaultKeyPrefix.
	KeyPrefix string
	// Timeout bounds each call to Redis; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRefusedBytes bounds the memory taken by the identities
	// remembered as refused by their rate limit or quota (see Refusals
	// remembered in the package doc), each accounted as refusalBytes; 0
	// means 4MiB, some 7,000 identities. When a new one does not fit, the
	// refusals run out go, then an eighth of the others at random.
	MaxRefusedBytes int64
	// MaxLease is the most units one call counts for a lease (see Leases
	// in the package doc), the request that made it included; 0 means 64,
	// 1 no leases.
	MaxLease int
	// LeaseShare bounds a lease to this fraction of the smaller of its
	// limits (see Leases in the package doc); 0 means 64, 1 lets a lease
	// hold a whole limit.
	LeaseShare int
	// MaxLeaseBytes bounds the memory taken by the leases (see Leases in
	// the package doc), each accounted as leaseBytes; 0 means 4MiB, some
	// 10,000 keys. When a new one does not fit, the leases ended or run
	// out go, then an eighth of the others at random; their units left are
	// given back.
	MaxLeaseBytes int64
	// MaxGivebackBytes bounds the memory taken by the units of forgotten
	// leases queued to be given back to Redis (see Leases in the package
	// doc), each accounted as givebackBytes; 0 means 4MiB, some 16,000
	// leases (more than the default MaxLeaseBytes holds). Units that do
	// not fit stay counted until their windows end, and are counted in
	// cuegate_cluster_lease_units_dropped_total.
	MaxGivebackBytes int64
	// Nodes returns the number of live nodes (Heartbeat.Nodes), among
	// which a key's room is shared by leases; nil means 1.
	Nodes func() int
}

// Redis counts requests in Redis, so that every gateway node sharing the
// server shares the counts: the arithmetic of Memory (see the package doc
// and Limiter.Take for the rules, and Decision for its fields), on the
// server's clock, with at most one round trip per Take: none for a request
// counted from a lease or refused from memory (see Redis, Refusals
// remembered and Leases in the package doc). A Take, waits for another
// request's call included, takes at most the timeout.
//
// A Redis is safe for concurrent use. The client is the caller's, to
// close after the Redis is no longer used.
type Redis struct {
	client    rueidis.Client
	prefix    string
	timeout   time.Duration
	deadlines *deadlines
	refused   *refusals
	maxLease  int
	share     int64 // RedisOptions.LeaseShare
	leases    *leases
	owed      *givebacks // units of leases forgotten, to give back
	nodes     func() int
	hits      *metrics.Counter
	// clock, when set (by tests), replaces time.Now for the refusals and
	// the server's TIME for the script.
	clock func() time.Time
}

// The defaults of the Redis limiter's and the heartbeat's options, as the
// cluster block's (cluster.redis.key_prefix and timeout).
const (
	DefaultKeyPrefix = "cuegate:"
	DefaultTimeout   = 50 * time.Millisecond
)

// NewRedis returns a Redis limiter that calls Redis through client.
func NewRedis(client rueidis.Client, opts RedisOptions) *Redis {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxRefusedBytes <= 0 {
		opts.MaxRefusedBytes = 4 << 20
	}
	if opts.MaxLease <= 0 {
		opts.MaxLease = defaultMaxLease
	}
	if opts.LeaseShare <= 0 {
		opts.LeaseShare = 64
	}
	if opts.MaxLeaseBytes <= 0 {
		opts.MaxLeaseBytes = 4 << 20
	}
	if opts.MaxGivebackBytes <= 0 {
		opts.MaxGivebackBytes = 4 << 20
	}
	if opts.Nodes == nil {
		opts.Nodes = func() int { return 1 }
	}
	r := &Redis{
		client:    client,
		prefix:    opts.KeyPrefix + counterVersion,
		timeout:   opts.Timeout,
		deadlines: newDeadlines(opts.Timeout),
		refused:   newRefusals(opts.MaxRefusedBytes),
		maxLease:  opts.MaxLease,
		share:     int64(opts.LeaseShare),
		owed:      newGivebacks(opts.MaxGivebackBytes),
		nodes:     opts.Nodes,
		hits:      metrics.GetOrCreateCounter(leaseHitsMetric),
	}
	r.leases = newLeases(opts.MaxLeaseBytes, r.forget)
	return r
}

// Take implements Limiter on Redis's clock (now is not used), within the
// timeout (see deadlines); ctx is not used. An error (Redis unreachable,
// the timeout passed) means nothing is known of the request, which may or
// may not have been counted; the decisions are then zero.
func (r *Redis) Take(_ context.Context, req Request, _ time.Time) (rate, quota Decision, err error) {
	if rate, quota, done := refuseInvalid(req.Rate, req.Quota); done {
		return rate, quota, nil
	}
	now := r.now()
	if rate, quota, ok := r.refused.get(req, now); ok {
		return rate, quota, nil
	}
	k, lim, reserve := leaseOf(req)
	start := now    // the whole Take's deadline counts from it, waits included
	var held *lease // whose refill this call took
	if reserve && r.maxLease > 1 {
		var done bool
		if held, rate, quota, done, err = r.fromLease(k, lim, now); done {
			return rate, quota, err
		}
		now = r.now()
	}
	rate, quota, seen, l, err := r.call(r.deadlines.at(start), req, lim, now, held != nil)
	if l != nil {
		r.leases.put(k, l, now)
	}
	if held != nil {
		held.dry.Store(err == nil && l == nil)
		held.endRefill()
	}
	if err == nil {
		r.refused.put(req, rate, quota, seen)
		r.maybeDrain(now) // Redis answers: give back what an earlier pass could not
	}
	return rate, quota, err
}

// take counts a request at now from l.
func (r *Redis) take(l *lease, now time.Time) (rate, quota Decision, ok bool) {
	if rate, quota, ok = l.take(now); ok {
		r.hits.Inc()
	}
	return rate, quota, ok
}

// fromLease takes req's unit from k's lease when it has one left
// (done); else it takes the lease's refill for this Take's call (held),
// or waits, within the timeout from now, for another call's refill and
// takes from its lease (done), or returns neither, for a call that
// reserves nothing. A
// lease replaced between the miss and taking its refill (the refill
// before this one ended meanwhile) is let go, and its successor tried:
// replacing it would lose its units.
func (r *Redis) fromLease(k Key, lim limits, now time.Time) (held *lease, rate, quota Decision, done bool, err error) {
	for range 2 {
		l, fresh := r.leases.hold(k, lim, now)
		if fresh {
			return l, rate, quota, false, nil
		}
		if l.limits == lim {
			if rate, quota, ok := r.take(l, now); ok {
				return nil, rate, quota, true, nil
			}
		}
		if l.startRefill() {
			if r.leases.get(k) == l {
				return l, rate, quota, false, nil
			}
			l.endRefill()
			continue
		}
		if l.limits != lim || l.dry.Load() {
			break
		}
		rate, quota, ok, err := r.awaitRefill(l, k, r.deadlines.at(now))
		return nil, rate, quota, ok || err != nil, err
	}
	return nil, rate, quota, false, nil
}

// awaitRefill waits, within the timeout, for the call that refills l, and
// counts a request from the lease it made for k; ok is false when it made
// none that is left, and err says the refill did not end in time (Redis
// is as unresponsive as it would have been to this request's own call).
func (r *Redis) awaitRefill(l *lease, k Key, deadline context.Context) (rate, quota Decision, ok bool, err error) {
	if done := l.refill.Load(); done != nil {
		select {
		case <-*done:
		case <-deadline.Done():
			return rate, quota, false, fmt.Errorf("limit: redis: waiting for another request's call: %w", context.DeadlineExceeded)
		}
	}
	if next := r.leases.get(k); next != nil && next != l && next.limits == l.limits {
		rate, quota, ok = r.take(next, r.now())
	}
	return rate, quota, ok, nil
}

// scriptNow is a script's "now" argument: "" for Redis's TIME, or the
// clock hook's now in microseconds.
func (r *Redis) scriptNow(now time.Time) string {
	if r.clock == nil {
		return ""
	}
	return strconv.FormatInt(now.UnixMicro(), 10)
}

// now is this node's clock (the clock hook's when set).
func (r *Redis) now() time.Time {
	if r.clock != nil {
		return r.clock()
	}
	return time.Now()
}

// leaseOf returns the key and limits a lease for req would be held
// under, and whether req may take from one: only when it is counted
// under one key (one policy gives its limits, or only one applies).
func leaseOf(req Request) (Key, limits, bool) {
	if rk, qk := keysOf(req); rk == qk {
		return rk, limitsOf(req), true
	}
	return Key{}, limits{}, false
}

// keysOf returns the keys req is counted under, its rate's and its
// quota's: when only one limit applies, its key stands for both.
func keysOf(req Request) (rate, quota Key) {
	rate, quota = req.RateKey, req.QuotaKey
	switch {
	case req.Rate == nil:
		rate = quota
	case req.Quota == nil:
		quota = rate
	}
	return rate, quota
}

// call runs the script for req within ctx, which bounds it by the
// timeout alone: a request's context (a fasthttp.RequestCtx) is not one
// the context package can follow without a goroutine per call. It gives
// back the units left of this node's leases on req's keys (but of one
// with req's limits lim that has not ended: another call just made it)
// and, with reserve, asks for a lease, which it returns when Redis counted
// one, beside the state of req's keys the call left (seen); now is the
// node's clock at the call.
func (r *Redis) call(ctx context.Context, req Request, lim limits, now time.Time, reserve bool) (rate, quota Decision, seen snapshot, l *lease, err error) {
	args := make([]string, 16)
	for i := range args[1:] {
		args[1+i] = "0"
	}
	args[0] = r.scriptNow(now)
	rk, qk := keysOf(req)
	keys := [2]string{r.key(rk)}
	keys[1] = keys[0]
	if qk != rk {
		keys[1] = r.key(qk)
	}
	var per, period int64 // µs
	if rt := req.Rate; rt != nil {
		per = micros(rt.Per)
		args[1], args[2] = strconv.FormatInt(rt.Requests, 10), strconv.FormatInt(per, 10)
	}
	if q := req.Quota; q != nil {
		period = micros(q.Period)
		args[3], args[4] = strconv.FormatInt(q.Max, 10), strconv.FormatInt(period, 10)
	}
	want := 0
	if reserve {
		want = r.leaseSize(req) - 1
	}
	margin := r.timeout
	if r.clock != nil { // the server's clock is the node's: no skew to cover
		margin = 0
	}
	args[5], args[6], args[7] = strconv.Itoa(want), strconv.Itoa(max(r.nodes(), 1)), strconv.FormatInt(micros(table.Duration(margin)), 10)
	r.giveBack(args[8:12], rk, lim, now)
	if qk != rk {
		r.giveBack(args[12:16], qk, lim, now)
	}
	v, err := takeScript.Exec(ctx, r.client, keys[:], args).AsIntSlice()
	if err != nil {
		return rate, quota, seen, nil, fmt.Errorf("limit: redis: %w", err)
	}
	if len(v) != 9 {
		return rate, quota, seen, nil, fmt.Errorf("limit: redis: the script answered %d values, want 9", len(v))
	}
	const us = int64(time.Microsecond)
	t, extra := v[2]*us, v[8]
	e := entry{rStart: v[3] * us, rPrev: v[4], rCur: v[5], qStart: v[6] * us, qEnd: (v[6] + period) * us, qCount: v[7]}
	end := int64(math.MaxInt64) // of the lease, on Redis's clock
	if rt := req.Rate; rt != nil {
		p := per * us
		e.rCur -= extra
		rate = e.rateDecision(rt.Requests, p, e.weighted(p, t), v[0] == 1, t)
		end = e.rStart + p
	}
	if q := req.Quota; q != nil {
		e.qCount -= extra
		quota = e.quotaDecision(q.Max, v[1] == 1, t)
		end = min(end, e.qEnd)
	}
	seen = snapshot{at: now, server: t, state: e, per: per * us}
	if extra > 0 {
		l = &lease{limits: lim, units: extra, end: now.Add(min(time.Duration(end-t)-margin, maxLeaseAge)), snapshot: seen}
	}
	return rate, quota, seen, l, nil
}

// key returns the Redis key of k.
func (r *Redis) key(k Key) string {
	var stack [256]byte
	buf := stack[:0]
	for _, s := range []string{k.Issuer, k.Claim, k.Identity} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	tag := sha256.Sum256(buf)
	pol := sha256.Sum256([]byte(k.Policy))
	enc := base64.RawURLEncoding
	var out [128]byte
	b := out[:0]
	b = append(b, r.prefix...)
	b = append(b, '{')
	b = enc.AppendEncode(b, tag[:16])
	b = append(b, "}:"...)
	b = enc.AppendEncode(b, pol[:9])
	return string(b)
}

// micros returns d in whole microseconds, rounded up, within [1, maxMicros].
func micros(d table.Duration) int64 {
	us := int64(d) / int64(time.Microsecond)
	if int64(d)%int64(time.Microsecond) != 0 {
		us++
	}
	return min(max(us, 1), maxMicros)
}

//go:embed quota_add.lua
var quotaAddSource string

var quotaAddScript = rueidis.NewLuaScript(stateSource + quotaAddSource)

// addQuota adds n requests counted elsewhere to k's current window of q
// (a new one starting now when there is none), within the timeout.
func (r *Redis) addQuota(ctx context.Context, k Key, q table.Quota, n int64) error {
	// The call is bounded by the timeout alone: a request's context (a
	// fasthttp.RequestCtx) is not one the context package can follow
	// without a goroutine per call.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	args := []string{strconv.FormatInt(n, 10), strconv.FormatInt(micros(q.Period), 10)}
	if err := quotaAddScript.Exec(ctx, r.client, []string{r.key(k)}, args).Error(); err != nil {
		return fmt.Errorf("limit: redis: adding quota counted locally: %w", err)
	}
	return nil
}

// ping reports whether Redis answers within the timeout.
func (r *Redis) ping(ctx context.Context) error {
	// The call is bounded by the timeout alone: a request's context (a
	// fasthttp.RequestCtx) is not one the context package can follow
	// without a goroutine per call.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	return r.client.Do(ctx, r.client.B().Ping().Build()).Error()
}
