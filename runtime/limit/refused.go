package limit

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cuegate/cuegate/compiler/table"
)

// refusals remembers the requests a rate limit refused, by rate key, until
// their RetryAfter. Its refusals take at most max bytes, each accounted as
// refusalBytes; safe for concurrent use.
type refusals struct {
	mu    sync.Mutex
	m     map[Key]refusal
	max   int64
	bytes int64 // refusalBytes of m's keys, summed
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
	quotaKey Key
	quota    table.Quota
	hasQuota bool
}

func limitsOf(req Request) limits {
	l := limits{rate: *req.Rate, quotaKey: req.QuotaKey}
	if req.Quota != nil {
		l.quota, l.hasQuota = *req.Quota, true
	}
	return l
}

// refusalBytes is what the refusal of k accounts for: its map slot with
// the slack of a map's load factor and growth (twice the key and the
// refusal) and its copy of the identity, rounded up to 16 bytes.
func refusalBytes(k Key) int64 {
	return 2*int64(unsafe.Sizeof(k)+unsafe.Sizeof(refusal{})) + (int64(len(k.Identity))+15)&^15
}

func newRefusals(max int64) *refusals {
	return &refusals{m: make(map[Key]refusal), max: max}
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
	k := req.RateKey
	k.Identity = strings.Clone(k.Identity)
	f := refusal{limits: limitsOf(req), until: now.Add(rate.RetryAfter), zero: now.Add(rate.Reset), quota: quota, at: now}
	if f.limits.quotaKey.Identity == k.Identity {
		f.limits.quotaKey.Identity = k.Identity
	} else {
		f.limits.quotaKey.Identity = strings.Clone(f.limits.quotaKey.Identity)
	}
	size := refusalBytes(k)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		if c.bytes+size > c.max {
			c.makeRoom(size, now)
		}
		if c.bytes+size > c.max {
			return
		}
		c.bytes += size
	}
	c.m[k] = f
	if u := f.until.UnixNano(); u > c.latest.Load() {
		c.latest.Store(u)
	}
}

// makeRoom deletes the refusals that have run out and, when that leaves
// no room for need more bytes, an eighth of the cache at random (map
// iteration starts at a random place), so that a flood of refused
// identities scans the map once per eighth of it, not on each new one. A
// refusal forgotten early costs one call to Redis.
func (c *refusals) makeRoom(need int64, now time.Time) {
	for k, f := range c.m {
		if !now.Before(f.until) {
			c.delete(k)
		}
	}
	for k := range c.m {
		if c.bytes+need <= c.max-c.max/8 {
			return
		}
		c.delete(k)
	}
}

// delete forgets the refusal of k.
func (c *refusals) delete(k Key) {
	delete(c.m, k)
	c.bytes -= refusalBytes(k)
}
