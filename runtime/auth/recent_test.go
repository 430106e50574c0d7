package auth

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// accounted returns the bytes r says its entries take, checking them
// against its entries and its budget. r must be quiescent.
func (r *recentTable) accounted(t *testing.T) int64 {
	t.Helper()
	var sum int64
	for i := range r.slots {
		if e := r.slots[i].Load(); e != nil {
			if want := recentCharge(len(e.token), e.claims); e.charge != want {
				t.Fatalf("slot %d charges %d bytes, its entry takes %d", i, e.charge, want)
			}
			sum += e.charge
		}
	}
	if got := r.bytes.Load(); got != sum {
		t.Fatalf("the memo accounts %d bytes, its entries take %d", got, sum)
	}
	if sum > r.budget || r.budget > r.total {
		t.Fatalf("the memo holds %d bytes, over its %d (of %d)", sum, r.budget, r.total)
	}
	return sum
}

// subClaims returns claims whose sub is sub.
func subClaims(sub string) *Claims {
	blob, idx, _, _ := pack(jwt.MapClaims{"sub": sub})
	return &Claims{blob: blob, idx: idx}
}

// oneSlot returns a memo of budget bytes with a single slot.
func oneSlot(budget int64) *recentTable {
	r := newRecentTable(budget)
	r.slots, r.mask = r.slots[:1], 0
	return r
}

// putHeld puts c for token until the memo holds it, or gives up after
// as many tries as make a displacement all but certain.
func (r *recentTable) putHeld(token string, c *Claims) {
	for range 50 * replaceOneIn {
		if r.put([]byte(token), c); r.get([]byte(token)) == c {
			return
		}
	}
}

// sub returns the sub of the claims r holds for token, or "" for none.
func (r *recentTable) sub(token string) string {
	c := r.get([]byte(token))
	if c == nil {
		return ""
	}
	s, _ := c.String("sub")
	return s
}

// TestRecentTable: what a memo answers after a sequence of puts. A budget
// under 2 KiB buys one slot, so every token shares it.
func TestRecentTable(t *testing.T) {
	t.Parallel()
	long := string(bytes.Repeat([]byte("x"), maxRecentToken+1))
	type put struct{ token, sub string }
	for _, tc := range []struct {
		name   string
		budget int64
		puts   []put
		want   map[string]string // token: its sub, "" for a miss
	}{
		{"empty", 1 << 10, nil, map[string]string{"a": ""}},
		{"hit", 1 << 10, []put{{"a", "alice"}}, map[string]string{"a": "alice", "b": ""}},
		{"replacement in the one slot", 1 << 10, []put{{"a", "alice"}, {"b", "bob"}}, map[string]string{"a": "", "b": "bob"}},
		{"the same token again", 1 << 10, []put{{"a", "alice"}, {"a", "ann"}}, map[string]string{"a": "ann"}},
		{"a prefix misses", 1 << 10, []put{{"ab", "alice"}}, map[string]string{"a": "", "abc": "", "ab": "alice"}},
		{"a token over the bound is not held", 64 << 10, []put{{long, "alice"}}, map[string]string{long: ""}},
		{"an entry over the budget is not held", 1 << 10, []put{{string(bytes.Repeat([]byte("y"), 900)), "alice"}}, map[string]string{string(bytes.Repeat([]byte("y"), 900)): ""}},
		{"no slot under 1 KiB", 1<<10 - 1, []put{{"a", "alice"}}, map[string]string{"a": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRecentTable(tc.budget)
			for _, p := range tc.puts {
				r.putHeld(p.token, subClaims(p.sub))
			}
			for tok, want := range tc.want {
				if got := r.sub(tok); got != want {
					t.Errorf("token %.8q… of %d bytes: sub %q, want %q", tok, len(tok), got, want)
				}
			}
			if r != nil {
				r.accounted(t)
			}
		})
	}
}

// TestRecentSlotsCapped: a memo's slots stop growing with its budget at
// maxRecentSlots.
func TestRecentSlotsCapped(t *testing.T) {
	t.Parallel()
	if n := len(newRecentTable(1 << 40).slots); n != maxRecentSlots {
		t.Errorf("%d slots for a budget of 1 TiB, want %d", n, maxRecentSlots)
	}
}

// TestRecentDropsExpired: a memoised token refused as expired leaves the
// memo.
func TestRecentDropsExpired(t *testing.T) {
	t.Parallel()
	p, _, v := readyEnv(t, KeySetsOptions{})
	tok := p.token(t, rsaA)
	if _, err := v.Validate(tok, p.idp(), rulesFor("RS256"), now); err != nil {
		t.Fatal(err)
	}
	_, err := v.Validate(tok, p.idp(), rulesFor("RS256"), now.Add(24*time.Hour))
	wantErr(t, err, 401, "token expired")
	if v.recent.Load().get(tok) != nil {
		t.Error("the memo still holds an expired token")
	}
}

// TestRecentDisplacement: two tokens sharing a slot, put in turn, displace
// each other now and then, not on every put.
func TestRecentDisplacement(t *testing.T) {
	t.Parallel()
	r := oneSlot(8 << 10)
	toks := [][]byte{[]byte("a"), []byte("b")}
	const puts = 100 * replaceOneIn
	changes := 0
	for i := range puts {
		tok := toks[i%2]
		held := r.get(tok) != nil
		r.put(tok, subClaims("alice"))
		if !held && r.get(tok) != nil {
			changes++
		}
	}
	if changes == 0 || changes > puts/2 {
		t.Errorf("%d puts displaced the other token %d times, want about %d", puts, changes, puts/replaceOneIn)
	}
}

// TestRecentOneByteOff: a token that differs from a held one in one byte,
// in any part, or by one byte of length, misses, even in the same slot.
func TestRecentOneByteOff(t *testing.T) {
	t.Parallel()
	p, _, _ := readyEnv(t, KeySetsOptions{})
	tok := p.token(t, rsaA)
	dot1 := bytes.IndexByte(tok, '.')
	dot2 := dot1 + 1 + bytes.IndexByte(tok[dot1+1:], '.')
	flip := func(i int) func([]byte) []byte {
		return func(b []byte) []byte { b[i] ^= 1; return b }
	}
	for _, tc := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"header, first byte", flip(0)},
		{"header, last byte", flip(dot1 - 1)},
		{"first separator", flip(dot1)},
		{"payload, first byte", flip(dot1 + 1)},
		{"payload, middle", flip((dot1 + dot2) / 2)},
		{"second separator", flip(dot2)},
		{"signature, first byte", flip(dot2 + 1)},
		{"signature, last byte", flip(len(tok) - 1)},
		{"one byte shorter", func(b []byte) []byte { return b[:len(b)-1] }},
		{"one byte longer", func(b []byte) []byte { return append(b, 'A') }},
		{"one byte longer in front", func(b []byte) []byte { return append([]byte{'A'}, b...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			other := tc.edit(bytes.Clone(tok))
			for _, r := range []*recentTable{oneSlot(8 << 10), newRecentTable(1 << 20)} {
				r.put(tok, subClaims("alice"))
				if r.sub(string(tok)) != "alice" || r.sub(string(other)) != "" {
					t.Errorf("%d slots: the token hits %v, the other %v", len(r.slots), r.get(tok) != nil, r.get(other) != nil)
				}
			}
		})
	}
}

// distinctTokens returns n valid tokens of p, each with its own sub.
func (p *provider) distinctTokens(t testing.TB, n int) [][]byte {
	toks := make([][]byte, n)
	for i := range toks {
		c := p.claimsAt(now)
		c["sub"] = fmt.Sprintf("client-%06d", i)
		toks[i] = []byte(edA.Mint(t, c, nil))
	}
	return toks
}

// TestRecentBudget: many distinct tokens keep the memo within its share of
// the cache's budget, and so does shrinking that budget.
func TestRecentBudget(t *testing.T) {
	t.Parallel()
	p, k, _ := readyEnv(t, KeySetsOptions{})
	idp, rules := p.idp(), rulesFor("EdDSA")
	v := NewValidator(k, 1<<20)
	toks := p.distinctTokens(t, 400)
	fill := func(budget int64) {
		t.Helper()
		for _, tok := range toks {
			if _, err := v.Validate(tok, idp, rules, now); err != nil {
				t.Fatal(err)
			}
		}
		r := v.recent.Load()
		if want, _, _ := splitBudget(budget); r.total != want {
			t.Fatalf("the memo's budget is %d, want %d", r.total, want)
		}
		if held := r.accounted(t); held < r.budget/2 {
			t.Errorf("%d tokens filled a memo of %d bytes with %d", len(toks), r.budget, held)
		}
	}
	fill(1 << 20)
	before := v.recent.Load()
	v.SetCacheBytes(1<<20, now)
	if v.recent.Load() != before {
		t.Error("an unchanged budget rebuilt the memo")
	}
	v.SetCacheBytes(1<<18, now)
	if r := v.recent.Load(); r.accounted(t) != 0 {
		t.Error("shrinking kept entries")
	}
	fill(1 << 18)
}

// TestRecentConcurrent runs lookups, puts and budget changes at once (for
// the race detector); afterwards the memo's accounts are exact.
func TestRecentConcurrent(t *testing.T) {
	t.Parallel()
	p, k, _ := readyEnv(t, KeySetsOptions{})
	idp, rules := p.idp(), rulesFor("EdDSA")
	toks := p.distinctTokens(t, 40)
	v := NewValidator(k, 1<<20)
	small := newRecentTable(4 << 10)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				tok := toks[(g*7+i)%len(toks)]
				if _, err := v.Validate(tok, idp, rules, now); err != nil {
					t.Error(err)
					return
				}
				small.put(tok, subClaims("alice"))
				small.get(toks[i%len(toks)])
			}
		})
	}
	wg.Go(func() {
		for i := range 50 {
			v.SetCacheBytes(1<<19<<(i%2), now)
		}
	})
	wg.Wait()
	v.recent.Load().accounted(t)
	small.accounted(t)
}

// TestRecentNoAllocs is not parallel: AllocsPerRun counts the whole
// process. A memo hit, and a Validate served by one, allocate nothing.
func TestRecentNoAllocs(t *testing.T) {
	p, _, v := readyEnv(t, KeySetsOptions{})
	idp, rules := p.idp(), rulesFor("RS256")
	tok := p.token(t, rsaA)
	want, err := v.Validate(tok, idp, rules, now)
	if err != nil {
		t.Fatal(err)
	}
	r := v.recent.Load()
	if r.get(tok) != want {
		t.Fatal("the memo does not hold the token")
	}
	if n := testing.AllocsPerRun(1000, func() { r.get(tok) }); n != 0 {
		t.Errorf("%v allocs per memo hit, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { v.Validate(tok, idp, rules, now) }); n != 0 {
		t.Errorf("%v allocs per Validate from the memo, want 0", n)
	}
}
