package limit

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// held returns the identities m counts, sorted, checking each shard's
// accounting against its keys and its part of the budget.
func (m *Memory) held(t *testing.T) []string {
	t.Helper()
	var out []string
	for i := range m.shards {
		s := &m.shards[i]
		var sum int64
		for k := range s.m {
			sum += keyBytes(k)
			out = append(out, k.Identity)
		}
		if sum != s.bytes {
			t.Fatalf("shard %d accounts %d bytes, its keys take %d", i, s.bytes, sum)
		}
		if s.bytes > m.perShard && len(s.m) > 1 { // a key larger than the part is held alone
			t.Fatalf("shard %d holds %d bytes, over its %d", i, s.bytes, m.perShard)
		}
	}
	slices.Sort(out)
	return out
}

// TestMemoryBytesBounded: however many identities arrive, the counters
// stay within MaxBytes.
func TestMemoryBytesBounded(t *testing.T) {
	t.Parallel()
	const budget = 64 << 10
	m := NewMemory(MemoryOptions{Shards: 4, MaxBytes: budget, IdleAfter: time.Hour})
	r := perSecond(10)
	for i := range 10_000 {
		id := fmt.Sprintf("id-%d-%s", i, strings.Repeat("x", i%200))
		rateOf(m, Key{Identity: id, Policy: "p"}, r, t0.Add(time.Duration(i)*time.Millisecond))
	}
	n := len(m.held(t))
	if n == 0 || n > budget/int(keyBytes(Key{})) {
		t.Errorf("%d keys held in %d bytes", n, budget)
	}
}

// TestMemoryEviction: which counters go when a new key does not fit. One
// shard of fewer than 8 keys, so the sample is all of it.
func TestMemoryEviction(t *testing.T) {
	t.Parallel()
	r := perSecond(10)
	one := keyBytes(Key{Identity: "a", Policy: "p"})
	for _, tc := range []struct {
		name   string
		budget int64 // bytes
		ids    []string
		want   []string
	}{
		{"fits", 3 * one, []string{"a", "b", "c", "a"}, []string{"a", "b", "c"}},
		{"the least recently used goes", 3 * one, []string{"a", "b", "c", "a", "d"}, []string{"a", "c", "d"}},
		{"as many as a larger key needs", 3 * one, []string{"a", "b", "c", strings.Repeat("d", 300)}, []string{strings.Repeat("d", 300)}},
		{"a key larger than the shard is held alone", 1, []string{"a", "b"}, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := NewMemory(MemoryOptions{Shards: 1, MaxBytes: tc.budget, IdleAfter: time.Hour})
			for i, id := range tc.ids {
				rateOf(m, Key{Identity: id, Policy: "p"}, r, t0.Add(time.Duration(i)*time.Second))
			}
			if got := m.held(t); !slices.Equal(got, tc.want) {
				t.Errorf("holds %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMemoryKeepsNoPartOfTheRequest: a counter's identity is a copy, not
// the caller's string (a part of a token's claims, which it would keep
// alive).
func TestMemoryKeepsNoPartOfTheRequest(t *testing.T) {
	t.Parallel()
	m := NewMemory(MemoryOptions{})
	claims := "sub=alice;" + strings.Repeat("x", 1000)
	id := claims[4:9]
	rateOf(m, Key{Identity: id, Policy: "p"}, perSecond(1), t0)
	for k := range m.shards[m.shardIndex(Key{Identity: id})].m {
		if k.Identity != id || unsafe.StringData(k.Identity) == unsafe.StringData(id) {
			t.Errorf("the counter keeps %q at %p, the caller's string is at %p", k.Identity, unsafe.StringData(k.Identity), unsafe.StringData(id))
		}
	}
}

// TestCachesBytesBounded: the refusals and the leases stay within their
// budget, and those run out go first.
func TestCachesBytesBounded(t *testing.T) {
	t.Parallel()
	r := perSecond(1)
	refused := Decision{Limit: 1, Reset: time.Second, RetryAfter: time.Second}
	t.Run("refusals", func(t *testing.T) {
		t.Parallel()
		checkBoundedBytes(t, refusalBytes, func(max int64) (*bounded[refusal], func(string, time.Time)) {
			c := newRefusals(max)
			return &c.bounded, func(id string, at time.Time) {
				c.put(Request{RateKey: Key{Identity: id, Policy: "p"}, Rate: &r}, refused, Decision{}, snapshot{at: at})
			}
		})
	})
	t.Run("leases", func(t *testing.T) {
		t.Parallel()
		checkBoundedBytes(t, leaseBytes, func(max int64) (*bounded[*lease], func(string, time.Time)) {
			c := newLeases(max, func(Key, *lease) {})
			return &c.bounded, func(id string, at time.Time) {
				c.put(Key{Identity: id, Policy: "p"}, &lease{units: 1, end: at.Add(time.Second)}, at)
			}
		})
	})
}

// checkBoundedBytes puts 1,000 entries, each running out a second after
// it is put, into a cache of a hundred entries' bytes, checking its
// accounting; then, into one of three, a fourth once the others have run
// out: it alone is kept.
func checkBoundedBytes[V any](t *testing.T, size func(Key) int64, newCache func(max int64) (*bounded[V], func(id string, at time.Time))) {
	one := size(Key{Identity: "id-0000", Policy: "p"})
	b, put := newCache(100 * one)
	for i := range 1000 {
		put(fmt.Sprintf("id-%04d", i), t0)
		var sum int64
		for k := range b.m {
			sum += size(k)
		}
		if sum != b.bytes || b.bytes > b.max {
			t.Fatalf("after %d entries: %d bytes accounted, keys take %d, budget %d", i+1, b.bytes, sum, b.max)
		}
	}
	b, put = newCache(3 * one)
	for _, id := range []string{"id-0001", "id-0002", "id-0003"} {
		put(id, t0)
	}
	put("id-late", t0.Add(2*time.Second))
	if _, ok := b.m[Key{Identity: "id-late", Policy: "p"}]; !ok || len(b.m) != 1 {
		t.Errorf("%d entries held after the others ran out, want the new one alone", len(b.m))
	}
}
