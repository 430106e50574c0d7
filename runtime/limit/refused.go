package limit

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cuegate/cuegate/compiler/table"
)

// maxQuotaRefusal bounds how long a quota's refusal is remembered: units
// that other nodes give back (their leases' units left) are seen within
// it, as after a rate's refusal, which is remembered until its
// RetryAfter.
const maxQuotaRefusal = time.Second

// refusals remembers the requests a limit refused, by their rate key
// (keysOf), so that the same key's requests under the same limits are
// refused again without a call to Redis: a rate's refusal until its
// RetryAfter, a quota's until its window ends but at most
// maxQuotaRefusal. Its refusals take at most max bytes, each accounted
// as refusalBytes (see bounded: a refusal forgotten early costs one call
// to Redis); safe for concurrent use.
type refusals struct {
	mu sync.Mutex
	bounded[refusal]
	// latest is the latest until of any refusal put (Unix ns): past it,
	// none holds, and get and drop answer without the lock.
	latest atomic.Int64
}

// refusal is one refused request: its limits, what the call saw of its
// keys, whether each limit allowed it, and until when the refusal holds
// (this node's clock).
type refusal struct {
	limits          limits
	seen            snapshot
	rateOK, quotaOK bool
	until           time.Time
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

// get returns the decisions Memory makes for req at now when its key was
// refused under the same limits and the refusal holds (and, with a
// quota, its window has not ended): the state the refusing call saw,
// moved on to now.
func (c *refusals) get(req Request, now time.Time) (rate, quota Decision, ok bool) {
	if now.UnixNano() >= c.latest.Load() {
		return rate, quota, false
	}
	k, _ := keysOf(req)
	c.mu.Lock()
	f, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !now.Before(f.until) || f.limits != limitsOf(req) || f.limits.hasQuota && f.seen.quotaEnded(now) {
		return rate, quota, false
	}
	rate, quota = f.seen.decide(&f.limits, 0, f.rateOK, f.quotaOK, now)
	return rate, quota, true
}

// put remembers req, decided at seen.at by a call that saw seen, when a
// limit refused it; else it forgets the refusals of req's keys, whose
// state the call may have changed. The refusal keeps copies of the
// identity, not the request's strings (parts of a token's claims).
func (c *refusals) put(req Request, rate, quota Decision, seen snapshot) {
	now := seen.at
	var until time.Time
	switch {
	case req.Rate != nil && !rate.Allowed:
		until = now.Add(rate.RetryAfter)
	case req.Quota != nil && !quota.Allowed:
		until = now.Add(min(quota.RetryAfter, maxQuotaRefusal))
	default:
		c.drop(req, now)
		return
	}
	rk, _ := keysOf(req)
	k, lim := owned(rk, limitsOf(req))
	f := refusal{limits: lim, seen: seen, rateOK: rate.Allowed, quotaOK: quota.Allowed, until: until}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.bounded.put(k, f, now) {
		return
	}
	if u := until.UnixNano(); u > c.latest.Load() {
		c.latest.Store(u)
	}
}

// drop forgets the refusals held at now under req's keys.
func (c *refusals) drop(req Request, now time.Time) {
	if now.UnixNano() >= c.latest.Load() {
		return
	}
	rk, qk := keysOf(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range []Key{rk, qk} {
		if f, ok := c.m[k]; ok {
			c.bounded.delete(k, f)
		}
	}
}
