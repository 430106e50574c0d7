package limit

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cuegate/cuegate/compiler/table"
)

// refusals remembers the requests a rate limit refused, by rate key, until
// their RetryAfter. Its refusals take at most max bytes, each accounted as
// refusalBytes (see bounded: a refusal forgotten early costs one call to
// Redis); safe for concurrent use.
type refusals struct {
	mu sync.Mutex
	bounded[refusal]
	// latest is the latest until of any refusal put (Unix ns): past it,
	// none holds, and get answers without the lock.
	latest atomic.Int64
}

// refusal is one refused request: its limits, when the rate allows again
// (until) and its estimate is zero (zero), and its quota decision at at.
type refusal struct {
	limits limits
	until  time.Time
	zero   time.Time
	quota  Decision
	at     time.Time
}

// limits is what a Request counts against, as a comparable value.
type limits struct {
	rate     table.Rate
	hasRate  bool
	quotaKey Key
	quota    table.Quota
	hasQuota bool
}

func limitsOf(req Request) limits {
	l := limits{quotaKey: req.QuotaKey}
	if req.Rate != nil {
		l.rate, l.hasRate = *req.Rate, true
	}
	if req.Quota != nil {
		l.quota, l.hasQuota = *req.Quota, true
	}
	return l
}

// refusalBytes is what the refusal of k accounts for (see entryBytes):
// the refusal, held in the map's slot.
func refusalBytes(k Key) int64 {
	return entryBytes(k, unsafe.Sizeof(refusal{}), 0)
}

func newRefusals(max int64) *refusals {
	return &refusals{bounded: newBounded(max, refusalBytes, func(f refusal, now time.Time) bool { return !now.Before(f.until) })}
}

// get returns the decisions for req at now when its rate key was refused
// under the same limits and its RetryAfter has not passed (nor, with a
// quota, its quota window ended).
func (c *refusals) get(req Request, now time.Time) (rate, quota Decision, ok bool) {
	if req.Rate == nil || now.UnixNano() >= c.latest.Load() {
		return rate, quota, false
	}
	c.mu.Lock()
	f, ok := c.m[req.RateKey]
	c.mu.Unlock()
	if !ok || !now.Before(f.until) || f.limits != limitsOf(req) {
		return rate, quota, false
	}
	rate = Decision{Limit: f.limits.rate.Requests, Reset: f.zero.Sub(now), RetryAfter: f.until.Sub(now)}
	if f.limits.hasQuota {
		elapsed := now.Sub(f.at)
		if elapsed >= f.quota.Reset {
			return Decision{}, Decision{}, false
		}
		quota = f.quota
		quota.Reset -= elapsed
		if !quota.Allowed {
			quota.RetryAfter -= elapsed
		}
	}
	return rate, quota, true
}

// put remembers req, refused by its rate at now with these decisions. The
// refusal keeps copies of the identity, not the request's strings (parts
// of a token's claims).
func (c *refusals) put(req Request, rate, quota Decision, now time.Time) {
	k, lim := owned(req.RateKey, limitsOf(req))
	f := refusal{limits: lim, until: now.Add(rate.RetryAfter), zero: now.Add(rate.Reset), quota: quota, at: now}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.bounded.put(k, f, now) {
		return
	}
	if u := f.until.UnixNano(); u > c.latest.Load() {
		c.latest.Store(u)
	}
}
