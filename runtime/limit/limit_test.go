package limit

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func perSecond(n int64) table.Rate {
	return table.Rate{Requests: n, Per: table.Duration(time.Second)}
}

// rateOf and quotaOf count a request against one limit alone.
func rateOf(m *Memory, k Key, r table.Rate, now time.Time) Decision {
	d, _ := m.Count(Request{RateKey: k, Rate: &r}, now)
	return d
}

func quotaOf(m *Memory, k Key, q table.Quota, now time.Time) Decision {
	_, d := m.Count(Request{QuotaKey: k, Quota: &q}, now)
	return d
}

// offer sends rps requests per second to k for d starting at start and
// returns how many were allowed.
func offer(m *Memory, k Key, r table.Rate, start time.Time, rps int, d time.Duration) int {
	n := int(d.Seconds() * float64(rps))
	step := time.Second / time.Duration(rps)
	allowed := 0
	for i := range n {
		if rateOf(m, k, r, start.Add(time.Duration(i)*step)).Allowed {
			allowed++
		}
	}
	return allowed
}

// TestRateAccuracy offers 300 req/s for 5 s against 100 req/s: about 500
// pass whether the identity is fresh or has been at its limit for a while,
// and wherever its first request falls within a second (its windows start
// with it). A fresh identity passes 496: 100 in its first window, then 99 a
// window, as the last request of a window (at 299/300 of it) still sees a
// sliver of the previous window's 100, and est is never rounded down. The
// arithmetic is exact, so the counts are pinned as well as checked to ±5%.
func TestRateAccuracy(t *testing.T) {
	t.Parallel()
	r := perSecond(100)
	tests := []struct {
		name   string
		start  time.Duration // offset of the first request from t0
		warmup time.Duration // offered 300 req/s before counting
		want   int
	}{
		{"fresh identity", 0, 0, 496},
		{"fresh identity, first request mid-second", 437 * time.Millisecond, 0, 496},
		{"steady state: 2s at the limit first", 0, 2 * time.Second, 495},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{})
			k := Key{Identity: "alice", Policy: "gold"}
			start := t0.Add(tt.start)
			offer(m, k, r, start, 300, tt.warmup)
			got := offer(m, k, r, start.Add(tt.warmup), 300, 5*time.Second)
			if lo, hi := 500*95/100, 500*105/100; got < lo || got > hi {
				t.Fatalf("allowed %d of 1500, want 500 ± 5%% [%d, %d]", got, lo, hi)
			}
			if got != tt.want {
				t.Errorf("allowed %d, want exactly %d", got, tt.want)
			}
		})
	}
}

// TestRateDecision walks 4 per second through both windows; est is the
// estimate before each request.
func TestRateDecision(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	k := Key{Identity: "bob", Policy: "silver"}
	r := table.Rate{Requests: 4, Per: table.Duration(time.Second)}
	ms := time.Millisecond
	steps := []struct {
		at         time.Duration
		allowed    bool
		remaining  int64
		reset      time.Duration
		retryAfter time.Duration
	}{
		// Window [0, 1s): prev 0.
		{0, true, 3, 2 * time.Second, 0},
		{0, true, 2, 2 * time.Second, 0},
		{0, true, 1, 2 * time.Second, 0},
		{0, true, 0, 2 * time.Second, 0},
		// est 4: not in this window; in the next one 4×(1−x) + 1 <= 4 at
		// x = 250ms.
		{0, false, 0, 2 * time.Second, 1250 * ms},
		{500 * ms, false, 0, 1500 * ms, 750 * ms},
		// Window [1s, 2s): prev 4. est = 4×0.75 = 3.
		{1250 * ms, true, 0, 1750 * ms, 0},
		// est 4: 4×(1−x) + 1 + 1 <= 4 at x = 500ms.
		{1250 * ms, false, 0, 1750 * ms, 250 * ms},
		{1500 * ms, true, 0, 1500 * ms, 0}, // est 2 + 1
		// est 4×0.4 + 2 = 3.6, floor(4 − 3.6 − 1) = 0.
		{1900 * ms, true, 0, 1100 * ms, 0},
		// est 3.6 + 1: not in this window; at 2s est = 3.
		{1900 * ms, false, 0, 1100 * ms, 100 * ms},
		// Window [2s, 3s): prev 3, est 3 (the one refused at 1.9s was not
		// counted).
		{2 * time.Second, true, 0, 2 * time.Second, 0},
		// est 3×0.1 + 1 = 1.3: floor(4 − 2.3) = 1 left.
		{2900 * ms, true, 1, 1100 * ms, 0},
		// Both windows over: a fresh start.
		{5 * time.Second, true, 3, 2 * time.Second, 0},
		{5 * time.Second, true, 2, 2 * time.Second, 0},
		{5 * time.Second, true, 1, 2 * time.Second, 0},
		// Window [6s, 7s): prev 3; est = 3 × 0.666666667 = 2.000000001, so
		// floor(4 − 3.000000001) = 0 remain, and the next call must wait
		// until est <= 2: at 333333334ns, 1ns later.
		{6*time.Second + 333_333_333, true, 0, 1_666_666_667, 0},
		{6*time.Second + 333_333_333, false, 0, 1_666_666_667, 1},
		{6*time.Second + 333_333_334, true, 0, 1_666_666_666, 0},
	}
	for i, s := range steps {
		d := rateOf(m, k, r, t0.Add(s.at))
		want := Decision{Allowed: s.allowed, Limit: 4, Remaining: s.remaining, Reset: s.reset, RetryAfter: s.retryAfter}
		if d != want {
			t.Errorf("step %d at %v: got %+v, want %+v", i, s.at, d, want)
		}
	}
}

// TestRateDemo is the quick-start's 5 requests per 10 s: 5 quick calls pass,
// the 6th is refused until RetryAfter, and a call then passes.
func TestRateDemo(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	k := Key{Identity: "demo-client", Policy: "quickstart"}
	r := table.Rate{Requests: 5, Per: table.Duration(10 * time.Second)}
	at := t0
	for i := range 5 {
		if d := rateOf(m, k, r, at); !d.Allowed || d.Remaining != int64(4-i) {
			t.Fatalf("call %d: %+v, want allowed with %d remaining", i+1, d, 4-i)
		}
		at = at.Add(100 * time.Millisecond)
	}
	d := rateOf(m, k, r, at)
	// At 0.5s: in the next window 5×(1−x/10s) + 1 <= 5 at x = 2s.
	if want := (Decision{Limit: 5, Reset: 19500 * time.Millisecond, RetryAfter: 11500 * time.Millisecond}); d != want {
		t.Fatalf("6th call: %+v, want %+v", d, want)
	}
	if d := rateOf(m, k, r, at.Add(d.RetryAfter-1)); d.Allowed {
		t.Fatalf("allowed 1ns before RetryAfter: %+v", d)
	}
	if d := rateOf(m, k, r, at.Add(d.RetryAfter)); !d.Allowed {
		t.Fatalf("refused at RetryAfter: %+v", d)
	}
}

// TestRateKeysIndependent: another identity, the same identity under
// another policy, and the same identity value from another issuer have
// their own counters.
func TestRateKeysIndependent(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	r := table.Rate{Requests: 2, Per: table.Duration(time.Minute)}
	spent := Key{Identity: "bob", Policy: "silver"}
	rateOf(m, spent, r, t0)
	rateOf(m, spent, r, t0)
	if d := rateOf(m, spent, r, t0); d.Allowed {
		t.Fatalf("third call allowed: %+v", d)
	}
	for _, k := range []Key{{Identity: "carol", Policy: "silver"}, {Identity: "bob", Policy: "gold"}, {Issuer: "https://other.example/", Identity: "bob", Policy: "silver"}} {
		if d := rateOf(m, k, r, t0); !d.Allowed || d.Remaining != 1 {
			t.Errorf("%v: got %+v, want a fresh counter", k, d)
		}
	}
}

// TestRateDecisionsAgree checks, for random limits and arrivals, that the
// fields of every Decision agree with later decisions: a refused request is
// refused 1ns before RetryAfter and allowed at it; after an allowed one,
// exactly Remaining more pass at the same instant; at Reset the estimate is
// zero (Requests−1 remain after one more).
func TestRateDecisionsAgree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		m := NewMemory(MemoryOptions{})
		k := Key{Identity: fmt.Sprint("id", trial), Policy: "p"}
		n := 1 + rng.Int64N(12)
		per := time.Duration(1 + rng.Int64N(int64(10*time.Second)))
		r := table.Rate{Requests: n, Per: table.Duration(per)}
		at := t0
		for range 300 {
			at = at.Add(time.Duration(rng.Int64N(int64(per) / n * 2)))
			d := rateOf(m, k, r, at)
			if d.Limit != n || d.Reset <= 0 || d.Remaining < 0 {
				t.Fatalf("trial %d (%d per %v) at %v: %+v", trial, n, per, at.Sub(t0), d)
			}
			switch {
			case !d.Allowed:
				if d.RetryAfter <= 0 || d.RetryAfter >= 2*per || d.Remaining != 0 {
					t.Fatalf("trial %d (%d per %v) at %v: refused with %+v", trial, n, per, at.Sub(t0), d)
				}
				if e := rateOf(m, k, r, at.Add(d.RetryAfter-1)); e.Allowed {
					t.Fatalf("trial %d (%d per %v) at %v: %+v, but allowed 1ns early", trial, n, per, at.Sub(t0), d)
				}
				at = at.Add(d.RetryAfter)
				if e := rateOf(m, k, r, at); !e.Allowed {
					t.Fatalf("trial %d (%d per %v): refused at RetryAfter %v: %+v", trial, n, per, d.RetryAfter, e)
				}
			case rng.IntN(8) == 0:
				for i := range d.Remaining {
					if e := rateOf(m, k, r, at); !e.Allowed || e.Remaining != d.Remaining-1-i {
						t.Fatalf("trial %d (%d per %v): after %+v, call %d at the same instant: %+v", trial, n, per, d, i, e)
					}
				}
				if e := rateOf(m, k, r, at); e.Allowed {
					t.Fatalf("trial %d (%d per %v): more than Remaining %d passed", trial, n, per, d.Remaining)
				}
			case rng.IntN(8) == 0:
				at = at.Add(d.Reset)
				if e := rateOf(m, k, r, at); !e.Allowed || e.Remaining != n-1 {
					t.Fatalf("trial %d (%d per %v): at Reset %v after %+v: %+v", trial, n, per, d.Reset, d, e)
				}
			}
		}
	}
}

func TestQuota(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	k := Key{Identity: "dave", Policy: "gold"}
	q := table.Quota{Max: 3, Period: table.Duration(time.Hour)}
	start := t0.Add(10 * time.Minute)
	steps := []struct {
		at        time.Duration
		allowed   bool
		remaining int64
		reset     time.Duration
	}{
		{0, true, 2, time.Hour},
		{time.Minute, true, 1, 59 * time.Minute},
		{2 * time.Minute, true, 0, 58 * time.Minute},
		{3 * time.Minute, false, 0, 57 * time.Minute},
		{59 * time.Minute, false, 0, time.Minute},
		{time.Hour, true, 2, time.Hour}, // a new window starts
		{time.Hour + time.Second, true, 1, time.Hour - time.Second},
	}
	for i, s := range steps {
		d := quotaOf(m, k, q, start.Add(s.at))
		want := Decision{Allowed: s.allowed, Limit: 3, Remaining: s.remaining, Reset: s.reset}
		if !s.allowed {
			want.RetryAfter = s.reset
		}
		if d != want {
			t.Errorf("step %d at %v: got %+v, want %+v", i, s.at, d, want)
		}
	}
}

func TestInvalidLimitsRefuse(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	if d := rateOf(m, Key{Identity: "a", Policy: "p"}, table.Rate{}, t0); d.Allowed {
		t.Errorf("zero rate allowed: %+v", d)
	}
	if d := quotaOf(m, Key{Identity: "a", Policy: "p"}, table.Quota{}, t0); d.Allowed {
		t.Errorf("zero quota allowed: %+v", d)
	}
}

func TestIdleEviction(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{Shards: 1, IdleAfter: time.Minute})
	r := perSecond(10)
	q := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	hourly := table.Rate{Requests: 2, Per: table.Duration(time.Hour)}
	rateOf(m, Key{Identity: "rate-only", Policy: "p"}, r, t0)
	rateOf(m, Key{Identity: "hourly", Policy: "p"}, hourly, t0)
	quotaOf(m, Key{Identity: "quota", Policy: "p"}, q, t0)
	// Long after the idle time, the next call sweeps: the rate-only key is
	// gone, the keys inside their rate or quota windows are kept
	// (forgetting them would hand out fresh counts).
	rateOf(m, Key{Identity: "new", Policy: "p"}, r, t0.Add(10*time.Minute))
	if got := m.Len(); got != 3 {
		t.Fatalf("after sweep %d keys, want 3 (hourly, quota and new)", got)
	}
	if d := quotaOf(m, Key{Identity: "quota", Policy: "p"}, q, t0.Add(10*time.Minute)); d.Remaining != 98 {
		t.Errorf("quota key lost its count: %+v", d)
	}
	if d := rateOf(m, Key{Identity: "hourly", Policy: "p"}, hourly, t0.Add(10*time.Minute)); d.Remaining != 0 {
		t.Errorf("hourly rate key lost its count: %+v", d)
	}
	// Both hourly windows and the quota window end at 2h.
	rateOf(m, Key{Identity: "new", Policy: "p"}, r, t0.Add(2*time.Hour))
	if got := m.Len(); got != 1 {
		t.Errorf("after the rate and quota windows ended %d keys, want 1", got)
	}
}

// A full shard makes room for a Take's second key without evicting its
// first: with one key per shard, the rate key's count must survive the
// quota key's arrival.
func TestTakeEvictionKeepsFirstKey(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{Shards: 1, MaxBytes: keyBytes(Key{Identity: "alice", Policy: "p"}), IdleAfter: time.Hour})
	r := perSecond(2)
	q := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
	req := Request{RateKey: Key{Identity: "alice", Policy: "p"}, Rate: &r, QuotaKey: Key{Identity: "alice", Policy: "q"}, Quota: &q}
	for i := range 3 {
		if rd, _ := m.Count(req, t0); rd.Allowed != (i < 2) {
			t.Fatalf("request %d: rate %+v, want the third refused (2 a second)", i, rd)
		}
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{Shards: 4})
	r := perSecond(1000)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := range 500 {
				if rateOf(m, Key{Identity: "shared", Policy: "p"}, r, t0).Allowed {
					n++
				}
				quotaOf(m, Key{Identity: fmt.Sprint("g", g), Policy: "p"}, table.Quota{Max: 10, Period: table.Duration(time.Hour)}, t0.Add(time.Duration(i)))
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if allowed != 1000 {
		t.Errorf("allowed %d of 4000 at one instant, want the limit of 1000", allowed)
	}
}

// TestNoAllocs is not parallel: AllocsPerRun counts the whole process.
func TestNoAllocs(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	r := perSecond(100)
	q := table.Quota{Max: 1 << 40, Period: table.Duration(time.Hour)}
	for _, tt := range []struct {
		name string
		req  Request
	}{
		{"one policy", Request{RateKey: Key{Identity: "alice", Policy: "gold"}, Rate: &r, QuotaKey: Key{Identity: "alice", Policy: "gold"}, Quota: &q}},
		{"two policies", Request{RateKey: Key{Identity: "alice", Policy: "gold"}, Rate: &r, QuotaKey: Key{Identity: "alice", Policy: "silver"}, Quota: &q}},
	} {
		now := t0
		m.Count(tt.req, now)
		if a := testing.AllocsPerRun(1000, func() {
			now = now.Add(time.Millisecond)
			m.Count(tt.req, now)
		}); a != 0 {
			t.Errorf("%s: %v allocs per Take on existing keys, want 0", tt.name, a)
		}
	}
}

// TestTakeCountsInBothOrNeither: a request one limit refuses is counted
// in neither, whether the two limits share a key (one policy) or not.
func TestTakeCountsInBothOrNeither(t *testing.T) {
	t.Parallel()
	for _, sameKey := range []bool{true, false} {
		m := NewMemory(MemoryOptions{})
		r := perSecond(5)
		q := table.Quota{Max: 3, Period: table.Duration(time.Hour)}
		req := Request{RateKey: Key{Identity: "alice", Policy: "p"}, Rate: &r, QuotaKey: Key{Identity: "alice", Policy: "p"}, Quota: &q}
		if !sameKey {
			req.QuotaKey = Key{Identity: "alice", Policy: "q"}
		}
		// Three pass; the quota refuses the fourth and fifth, which must not
		// use up the rate: two more fit in the same second once the quota
		// is lifted.
		for i := range 5 {
			rd, qd := m.Count(req, t0)
			if pass := i < 3; !rd.Allowed || qd.Allowed != pass {
				t.Fatalf("same key %v, request %d: rate %+v quota %+v", sameKey, i, rd, qd)
			}
			if want := int64(5 - min(i+1, 3)); rd.Remaining != want {
				t.Errorf("same key %v, request %d: rate remaining %d, want %d", sameKey, i, rd.Remaining, want)
			}
		}
		more := table.Quota{Max: 100, Period: table.Duration(time.Hour)}
		req.Quota = &more
		for i := range 3 {
			rd, qd := m.Count(req, t0)
			if pass := i < 2; rd.Allowed != pass || (pass && qd.Remaining != int64(100-4-i)) {
				t.Fatalf("same key %v, after the quota: request %d: rate %+v quota %+v", sameKey, i, rd, qd)
			}
		}
		// The rate refused the last one: the quota did not count it.
		if _, qd := m.Count(Request{QuotaKey: req.QuotaKey, Quota: &more}, t0); qd.Remaining != 100-6 {
			t.Errorf("same key %v: quota remaining %d after 5 counted, want %d", sameKey, qd.Remaining, 100-6)
		}
	}
}

// TestTakeTwoKeysNoDeadlock: Takes whose rate and quota keys fall in
// different shards, in both orders at once, finish.
func TestTakeTwoKeysNoDeadlock(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{Shards: 2})
	r := perSecond(1 << 40)
	q := table.Quota{Max: 1 << 40, Period: table.Duration(time.Hour)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				a, b := Key{Identity: fmt.Sprint("id", i%7), Policy: "x"}, Key{Identity: fmt.Sprint("id", i%5), Policy: "y"}
				if g%2 == 1 {
					a, b = b, a
				}
				m.Count(Request{RateKey: a, Rate: &r, QuotaKey: b, Quota: &q}, t0)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkTake counts on one existing key: a rate alone, a quota alone,
// and both of one policy (the gateway's usual call).
func BenchmarkTake(b *testing.B) {
	k := Key{Identity: "alice", Policy: "gold"}
	r := perSecond(1_000_000)
	q := table.Quota{Max: 1 << 60, Period: table.Duration(time.Hour)}
	for _, bc := range []struct {
		name string
		req  Request
	}{
		{"rate", Request{RateKey: k, Rate: &r}},
		{"quota", Request{QuotaKey: k, Quota: &q}},
		{"both", Request{RateKey: k, Rate: &r, QuotaKey: k, Quota: &q}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := NewMemory(MemoryOptions{})
			now := t0
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(time.Microsecond)
				m.Count(bc.req, now)
			}
		})
	}
}

// BenchmarkRateParallel spreads 1,000 identities over all goroutines.
func BenchmarkRateParallel(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	keys := make([]Key, 1000)
	for i := range keys {
		keys[i] = Key{Identity: fmt.Sprint("id", i), Policy: "gold"}
	}
	r := perSecond(1_000_000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			rateOf(m, keys[i%len(keys)], r, t0.Add(time.Duration(i)))
			i++
		}
	})
}
