package limit

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/redis/rueidis"

	"github.com/cuegate/cuegate/compiler/table"
)

// Usage is how much of one limit a key has used at an instant.
type Usage struct {
	// Used is, for the rate, the sliding-window estimate rounded up (what
	// the next request is weighed against); for the quota, the requests
	// counted in its current window.
	Used int64
	// Limit is the rate's Requests or the quota's Max.
	Limit int64
	// Reset is, for the rate, the time until the estimate falls to zero;
	// for the quota, the time until its window ends; 0 when nothing is
	// counted (a quota window starts with the next request).
	Reset time.Duration
}

// Peeker reads what a Limiter counted without counting: the portal shows
// a client what the gateway enforces. Implementations are safe for
// concurrent use.
type Peeker interface {
	// Peek returns the usage of req's limits that apply (the zero Usage
	// for one that does not) as Take would see them at now (a shared
	// store uses its own clock). It changes no state: no count, no
	// window start, no key kept alive. An error means the store could not
	// be read.
	Peek(ctx context.Context, req Request, now time.Time) (rate, quota Usage, err error)
}

var (
	_ Peeker = (*Memory)(nil)
	_ Peeker = (*Redis)(nil)
	_ Peeker = (*Resilient)(nil)
)

// usage reports e's usage of r and q at t, on a copy of e.
func (e entry) usage(r *table.Rate, q *table.Quota, t int64) (rate, quota Usage) {
	if r != nil && r.Per > 0 {
		per := int64(r.Per)
		weighted := e.advanceRate(per, t)
		rate = Usage{Used: weighted + e.rCur, Limit: r.Requests, Reset: time.Duration(max(e.zeroAt(per)-t, 0))}
	} else if r != nil {
		rate.Limit = r.Requests
	}
	if q != nil {
		quota.Limit = q.Max
		if end := e.qStart + int64(q.Period); e.qStart != 0 && t < end {
			quota.Used, quota.Reset = e.qCount, time.Duration(end-t)
		}
	}
	return rate, quota
}

// Peek implements Peeker.
func (m *Memory) Peek(_ context.Context, req Request, now time.Time) (rate, quota Usage, err error) {
	t := now.UnixNano()
	rate, _ = m.entry(req.RateKey).usage(req.Rate, nil, t)
	_, quota = m.entry(req.QuotaKey).usage(nil, req.Quota, t)
	return rate, quota, nil
}

// entry returns a copy of k's state, the zero entry for an unknown key.
func (m *Memory) entry(k Key) entry {
	s := &m.shards[m.shardIndex(k)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[k]; e != nil {
		return *e
	}
	return entry{}
}

// Peek implements Peeker with plain reads (GET, TIME) of the keys Take
// writes, on Redis's clock. Units leased to nodes (see Leases in the
// package doc) count as used: Redis cannot tell the ones not used yet.
func (r *Redis) Peek(ctx context.Context, req Request, _ time.Time) (rate, quota Usage, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	b := r.client.B()
	res := r.client.DoMulti(ctx,
		b.Get().Key(r.key(req.RateKey)).Build(),
		b.Get().Key(r.key(req.QuotaKey)).Build(),
		b.Time().Build())
	var st [2][7]int64
	for i, res := range res[:2] {
		if st[i], err = unpackState(res); err != nil {
			return rate, quota, err
		}
	}
	var now int64 // µs
	if r.clock != nil {
		now = r.clock().UnixMicro()
	} else {
		tm, err := res[2].AsIntSlice()
		if err != nil || len(tm) != 2 {
			return rate, quota, fmt.Errorf("limit: redis: TIME: %v", err)
		}
		now = tm[0]*1_000_000 + tm[1]
	}
	const us = int64(time.Microsecond)
	rs, qs := st[0], st[1]
	e := entry{rStart: rs[0] * us, rPrev: rs[1], rCur: rs[2], qStart: qs[4] * us, qCount: qs[5]}
	var rt *table.Rate
	if req.Rate != nil { // the script's whole microseconds
		rt = &table.Rate{Requests: req.Rate.Requests, Per: table.Duration(micros(req.Rate.Per) * us)}
	}
	var q *table.Quota
	if req.Quota != nil {
		q = &table.Quota{Max: req.Quota.Max, Period: table.Duration(micros(req.Quota.Period) * us)}
	}
	rate, quota = e.usage(rt, q, now*us)
	return rate, quota, nil
}

// unpackState decodes a counter key's value as state.lua packs it (seven
// little-endian doubles: rs, rp, rc, per, qs, qc, period); a key that
// does not exist is all zeros.
func unpackState(res rueidis.RedisResult) (st [7]int64, err error) {
	b, err := res.AsBytes()
	switch {
	case rueidis.IsRedisNil(err):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("limit: redis: %w", err)
	case len(b) != 8*len(st):
		return st, fmt.Errorf("limit: redis: a counter key holds %d bytes, want %d", len(b), 8*len(st))
	}
	for i := range st {
		st[i] = int64(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
	}
	return st, nil
}

// Peek implements Peeker: Redis's counts while Redis answers, the local
// ones while the breaker is open and on_redis_error is "local".
func (l *Resilient) Peek(ctx context.Context, req Request, now time.Time) (rate, quota Usage, err error) {
	if l.open.Load() && l.onError == ModeLocal {
		return l.local.Peek(ctx, req, now)
	}
	return l.redis.Peek(ctx, req, now)
}
