package limit

import (
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

// seedLocal gives the local fallback, as the breaker opens at now, the
// quota this node last saw used under each key it holds a lease or a
// refusal of (so at most what MaxLeaseBytes and MaxRefusedBytes hold):
// such a key's local share is what its quota had left, shared among the
// live nodes, not a share of the whole quota afresh. Keys this node holds
// nothing of start from zero. It runs before the leases are cleared
// (clearing claims their units).
func (l *Resilient) seedLocal(now time.Time) {
	n := int64(max(l.nodes(), 1))
	ls := l.redis.leases
	ls.mu.Lock()
	for _, le := range ls.m {
		l.seedQuota(&le.snapshot, le.limits, le.taken.Load(), n, now)
	}
	ls.mu.Unlock()
	rs := l.redis.refused
	rs.mu.Lock()
	for _, f := range rs.m {
		l.seedQuota(&f.seen, f.limits, 0, n, now)
	}
	rs.mu.Unlock()
}

// seedQuota seeds the local count of lim's quota key from s, which saw
// its window with taken more units used since, for n live nodes.
func (l *Resilient) seedQuota(s *snapshot, lim limits, taken, n int64, now time.Time) {
	q := lim.quota
	if !lim.hasQuota || s.quotaEnded(now) {
		return
	}
	left := max(q.Max-s.state.qCount-taken, 0)
	used := ceilDiv(q.Max, n) - ceilDiv(left, n) // of the local share
	if used <= 0 {
		return
	}
	start := s.at.Add(time.Duration(s.state.qStart - s.server))
	l.local.seedQuota(lim.quotaKey, q, start, used, now)
}

// seedQuota counts used requests of q under k in the window that began
// at start, unless k has counted more in a window current at now.
func (m *Memory) seedQuota(k Key, q table.Quota, start time.Time, used int64, now time.Time) {
	i := m.shardIndex(k)
	m.lockPair(i, i)
	defer m.unlockPair(i, i)
	t := now.UnixNano()
	e := m.load(&m.shards[i], k, t, nil)
	if e.qStart == 0 || t >= e.qEnd {
		e.qStart, e.qEnd, e.qCount = start.UnixNano(), start.UnixNano()+int64(q.Period), 0
	}
	e.qCount = max(e.qCount, used)
}
