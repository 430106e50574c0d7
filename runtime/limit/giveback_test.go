package limit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// quotaUsed returns the quota r's Redis counts for req, without counting.
func quotaUsed(t *testing.T, r *Redis, req Request) int64 {
	t.Helper()
	_, q, err := r.Peek(context.Background(), req, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return q.Used
}

// TestRedisGivesBackForgottenLeases: a caller that calls every 2 s (each
// call leasing 63 units it does not use) while other identities fill the
// node's lease map has its leases forgotten, ended or at random; their
// units are given back, so its quota counts its requests and the units
// of its last lease at most, as with room for every lease.
func TestRedisGivesBackForgottenLeases(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	quota := table.Quota{Max: 10_000, Period: table.Duration(24 * time.Hour)}
	one := leaseBytes(Key{Identity: "other-10-10", Policy: "p"})
	for _, tc := range []struct {
		name     string
		maxBytes int64
	}{
		{"room for every lease", 0},
		{"room for 20 leases", 20 * one},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var clock at
			r := clocked(NewRedis(srv.Client(t), RedisOptions{KeyPrefix: tc.name + ":", Timeout: 5 * time.Second, MaxLeaseBytes: tc.maxBytes}), &clock)
			rare := Request{QuotaKey: Key{Identity: "rare", Policy: "p"}, Quota: &quota}
			const requests = 10
			for round := range requests {
				at := t0.Add(time.Duration(round) * 2 * time.Second)
				clock.set(at)
				if _, q, err := r.Take(context.Background(), rare, time.Time{}); err != nil || !q.Allowed {
					t.Fatalf("round %d: %+v, %v", round, q, err)
				}
				clock.set(at.Add(1500 * time.Millisecond))
				for i := range 40 {
					other := Request{QuotaKey: Key{Identity: fmt.Sprintf("other-%d-%d", round, i), Policy: "p"}, Quota: &quota}
					if _, _, err := r.Take(context.Background(), other, time.Time{}); err != nil {
						t.Fatal(err)
					}
				}
			}
			most := int64(requests + defaultMaxLease - 1)
			testutil.Eventually(t, fmt.Sprintf("the rare caller's quota used at most %d", most), func() bool {
				return quotaUsed(t, r, rare) <= most
			})
		})
	}
}

// TestResilientGivesBackLeases: opening the breaker drops the Redis
// limiter's leases, so that none is counted from while Redis is away;
// their units left are given back once it answers again.
func TestResilientGivesBackLeases(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	r := NewRedis(srv.Client(t), RedisOptions{Timeout: timeout, LeaseShare: 1})
	l := NewResilient(r, ResilientOptions{Failures: 1, Probe: 100 * time.Millisecond})
	quota := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	leased := Request{QuotaKey: Key{Identity: "alice", Policy: "p"}, Quota: &quota}
	if _, q, err := l.Take(context.Background(), leased, time.Now()); err != nil || !q.Allowed {
		t.Fatalf("%+v, %v", q, err)
	}
	if ls := r.leases.get(leased.QuotaKey); ls == nil || ls.units == 0 {
		t.Fatalf("no lease after the first request: %+v", ls)
	}
	srv.Pause()
	takeBounded(t, l, Request{QuotaKey: Key{Identity: "bob", Policy: "p"}, Quota: &quota})
	srv.Resume()
	if m := l.Mode(); m != ModeLocal {
		t.Fatalf("mode %v after a failed call with Failures 1, want local", m)
	}
	if ls := r.leases.get(leased.QuotaKey); ls != nil {
		t.Errorf("a lease held after the breaker opened: %+v", ls)
	}
	testutil.Eventually(t, "Redis to count again", func() bool {
		takeBounded(t, l, Request{QuotaKey: Key{Identity: "carol", Policy: "p"}, Quota: &quota})
		return l.Mode() == ModeRedis
	})
	testutil.Eventually(t, "alice's lease given back", func() bool { return quotaUsed(t, r, leased) == 1 })
}

// TestRedisGivebackRetried: a give-back that fails (Redis frozen) stays
// queued and is given back once Redis answers a call; one whose windows
// have ended meanwhile is dropped unsent.
func TestRedisGivebackRetried(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	var clock at
	clock.set(t0)
	r := clocked(NewRedis(srv.Client(t), RedisOptions{Timeout: timeout, LeaseShare: 1}), &clock)
	short := table.Quota{Max: 100, Period: table.Duration(time.Minute)}
	long := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	reqs := []Request{
		{QuotaKey: Key{Identity: "short", Policy: "p"}, Quota: &short},
		{QuotaKey: Key{Identity: "long", Policy: "p"}, Quota: &long},
	}
	for _, req := range reqs {
		if _, q, err := r.Take(context.Background(), req, time.Time{}); err != nil || !q.Allowed {
			t.Fatalf("%+v, %v", q, err)
		}
	}
	srv.Pause()
	r.leases.clear()
	testutil.Eventually(t, "the failed pass to end", func() bool { return !r.owed.running.Load() && r.owed.n.Load() == 2 })
	srv.Resume()
	clock.set(t0.Add(2 * time.Minute)) // the short quota's window has ended
	if _, _, err := r.Take(context.Background(), Request{QuotaKey: Key{Identity: "other", Policy: "p"}, Quota: &long}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "the long lease given back", func() bool {
		return !r.owed.running.Load() && r.owed.n.Load() == 0 && quotaUsed(t, r, reqs[1]) == 1
	})
}

// TestGivebacksBounded: give-backs beyond the budget are not queued, and
// their units are counted as dropped.
func TestGivebacksBounded(t *testing.T) {
	t.Parallel()
	k := Key{Identity: "id-0000", Policy: "p"}
	q := newGivebacks(3 * givebackBytes(k))
	dropped := metrics.GetOrCreateCounter(givebacksDroppedMetric)
	before := dropped.Get()
	for i := range 5 {
		q.add(giveback{key: Key{Identity: fmt.Sprintf("id-%04d", i), Policy: "p"}, units: 10, until: t0.Add(time.Second)}, t0)
	}
	q.add(giveback{key: k, units: 7, until: t0}, t0) // its windows have ended: not owed
	if n := len(q.takeAll()); n != 3 {
		t.Errorf("%d queued, want 3", n)
	}
	if d := dropped.Get() - before; d < 20 {
		t.Errorf("%d units counted as dropped, want at least 20", d)
	}
}

// TestLeasesForgetRunOutFirst: making room forgets the leases run out
// (nothing to give back) before those with units, but for one being
// refilled; every lease forgotten (made room for, replaced, cleared) is
// passed on.
func TestLeasesForgetRunOutFirst(t *testing.T) {
	t.Parallel()
	var forgotten []string
	c := newLeases(16*leaseBytes(Key{Identity: "id-00", Policy: "p"}), func(k Key, _ *lease) { forgotten = append(forgotten, k.Identity) })
	runOut := []string{"id-03", "id-07", "id-11"} // an eighth of the map and one for the new lease
	for i := range 16 {
		l := &lease{units: 2, end: t0.Add(time.Hour)}
		id := fmt.Sprintf("id-%02d", i)
		if slices.Contains(runOut, id) || id == "id-05" {
			l.taken.Store(2)
		}
		if id == "id-05" {
			l.startRefill()
		}
		c.put(Key{Identity: id, Policy: "p"}, l, t0)
	}
	c.put(Key{Identity: "id-16", Policy: "p"}, &lease{units: 2, end: t0.Add(time.Hour)}, t0)
	slices.Sort(forgotten)
	if !slices.Equal(forgotten, runOut) {
		t.Errorf("forgot %q, want the leases run out, %q", forgotten, runOut)
	}
	c.put(Key{Identity: "id-00", Policy: "p"}, &lease{units: 2, end: t0.Add(time.Hour)}, t0)
	c.clear()
	if want := len(runOut) + 1 + 14; len(forgotten) != want {
		t.Errorf("forgot %d leases, want %d: those run out, the one replaced, then the 14 held", len(forgotten), want)
	}
}

// TestGivebackRunsAtMostOnce: a give-back whose answer is lost may have
// run, so it is not sent again (which would take its units off twice, and
// let the nodes together pass the limit): its units are counted as
// dropped.
func TestGivebackRunsAtMostOnce(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	var swallow atomic.Bool // then the answers to the give-backs are lost
	proxy := testutil.Proxy(t, srv.Addr(), func(chunk []byte) testutil.ProxyAction {
		if swallow.Load() && bytes.Contains(bytes.ToUpper(chunk), []byte("EVALSHA")) {
			return testutil.Mute
		}
		return testutil.Pass
	})
	r := NewRedis(testutil.RedisClient(t, proxy), RedisOptions{KeyPrefix: "once:", Timeout: timeout, LeaseShare: 1})
	other := NewRedis(srv.Client(t), RedisOptions{KeyPrefix: "once:", Timeout: 5 * time.Second, MaxLease: 1})
	quota := table.Quota{Max: 1000, Period: table.Duration(time.Hour)}
	alice := Request{QuotaKey: Key{Identity: "alice", Policy: "p"}, Quota: &quota}
	for range 10 {
		if _, q, err := r.Take(context.Background(), alice, time.Time{}); err != nil || !q.Allowed {
			t.Fatalf("%+v, %v", q, err)
		}
	}
	for range 200 {
		if _, q, err := other.Take(context.Background(), alice, time.Time{}); err != nil || !q.Allowed {
			t.Fatalf("%+v, %v", q, err)
		}
	}
	dropped := metrics.GetOrCreateCounter(givebacksDroppedMetric).Get()
	swallow.Store(true)
	r.leases.clear() // its units are queued, and a pass starts
	testutil.Eventually(t, "the pass to end", func() bool { return !r.owed.running.Load() })
	if n := r.owed.n.Load(); n != 0 {
		t.Errorf("%d give-backs queued again after their answers were lost", n)
	}
	if got := quotaUsed(t, other, alice); got != 210 {
		t.Errorf("alice's quota counts %d after 210 requests", got)
	}
	if d := metrics.GetOrCreateCounter(givebacksDroppedMetric).Get() - dropped; d == 0 {
		t.Error("no units counted as dropped")
	}
}
