package limit

import (
	"context"
	"fmt"
	"time"

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

// Peek implements Peeker with plain reads (HMGET, TIME) of the keys Take
// writes, on Redis's clock.
func (r *Redis) Peek(ctx context.Context, req Request, _ time.Time) (rate, quota Usage, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	b := r.client.B()
	cmds := []string{"rs", "rp", "rc", "qs", "qc"}
	res := r.client.DoMulti(ctx,
		b.Hmget().Key(r.key(req.RateKey)).Field(cmds[:3]...).Build(),
		b.Hmget().Key(r.key(req.QuotaKey)).Field(cmds[3:]...).Build(),
		b.Time().Build())
	var v [5]int64
	for i, res := range res[:2] {
		vals, err := res.ToArray()
		if err != nil {
			return rate, quota, fmt.Errorf("limit: redis: %w", err)
		}
		for j, val := range vals {
			if n, err := val.AsInt64(); err == nil {
				v[i*3+j] = n
			}
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
	e := entry{rStart: v[0] * us, rPrev: v[1], rCur: v[2], qStart: v[3] * us, qCount: v[4]}
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

// Peek implements Peeker: Redis's counts while Redis answers, the local
// ones while the breaker is open and on_redis_error is "local".
func (l *Resilient) Peek(ctx context.Context, req Request, now time.Time) (rate, quota Usage, err error) {
	if l.open.Load() && l.onError == ModeLocal {
		return l.local.Peek(ctx, req, now)
	}
	return l.redis.Peek(ctx, req, now)
}
