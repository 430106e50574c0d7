package auth

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/cuegate/cuegate/internal/testidp"
)

// entries returns the number of entries sp's index names.
func (sp *spill) entries() int {
	n := 0
	for i := range sp.shards {
		s := &sp.shards[i]
		s.mu.RLock()
		n += len(s.index)
		s.mu.RUnlock()
	}
	return n
}

// TestSpillRing writes entries of one size into a one-shard spill that
// holds four of them: each time, the index names exactly the entries
// still intact, and each reads back as written.
func TestSpillRing(t *testing.T) {
	t.Parallel()
	const size = 1024 - spillHeader // an entry takes a quarter of the shard
	for _, tc := range []struct {
		name string
		keys []int // the payload of key i is i repeated
		want []int // what the spill then holds
	}{
		{"fits", []int{1, 2, 3}, []int{1, 2, 3}},
		{"full", []int{1, 2, 3, 4}, []int{1, 2, 3, 4}},
		{"the oldest is overwritten", []int{1, 2, 3, 4, 5}, []int{2, 3, 4, 5}},
		{"twice around", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []int{7, 8, 9, 10}},
		{"a key written again", []int{1, 2, 1, 3}, []int{1, 2, 3}},
		{"its older copy overwritten leaves the newer", []int{1, 2, 3, 4, 1, 5}, []int{1, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp := newSpill(ringOf(4*1024), 1)
			defer sp.free()
			for _, k := range tc.keys {
				d := digestOf(k)
				sp.put(&d, size, func(b []byte) { fill(b, k) })
			}
			if n := sp.entries(); n != len(tc.want) {
				t.Errorf("index names %d entries, want %d", n, len(tc.want))
			}
			for k := 1; k <= 10; k++ {
				d := digestOf(k)
				var got []byte
				ok := sp.get(&d, func(b []byte) { got = bytes.Clone(b) })
				want := slices.Contains(tc.want, k)
				if ok != want {
					t.Errorf("key %d: held %v, want %v", k, ok, want)
				}
				if ok && (len(got) != size || !bytes.Equal(got, bytes.Repeat([]byte{byte(k)}, size))) {
					t.Errorf("key %d reads back %d bytes, not its payload", k, len(got))
				}
			}
		})
	}
}

// TestSpillSizes: a payload over a quarter of a shard is not stored, nor
// is anything in a shard too small to map; a budget change empties.
func TestSpillSizes(t *testing.T) {
	t.Parallel()
	d := digestOf(1)
	for _, tc := range []struct {
		name   string
		budget int64
		size   int
		held   bool
	}{
		{"a quarter", ringOf(4096), 1024 - spillHeader, true},
		{"over a quarter", ringOf(4096), 1024 - spillHeader + 1, false},
		{"shard too small to map", ringOf(minSpillShard) - 1, 16, false},
		{"no budget", 0, 16, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sp := newSpill(tc.budget, 1)
			defer sp.free()
			sp.put(&d, tc.size, func(b []byte) { fill(b, 1) })
			if got := sp.get(&d, func([]byte) {}); got != tc.held {
				t.Errorf("held %v, want %v", got, tc.held)
			}
		})
	}
	sp := newSpill(ringOf(8192), 1)
	sp.put(&d, 16, func(b []byte) { fill(b, 1) })
	sp.setBudget(ringOf(8192))
	if sp.entries() != 1 {
		t.Error("the same budget emptied the spill")
	}
	sp.setBudget(ringOf(16384))
	if sp.entries() != 0 {
		t.Error("a new budget kept entries")
	}
	sp.put(&d, 16, func(b []byte) { fill(b, 1) })
	sp.free()
	sp.put(&d, 16, func(b []byte) { fill(b, 1) })
	if sp.get(&d, func([]byte) {}) {
		t.Error("a freed spill holds an entry")
	}
}

// TestSpillIndexBound: small entries fill the index before the ring; it
// then names at most its share's worth, the newest.
func TestSpillIndexBound(t *testing.T) {
	t.Parallel()
	sp := newSpill(ringOf(4096), 1)
	defer sp.free()
	max := sp.shards[0].maxEntries
	for k := range 200 {
		d := digestOf(k)
		sp.put(&d, 1, func(b []byte) { fill(b, k) })
		if n := sp.entries(); n > max {
			t.Fatalf("after %d puts the index names %d entries, over its %d", k+1, n, max)
		}
	}
	for k := 200 - max; k < 200; k++ {
		d := digestOf(k)
		if !sp.get(&d, func([]byte) {}) {
			t.Errorf("entry %d of the newest %d is gone", k, max)
		}
	}
}

// ringOf returns the budget of a one-shard spill whose ring is ring bytes.
func ringOf(ring int64) int64 { return ring / ringShare * 5 }

// TestEncodeClaims: claims read back from their encoded form as they were.
func TestEncodeClaims(t *testing.T) {
	t.Parallel()
	p, _, v := readyEnv(t, KeySetsOptions{})
	c := p.claimsAt(now)
	c["scope"] = "read write"
	c["scp"] = []any{"admin", "read"}
	c["realm_access"] = map[string]any{"roles": []any{"a", "b"}}
	c["nbf"], c["iat"] = now.Unix()-10, now.Unix()-20
	for _, key := range []*testidp.Key{&rsaA, &ecA, &edA} {
		tok := []byte(key.Mint(t, c, nil))
		in, err := v.Validate(tok, p.idp(), rulesFor(allAlgs...), now)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, encodedSize(in))
		encodeClaims(b, in)
		out := decodeClaims(b)
		if got, want := fmt.Sprintf("%+v", *out), fmt.Sprintf("%+v", *in); got != want {
			t.Errorf("%s: decoded %s, want %s", in.alg, got, want)
		}
	}
}

func digestOf(k int) tokenDigest { return sha256.Sum256([]byte{byte(k)}) }

func fill(b []byte, k int) {
	for i := range b {
		b[i] = byte(k)
	}
}
