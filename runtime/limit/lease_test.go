package limit

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// leaseFrom makes the lease of units that a call at t0 would have made
// after m counted req: Memory's state, its windows' earlier end.
func leaseFrom(m *Memory, req Request, units int64) *lease {
	k, lim, _ := leaseOf(req)
	e := m.entry(k)
	l := &lease{limits: lim, units: units, snapshot: snapshot{at: t0, server: t0.UnixNano(), state: e}}
	end := int64(math.MaxInt64)
	if req.Rate != nil {
		l.per = int64(req.Rate.Per)
		end = e.rStart + l.per
	}
	if req.Quota != nil {
		end = min(end, e.qEnd)
	}
	l.end = time.Unix(0, end)
	return l
}

// TestLeaseTake: a lease made at t0 answers as Memory does for the
// requests it counts, until its units run out or a window ends.
func TestLeaseTake(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	rate, quota := perSecond(10), table.Quota{Max: 6, Period: table.Duration(time.Minute)}
	k := Key{Identity: "alice", Policy: "p"}
	cases := []struct {
		name   string
		req    Request
		before []time.Duration // counted by Memory (through Redis) before t0
		units  int64
		takes  []time.Duration
		want   []bool
	}{
		{"rate: units run out", Request{RateKey: k, Rate: &rate}, nil, 3,
			[]time.Duration{0, 100 * ms, 200 * ms, 300 * ms}, []bool{true, true, true, false}},
		{"rate: ends with its window", Request{RateKey: k, Rate: &rate}, nil, 5,
			[]time.Duration{0, 999 * ms, time.Second}, []bool{true, true, false}},
		{"rate: previous window weighs less and less", Request{RateKey: k, Rate: &rate}, []time.Duration{-1500 * ms, -1400 * ms, -1300 * ms, -1200 * ms, -1100 * ms, -1000 * ms}, 4,
			[]time.Duration{0, 100 * ms, 400 * ms, 450 * ms, 460 * ms}, []bool{true, true, true, true, false}},
		{"quota: ends with its window", Request{QuotaKey: k, Quota: &quota}, []time.Duration{-30 * time.Second}, 3,
			[]time.Duration{10 * time.Second, 30*time.Second - 1, 30 * time.Second}, []bool{true, true, false}},
		{"both: the earlier window", Request{RateKey: k, Rate: &rate, QuotaKey: k, Quota: &quota}, []time.Duration{-59500 * ms}, 4,
			[]time.Duration{100 * ms, 400 * ms, 499 * ms, 500 * ms}, []bool{true, true, true, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := NewMemory(MemoryOptions{})
			for _, at := range tc.before {
				m.Count(tc.req, t0.Add(at))
			}
			m.Count(tc.req, t0) // the request that made the lease
			l := leaseFrom(m, tc.req, tc.units)
			for i, at := range tc.takes {
				now := t0.Add(at)
				lr, lq, ok := l.take(now)
				if ok != tc.want[i] {
					t.Fatalf("take %d at %v: ok %v, want %v", i, at, ok, tc.want[i])
				}
				if !ok {
					continue
				}
				mr, mq := m.Count(tc.req, now)
				if lr != mr || lq != mq {
					t.Fatalf("take %d at %v:\nlease  rate %+v quota %+v\nmemory rate %+v quota %+v", i, at, lr, lq, mr, mq)
				}
			}
		})
	}
}

// TestLeaseConcurrent: goroutines taking from one lease while another
// claims what is left take every unit once, and no more than there are.
func TestLeaseConcurrent(t *testing.T) {
	t.Parallel()
	rate := perSecond(1 << 40)
	req := Request{RateKey: Key{Identity: "alice", Policy: "p"}, Rate: &rate}
	for range 50 {
		m := NewMemory(MemoryOptions{})
		m.Count(req, t0)
		l := leaseFrom(m, req, 1000)
		var taken, rest atomic.Int64
		seen := make([]atomic.Bool, 1002)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				if g == 7 {
					rest.Add(l.rest())
					return
				}
				for {
					d, _, ok := l.take(t0)
					if !ok {
						return
					}
					taken.Add(1)
					if used := rate.Requests - d.Remaining; seen[used].Swap(true) {
						t.Errorf("unit %d taken twice", used)
					}
				}
			})
		}
		wg.Wait()
		if got := taken.Load() + rest.Load(); got != 1000 {
			t.Fatalf("%d taken + %d claimed, want 1000", taken.Load(), rest.Load())
		}
		if n := l.rest(); n != 0 || l.taken.Load() != l.units {
			t.Fatalf("after: %d left, %d taken of %d", n, l.taken.Load(), l.units)
		}
	}
}

// leaseStep is one request of TestRedisLeases: when, and against which
// limits.
type leaseStep struct {
	at  time.Duration
	req *Request
}

// TestRedisLeases runs sequences against Memory and against Redis with
// leases on one clock: the decisions are the same, and leases spare calls.
func TestRedisLeases(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	loadScript(t, srv)
	k := Key{Issuer: "https://idp.example/", Identity: "alice", Policy: "p"}
	quota300 := table.Quota{Max: 300, Period: table.Duration(time.Hour)}
	quota100 := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	rate, big := perSecond(1000), table.Quota{Max: 1 << 40, Period: table.Duration(time.Hour)}
	onlyQuota := func(q *table.Quota) *Request { return &Request{QuotaKey: k, Quota: q} }
	both := &Request{RateKey: k, Rate: &rate, QuotaKey: k, Quota: &big}
	every := func(n int, step time.Duration, req *Request) []leaseStep {
		s := make([]leaseStep, n)
		for i := range s {
			s[i] = leaseStep{at: time.Duration(i) * step, req: req}
		}
		return s
	}
	cases := []struct {
		name      string
		nodes     int
		steps     []leaseStep
		maxCalls  int64
		allowedOK func(int) bool
	}{
		// Leases of 64, 64, 64, 54, 27, 13, 7, 3, 2, 1, 1, then a refusal.
		{"quota of 300, one node", 1, every(301, time.Microsecond, onlyQuota(&quota300)), 12, func(n int) bool { return n == 300 }},
		// room / 6: 50, 41, 34, ... down to 1 unit a call.
		{"quota of 300, three nodes", 3, every(301, time.Microsecond, onlyQuota(&quota300)), 40, func(n int) bool { return n == 300 }},
		// 3,000 requests over 6 s against 1,000 a second: leases end with
		// each window.
		{"rate and quota", 1, every(3000, 2*time.Millisecond, both), 100, func(n int) bool { return n == 3000 }},
		// 10 units of the first lease are used, the other 54 given back.
		{"a table swap changes the quota", 1, append(every(10, time.Millisecond, onlyQuota(&quota300)), every(91, time.Millisecond, onlyQuota(&quota100))...), 16, func(n int) bool { return n == 100 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{})
			var clock at
			r := clocked(NewRedis(srv.Client(t), RedisOptions{KeyPrefix: tc.name + ":", Timeout: 5 * time.Second, LeaseShare: 1, Nodes: func() int { return tc.nodes }}), &clock)
			before := serverStats(t, srv)
			allowed := 0
			for i, st := range tc.steps {
				now := t0.Add(st.at)
				clock.set(now)
				mr, mq := m.Count(*st.req, now)
				rr, rq, err := r.Take(context.Background(), *st.req, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if rr != mr || rq != mq {
					t.Fatalf("step %d at %v:\nredis  rate %+v quota %+v\nmemory rate %+v quota %+v", i, st.at, rr, rq, mr, mq)
				}
				if (st.req.Rate == nil || rr.Allowed) && rq.Allowed {
					allowed++
				}
			}
			calls := serverStats(t, srv).evals - before.evals
			if calls > tc.maxCalls || !tc.allowedOK(allowed) {
				t.Errorf("%d allowed in %d calls for %d requests; want at most %d calls", allowed, calls, len(tc.steps), tc.maxCalls)
			}
		})
	}
}

// TestRedisLeaseMargin: no lease is made that would not outlive the
// timeout before its window ends; each request then calls Redis.
func TestRedisLeaseMargin(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	r := NewRedis(srv.Client(t), RedisOptions{Timeout: 2 * time.Second, LeaseShare: 1})
	rate := perSecond(1000)
	req := Request{RateKey: Key{Identity: "alice", Policy: "p"}, Rate: &rate}
	loadScript(t, srv)
	before := serverStats(t, srv)
	for range 20 {
		if d, _, err := r.Take(context.Background(), req, time.Now()); err != nil || !d.Allowed {
			t.Fatalf("%+v, %v", d, err)
		}
	}
	if calls := serverStats(t, srv).evals - before.evals; calls != 20 {
		t.Errorf("%d calls for 20 requests in windows of 1 s under a timeout of 2 s, want 20", calls)
	}
}

// TestRedisLeasesAcrossNodes: three nodes of 16 goroutines each take a
// quota of 1,000 with leases until refused: exactly 1,000 pass, in far
// fewer calls than requests.
func TestRedisLeasesAcrossNodes(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	three := func() int { return 3 }
	var nodes []*Redis
	for range 3 {
		nodes = append(nodes, NewRedis(srv.Client(t), RedisOptions{Timeout: 5 * time.Second, Nodes: three, LeaseShare: 1}))
	}
	quota := table.Quota{Max: 1000, Period: table.Duration(time.Hour)}
	rate := table.Rate{Requests: 1 << 40, Per: table.Duration(time.Hour)} // windows that outlive the timeout
	k := Key{Identity: "shared", Policy: "p"}
	req := Request{RateKey: k, Rate: &rate, QuotaKey: k, Quota: &quota}
	loadScript(t, srv)
	before := serverStats(t, srv)
	var passed atomic.Int64
	var wg sync.WaitGroup
	for g := range 48 {
		wg.Go(func() {
			for {
				_, q, err := nodes[g%3].Take(context.Background(), req, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if !q.Allowed {
					return
				}
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	calls := serverStats(t, srv).evals - before.evals
	if got := passed.Load(); got != 1000 {
		t.Errorf("%d passed against a quota of 1000 on three nodes", got)
	}
	t.Logf("%d calls", calls)
	if calls > 500 {
		t.Errorf("%d calls for 1000 requests passed, want leases to spare most", calls)
	}
}

// loadScript has srv load the script, so that the calls counted after
// are one each (no NOSCRIPT, then EVAL).
func loadScript(t *testing.T, srv *testutil.Redis) {
	t.Helper()
	r := NewRedis(srv.Client(t), RedisOptions{Timeout: 5 * time.Second, MaxLease: 1})
	rate := perSecond(1)
	if _, _, err := r.Take(context.Background(), Request{RateKey: Key{Identity: "load"}, Rate: &rate}, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseSize: a lease holds at most MaxLease units and at most a
// LeaseShare-th of the smaller of its limits, and always its request.
func TestLeaseSize(t *testing.T) {
	t.Parallel()
	rate := func(n int64) *table.Rate { return &table.Rate{Requests: n, Per: table.Duration(time.Second)} }
	quota := func(n int64) *table.Quota { return &table.Quota{Max: n, Period: table.Duration(time.Hour)} }
	for _, tc := range []struct {
		name  string
		share int
		req   Request
		want  int
	}{
		{"large limits: MaxLease", 0, Request{Rate: rate(1e9), Quota: quota(1e9)}, 64},
		{"a sixty-fourth of the quota", 0, Request{Quota: quota(640)}, 10},
		{"the smaller limit counts", 0, Request{Rate: rate(6400), Quota: quota(128)}, 2},
		{"a small limit: one unit, a call a request", 0, Request{Rate: rate(100)}, 1},
		{"share 1: the whole limit", 1, Request{Quota: quota(10)}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRedis(nil, RedisOptions{LeaseShare: tc.share})
			if got := r.leaseSize(tc.req); got != tc.want {
				t.Errorf("leaseSize = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestLeaseNoUnitLost: one node, many goroutines on one key, nothing
// refused: every unit Redis counted was passed or is left in the node's
// lease. A lease replaced in the map while it held units loses them.
func TestLeaseNoUnitLost(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	r := NewRedis(srv.Client(t), RedisOptions{KeyPrefix: "orph:", Timeout: 5 * time.Second, LeaseShare: 1, MaxLease: 8})
	probe := NewRedis(srv.Client(t), RedisOptions{KeyPrefix: "orph:", Timeout: 5 * time.Second, MaxLease: 1})
	quota := table.Quota{Max: 1 << 30, Period: table.Duration(time.Hour)}
	k := Key{Identity: "hot", Policy: "p"}
	req := Request{QuotaKey: k, Quota: &quota}
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 256 {
		wg.Go(func() {
			for range 200 {
				_, q, err := r.Take(context.Background(), req, time.Now())
				if err != nil || !q.Allowed {
					t.Errorf("%+v %v", q, err)
					return
				}
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	left := int64(0)
	if l := r.leases.get(k); l != nil {
		left = l.units - l.taken.Load()
	}
	_, q, err := probe.Take(context.Background(), req, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	counted := quota.Max - q.Remaining - 1
	t.Logf("passed %d, counted in Redis %d, left in the current lease %d", passed.Load(), counted, left)
	if lost := counted - passed.Load() - left; lost != 0 {
		t.Errorf("%d units counted in Redis were neither passed nor held: orphaned leases", lost)
	}
}

// TestLeaseOutlivedByClockStep: Redis's clock steps ahead into the next
// quota window while a node holds a lease made in the one before; the
// lease ends by maxLeaseAge, so the node does not spend its units in the
// new window beside the other nodes.
func TestLeaseOutlivedByClockStep(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	two := func() int { return 2 }
	var ca, cb at
	a := clocked(NewRedis(srv.Client(t), RedisOptions{KeyPrefix: "skew:", Timeout: 5 * time.Second, LeaseShare: 1, Nodes: two}), &ca)
	b := clocked(NewRedis(srv.Client(t), RedisOptions{KeyPrefix: "skew:", Timeout: 5 * time.Second, MaxLease: 1, Nodes: two}), &cb)
	quota := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	req := Request{QuotaKey: Key{Identity: "alice", Policy: "p"}, Quota: &quota}
	take := func(r *Redis) bool {
		_, q, err := r.Take(context.Background(), req, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return q.Allowed
	}
	ca.set(t0)
	if !take(a) { // leases 24 more units
		t.Fatal("refused")
	}
	// Real time: t0 + 1h − 1s. A's clock says so; Redis's clock, stepped
	// 2 s ahead, is past the window's end.
	ca.set(t0.Add(time.Hour - time.Second))
	cb.set(t0.Add(time.Hour + time.Second))
	passed := 0
	for take(b) {
		passed++
	}
	for take(a) {
		passed++
	}
	t.Logf("%d passed in the window Redis began at t0+1h+1s (quota %d)", passed, quota.Max)
	if passed > int(quota.Max) {
		t.Errorf("%d passed within one quota window of %d", passed, quota.Max)
	}
}
