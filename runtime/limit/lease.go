package limit

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// defaultMaxLease is RedisOptions.MaxLease's default.
const defaultMaxLease = 64

// maxLeaseAge bounds how long a lease is used after its call: a lease's
// end is Redis's clock taken onto this node's once, so a step of either
// clock, or drift, could otherwise let its units outlive their window;
// and its Remaining, which does not see what other nodes count, is at
// most this old.
const maxLeaseAge = time.Second

// lease is units of one key's limits that Redis counted ahead of this
// node's requests: they are taken by requests with the same limits until
// they run out or the lease ends. Taking is safe for concurrent use; no
// unit is taken twice.
type lease struct {
	limits limits
	units  int64        // counted beyond the request that made the lease
	taken  atomic.Int64 // units taken (or claimed by rest): at most units
	// refill is set, while it runs, by the one call that may make the
	// lease's successor once its units run out, and closed when it is
	// done: the node's requests that miss meanwhile wait for it rather
	// than each call Redis.
	refill atomic.Pointer[chan struct{}]
	// dry is set when a refill made no lease (the room was too small):
	// the requests that miss then call Redis rather than wait for the next
	// one.
	dry atomic.Bool
	// end is this node's clock when the lease stops being used.
	end time.Time
	snapshot
}

// take takes one unit at now and returns the decisions Memory makes for
// a request counted at that instant, with the units taken so far counted
// and the others not; ok is false when none is left or the lease ended.
// The rate allows it: the estimate only falls within a window, and the
// unit was within the limits when Redis counted it.
func (l *lease) take(now time.Time) (rate, quota Decision, ok bool) {
	if !now.Before(l.end) {
		return rate, quota, false
	}
	var k int64
	for {
		k = l.taken.Load()
		if k >= l.units {
			return rate, quota, false
		}
		if l.taken.CompareAndSwap(k, k+1) {
			k++
			break
		}
	}
	rate, quota = l.decide(&l.limits, k, true, true, now)
	return rate, quota, true
}

// startRefill takes the lease's refill, when no call holds it.
func (l *lease) startRefill() bool {
	if l.refill.Load() != nil {
		return false
	}
	done := make(chan struct{})
	return l.refill.CompareAndSwap(nil, &done)
}

// endRefill releases the refill the caller holds (once its successor, if
// any, is in place) and wakes those waiting for it.
func (l *lease) endRefill() {
	close(*l.refill.Swap(nil))
}

// rest claims the units not taken, so that none is taken after, and
// returns how many they are.
func (l *lease) rest() int64 {
	return max(l.units-l.taken.Swap(l.units), 0)
}

// leases holds this node's leases, one a key, within a budget of bytes
// (see bounded), each accounted as leaseBytes; safe for concurrent use.
// When a new one does not fit, the leases ended or run out go first. A
// lease forgotten (to make room, by clear, or replaced by put) is passed
// to forgotten, with the lock held, which gives its units left back.
type leases struct {
	mu sync.Mutex
	bounded[*lease]
}

func newLeases(max int64, forgotten func(Key, *lease)) *leases {
	c := &leases{bounded: newBounded(max, leaseBytes, (*lease).over)}
	c.bounded.forgotten = forgotten
	return c
}

// over reports whether l is of no more use at now: ended, or run out
// (nothing to give back when forgotten), and no call is making its
// successor (the requests waiting for it would each call Redis).
func (l *lease) over(now time.Time) bool {
	return (!now.Before(l.end) || l.taken.Load() >= l.units) && l.refill.Load() == nil
}

// leaseBytes is what the lease of k accounts for (see entryBytes): a
// pointer to the lease.
func leaseBytes(k Key) int64 {
	return entryBytes(k, unsafe.Sizeof(&lease{}), unsafe.Sizeof(lease{}))
}

// hold returns k's lease; when there is none, it holds an empty one with
// lim, its refill taken (held is true), so that the requests that miss
// meanwhile wait for the call that reserves one.
func (c *leases) hold(k Key, lim limits, now time.Time) (l *lease, held bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.m[k]; l != nil {
		return l, false
	}
	l = &lease{}
	k, l.limits = owned(k, lim)
	l.startRefill()
	c.bounded.put(k, l, now)
	return l, true
}

// get returns k's lease, nil when there is none.
func (c *leases) get(k Key) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

// put holds l as k's lease from now, in place of the one before, which
// is forgotten. It keeps copies of the identity, not the request's
// strings.
func (c *leases) put(k Key, l *lease, now time.Time) {
	k, l.limits = owned(k, l.limits)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[k]; old != nil && old != l {
		c.bounded.forgotten(k, old)
	}
	c.bounded.put(k, l, now)
}

// clear forgets every lease.
func (c *leases) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bounded.clear()
}

// owned returns copies of k and l that share one copy of k's identity
// (l's quota key holds the same one, or another copied apart), so that
// neither keeps a request's strings (parts of a token's claims) alive.
func owned(k Key, l limits) (Key, limits) {
	k.Identity = strings.Clone(k.Identity)
	if l.quotaKey.Identity == k.Identity {
		l.quotaKey.Identity = k.Identity
	} else {
		l.quotaKey.Identity = strings.Clone(l.quotaKey.Identity)
	}
	return k, l
}

// leaseSize is the most units a lease for req may hold, its request
// included: at least 1. LeaseShare keeps the units a lease holds (counted
// as used in Redis, as the portal's usage shows them, and lost when its
// node stops) a small part of any limit.
func (r *Redis) leaseSize(req Request) int {
	limit := int64(r.maxLease) * r.share
	if req.Rate != nil {
		limit = min(limit, req.Rate.Requests)
	}
	if req.Quota != nil {
		limit = min(limit, req.Quota.Max)
	}
	return int(max(limit/r.share, 1))
}
