package limit

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func perSecond(n int64) compiler.Rate {
	return compiler.Rate{Requests: n, Per: compiler.Duration(time.Second)}
}

// offer sends rps requests per second to k for d starting at start and
// returns how many were allowed.
func offer(m *Memory, k Key, r compiler.Rate, start time.Time, rps int, d time.Duration) int {
	n := int(d.Seconds() * float64(rps))
	step := time.Second / time.Duration(rps)
	allowed := 0
	for i := range n {
		if m.Rate(k, r, start.Add(time.Duration(i)*step)).Allowed {
			allowed++
		}
	}
	return allowed
}

// TestRateAccuracy offers 300 req/s for 5 s against 100 req/s.
//
// The burst is the rate itself (100), so a fresh key first passes the full
// burst of 100 and then 100 per second: 100 + 5 s × 100/s = 600 over the
// first 5 s (at 300 req/s offered the burst is spent in the first third of a
// second, while the bucket keeps refilling). Once the burst is spent, a 5 s
// stretch passes 5 × 100 = 500. Both are checked to ±5%; the GCRA is exact to
// one request here.
func TestRateAccuracy(t *testing.T) {
	r := perSecond(100)
	tests := []struct {
		name   string
		warmup time.Duration // offered 300 req/s before counting
		want   int
	}{
		{"fresh bucket: burst 100 + 5s at 100/s", 0, 600},
		{"burst already spent: 5s at 100/s", 2 * time.Second, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemory(MemoryOptions{})
			k := Key{"alice", "gold"}
			offer(m, k, r, t0, 300, tt.warmup)
			got := offer(m, k, r, t0.Add(tt.warmup), 300, 5*time.Second)
			lo, hi := tt.want*95/100, tt.want*105/100
			if got < lo || got > hi {
				t.Fatalf("allowed %d of 1500, want %d ± 5%% [%d, %d]", got, tt.want, lo, hi)
			}
			if d := got - tt.want; d < -1 || d > 1 {
				t.Errorf("allowed %d, want %d ± 1 (GCRA should be exact)", got, tt.want)
			}
		})
	}
}

func TestRateDecision(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	k := Key{"bob", "silver"}
	r := compiler.Rate{Requests: 2, Per: compiler.Duration(time.Second)}
	steps := []struct {
		at         time.Duration
		allowed    bool
		remaining  int64
		reset      time.Duration
		retryAfter time.Duration
	}{
		{0, true, 1, 500 * time.Millisecond, 0},
		{0, true, 0, time.Second, 0},
		{0, false, 0, time.Second, 500 * time.Millisecond},
		{200 * time.Millisecond, false, 0, 800 * time.Millisecond, 300 * time.Millisecond},
		{500 * time.Millisecond, true, 0, time.Second, 0},
		{2 * time.Second, true, 1, 500 * time.Millisecond, 0},
	}
	for i, s := range steps {
		d := m.Rate(k, r, t0.Add(s.at))
		want := Decision{Allowed: s.allowed, Limit: 2, Remaining: s.remaining, Reset: s.reset, RetryAfter: s.retryAfter}
		if d != want {
			t.Errorf("step %d at %v: got %+v, want %+v", i, s.at, d, want)
		}
	}
	// Another identity, and the same identity under another policy, have
	// their own buckets.
	for _, other := range []Key{{"carol", "silver"}, {"bob", "gold"}} {
		if d := m.Rate(other, r, t0); !d.Allowed || d.Remaining != 1 {
			t.Errorf("%v: got %+v, want a fresh bucket", other, d)
		}
	}
}

func TestQuota(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	k := Key{"dave", "gold"}
	q := compiler.Quota{Max: 3, Period: compiler.Duration(time.Hour)}
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
		d := m.Quota(k, q, start.Add(s.at))
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
	m := NewMemory(MemoryOptions{})
	if d := m.Rate(Key{"a", "p"}, compiler.Rate{}, t0); d.Allowed {
		t.Errorf("zero rate allowed: %+v", d)
	}
	if d := m.Quota(Key{"a", "p"}, compiler.Quota{}, t0); d.Allowed {
		t.Errorf("zero quota allowed: %+v", d)
	}
}

func TestIdleEviction(t *testing.T) {
	m := NewMemory(MemoryOptions{Shards: 1, IdleAfter: time.Minute})
	r := perSecond(10)
	q := compiler.Quota{Max: 100, Period: compiler.Duration(time.Hour)}
	m.Rate(Key{"rate-only", "p"}, r, t0)
	m.Quota(Key{"quota", "p"}, q, t0)
	// Long after the idle time, the next call sweeps: the rate-only key is
	// gone, the key inside its quota window is kept (forgetting it would
	// hand out a fresh quota).
	m.Rate(Key{"new", "p"}, r, t0.Add(10*time.Minute))
	if got := m.Len(); got != 2 {
		t.Fatalf("after sweep %d keys, want 2 (quota and new)", got)
	}
	if d := m.Quota(Key{"quota", "p"}, q, t0.Add(10*time.Minute)); d.Remaining != 98 {
		t.Errorf("quota key lost its count: %+v", d)
	}
	m.Rate(Key{"new", "p"}, r, t0.Add(2*time.Hour))
	if got := m.Len(); got != 1 {
		t.Errorf("after the quota window ended %d keys, want 1", got)
	}
}

func TestMaxKeysBounded(t *testing.T) {
	m := NewMemory(MemoryOptions{Shards: 4, MaxKeys: 100, IdleAfter: time.Hour})
	r := perSecond(10)
	for i := range 10_000 {
		m.Rate(Key{fmt.Sprint("id", i), "p"}, r, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if got := m.Len(); got > 100 {
		t.Errorf("%d keys held, want at most 100", got)
	}
}

func TestConcurrent(t *testing.T) {
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
				if m.Rate(Key{"shared", "p"}, r, t0).Allowed {
					n++
				}
				m.Quota(Key{fmt.Sprint("g", g), "p"}, compiler.Quota{Max: 10, Period: compiler.Duration(time.Hour)}, t0.Add(time.Duration(i)))
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if allowed != 1000 {
		t.Errorf("allowed %d of 4000 at one instant, want the burst of 1000", allowed)
	}
}

func TestNoAllocs(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	k := Key{"alice", "gold"}
	r := perSecond(100)
	q := compiler.Quota{Max: 1 << 40, Period: compiler.Duration(time.Hour)}
	m.Rate(k, r, t0)
	m.Quota(k, q, t0)
	now := t0
	if a := testing.AllocsPerRun(1000, func() {
		now = now.Add(time.Millisecond)
		m.Rate(k, r, now)
		m.Quota(k, q, now)
	}); a != 0 {
		t.Errorf("%v allocs per Rate+Quota on an existing key, want 0", a)
	}
}

func BenchmarkRate(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	k := Key{"alice", "gold"}
	r := perSecond(1_000_000)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		m.Rate(k, r, now)
	}
}

func BenchmarkQuota(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	k := Key{"alice", "gold"}
	q := compiler.Quota{Max: 1 << 60, Period: compiler.Duration(time.Hour)}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		m.Quota(k, q, now)
	}
}

// BenchmarkRateParallel spreads 1,000 identities over all goroutines.
func BenchmarkRateParallel(b *testing.B) {
	m := NewMemory(MemoryOptions{})
	keys := make([]Key, 1000)
	for i := range keys {
		keys[i] = Key{fmt.Sprint("id", i), "gold"}
	}
	r := perSecond(1_000_000)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Rate(keys[i%len(keys)], r, t0.Add(time.Duration(i)))
			i++
		}
	})
}
