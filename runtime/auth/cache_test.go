package auth

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cuegate/cuegate/compiler/table"
)

// subs returns the claim "sub" of every entry in c, sorted.
func (c *tokenCache) subs() []string {
	var out []string
	for i := range c.shards {
		for _, cl := range c.shards[i].m {
			s, _ := cl.String("sub")
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// accounted returns the bytes c's shards say they hold, checking them
// against their entries.
func (c *tokenCache) accounted(t *testing.T) int64 {
	t.Helper()
	var total int64
	for i := range c.shards {
		s := &c.shards[i]
		var sum int64
		for _, cl := range s.m {
			sum += cl.size()
		}
		if sum != s.bytes {
			t.Fatalf("shard %d accounts %d bytes, its entries take %d", i, s.bytes, sum)
		}
		if per := c.perShard.Load(); s.bytes > per {
			t.Fatalf("shard %d holds %d bytes, over its %d", i, s.bytes, per)
		}
		total += sum
	}
	return total
}

// TestCacheBudget fills a cache with more tokens than fit: its first
// level stays within its budget in bytes, and what the cache adds to the
// Go heap is within the budgets of the memo and the first level and the
// second level's index share; the second level holds the tokens the first
// had no room for.
func TestCacheBudget(t *testing.T) {
	p, k, _ := readyEnv(t, KeySetsOptions{})
	const budget = 4 << 20
	recent, hot, spilled := splitBudget(budget)
	v := NewValidator(k, budget)
	idp, rules := p.idp(), rulesFor("EdDSA")
	toks := make([][]byte, 4000)
	for i := range toks {
		c := p.claimsAt(now)
		c["sub"] = fmt.Sprintf("client-%06d", i)
		c["scope"] = "read write admin"
		toks[i] = []byte(edA.Mint(t, c, nil))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, tok := range toks {
		if _, err := v.Validate(tok, idp, rules, now); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap, onHeap := int64(after.HeapAlloc)-int64(before.HeapAlloc), recent+hot+spilled/5
	t.Logf("4000 tokens: the heap grew by %d bytes; first level %d bytes, second level %d entries", heap, v.cache.accounted(t), v.spill.entries())
	if heap > onHeap {
		t.Errorf("the heap grew by %d bytes, more than the %d the cache may take of it", heap, onHeap)
	}
	if acc := v.cache.accounted(t); acc > hot || acc < hot*3/4 {
		t.Errorf("a full first level of %d bytes accounts for %d", hot, acc)
	}
	last := tokenDigest(sha256.Sum256(toks[len(toks)-1]))
	if n := v.spill.entries(); n < 1000 || !v.spill.get(&last, func([]byte) {}) {
		t.Errorf("the second level holds %d entries, the last token's %v", n, v.spill.get(&last, func([]byte) {}))
	}

	v.SetCacheBytes(budget/4, now)
	if acc := v.cache.accounted(t); acc > hot/4 {
		t.Errorf("after shrinking to %d bytes the first level holds %d", hot/4, acc)
	}
	if n := len(v.cache.subs()); n == 0 {
		t.Error("shrinking emptied the first level")
	}
}

// TestCacheDisabled: a negative budget caches nothing.
func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	p, k, _ := readyEnv(t, KeySetsOptions{})
	off := NewValidator(k, -1)
	tok := []byte(edA.Mint(t, p.claimsAt(now), nil))
	a, _ := off.Validate(tok, p.idp(), rulesFor("EdDSA"), now)
	b, _ := off.Validate(tok, p.idp(), rulesFor("EdDSA"), now)
	if a == nil || a == b {
		t.Error("a disabled cache served a cached result")
	}
}

// TestCacheEviction: which entries go when a new one does not fit. The
// cache has one shard of fewer than 8 entries, so the sample is all of it.
func TestCacheEviction(t *testing.T) {
	t.Parallel()
	const minute = int64(time.Minute)
	entry := func(sub string, exp int64) *Claims {
		blob, idx, _, _ := pack(jwt.MapClaims{"sub": sub})
		return &Claims{blob: blob, idx: idx, exp: exp}
	}
	one := entry("a", 0).size()
	type put struct {
		sub string
		exp int64 // minutes after now
	}
	for _, tc := range []struct {
		name   string
		budget int64 // in entries of one's size
		puts   []put
		want   []string
	}{
		{"fits", 3, []put{{"a", 1}, {"b", 2}, {"c", 3}}, []string{"a", "b", "c"}},
		{"the one expiring first goes", 3, []put{{"a", 5}, {"b", 1}, {"c", 9}, {"d", 2}}, []string{"a", "c", "d"}},
		{"expired ones go first, all of them", 3, []put{{"a", -1}, {"b", 1}, {"c", -2}, {"d", 2}}, []string{"b", "d"}},
		{"the same token replaces its entry", 2, []put{{"a", 1}, {"b", 2}, {"a", 3}}, []string{"a", "b"}},
		{"an entry larger than the budget is not cached", 0, []put{{"a", 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTokenCache(tc.budget*one, 1)
			at := now.UnixNano()
			for _, p := range tc.puts {
				d := tokenDigest(sha256.Sum256([]byte(p.sub)))
				c.put(&d, entry(p.sub, at+p.exp*minute), at)
			}
			if got := c.subs(); !slices.Equal(got, tc.want) {
				t.Errorf("cache holds %v, want %v", got, tc.want)
			}
			c.accounted(t)
		})
	}
}

// TestClaimsTimesClamped: times past what Unix nanoseconds hold are kept
// as the largest that is, so that an exp in the year 3000 is not expired.
func TestClaimsTimesClamped(t *testing.T) {
	t.Parallel()
	p, _, v := readyEnv(t, KeySetsOptions{})
	c := p.claimsAt(now)
	c["exp"] = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	got, err := v.Validate([]byte(edA.Mint(t, c, nil)), p.idp(), rulesFor("EdDSA"), now)
	if err != nil {
		t.Fatal(err)
	}
	if got.exp != maxNanos {
		t.Errorf("exp = %d, want %d", got.exp, int64(maxNanos))
	}
}

// levels returns Validators on k whose repeat tokens hit, by name, the
// recent-token memo, the first level and the second level of the cache.
func levels(t testing.TB, k *KeySets) map[string]*Validator {
	// The last two have no memo, and their levels in front of the one
	// they are named after hold nothing.
	hot := &Validator{keys: k, cache: newTokenCache(1<<20, 4), spill: newSpill(0, 1)}
	spilled := &Validator{keys: k, cache: newTokenCache(0, 1), spill: newSpill(1<<20, 4)}
	t.Cleanup(spilled.spill.free)
	return map[string]*Validator{"memo": NewValidator(k, 0), "first level": hot, "second level": spilled}
}

// FuzzCachedEqualsFresh: what a cache hit answers, from any level, is
// what a validation without cache answers, for any claims, API rules and
// time.
func FuzzCachedEqualsFresh(f *testing.F) {
	p, k, _ := readyEnv(f, KeySetsOptions{MinRefetch: time.Hour})
	fresh := NewValidator(k, -1)
	cached := levels(f, k)
	idp := p.idp()
	f.Add("alice", "api", "api", int64(3600), int64(0), int64(0), int64(10), true)
	f.Add("bob", "other", "api", int64(60), int64(-30), int64(100), int64(90), false)
	f.Add("", "a,b", "b", int64(-10), int64(5), int64(-5), int64(-40), true)
	f.Fuzz(func(t *testing.T, sub, aud, want string, exp, nbf, iat, later int64, audList bool) {
		c := jwt.MapClaims{"iss": p.Issuer(), "sub": sub, "exp": now.Unix() + exp%1e9, "pol": "gold"}
		if audList {
			c["aud"] = strings.Split(aud, ",")
		} else {
			c["aud"] = aud
		}
		if nbf != 0 {
			c["nbf"] = now.Unix() + nbf%1e9
		}
		if iat != 0 {
			c["iat"] = now.Unix() + iat%1e9
		}
		tok := []byte(edA.Mint(t, c, nil))
		first := rulesFor("EdDSA")
		first.Audience = ""
		for _, v := range cached {
			v.Validate(tok, idp, first, now) // cached when valid, whatever the audience
		}
		rules := rulesFor("EdDSA", "RS256")
		rules.Audience = want
		at := now.Add(time.Duration(later%1e6) * time.Second)
		for _, r := range []*jwtRules{{first, now}, {rules, at}} {
			b, errB := fresh.Validate(tok, idp, r.rules, r.at)
			for name, v := range cached {
				a, errA := v.Validate(tok, idp, r.rules, r.at)
				if fmt.Sprint(errA) != fmt.Sprint(errB) {
					t.Fatalf("at %v, audience %q: %s says %v, fresh says %v", r.at, r.rules.Audience, name, errA, errB)
				}
				if errA == nil && view(a) != view(b) {
					t.Fatalf("%s claims %s, fresh %s", name, view(a), view(b))
				}
			}
		}
	})
}

type jwtRules struct {
	rules *table.JWTAuth
	at    time.Time
}

// view is what the gateway reads of claims.
func view(c *Claims) string {
	sub, _ := c.String("sub")
	var aud, pol []string
	c.EachString("aud", func(s string) bool { aud = append(aud, s); return true })
	c.EachString("pol", func(s string) bool { pol = append(pol, s); return true })
	return fmt.Sprintf("sub=%q aud=%q pol=%q exp=%v iss=%q alg=%s", sub, aud, pol, c.Expiry().UTC(), c.iss, c.alg)
}

// TestPackBounds: claims whose packed form would not fit 16-bit offsets
// and counts are refused, not wrapped.
func TestPackBounds(t *testing.T) {
	t.Parallel()
	long := make([]any, 1<<16)
	for i := range long {
		long[i] = ""
	}
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		ok     bool
	}{
		{"small", jwt.MapClaims{"sub": "alice", "aud": []any{"a", "b"}}, true},
		{"at the limit", jwt.MapClaims{"s": strings.Repeat("x", 1<<16-2)}, true},
		{"a byte over", jwt.MapClaims{"s": strings.Repeat("x", 1<<16-1)}, false},
		{"a list of 2^16 strings", jwt.MapClaims{"l": long}, false},
	} {
		if _, _, _, ok := pack(tc.claims); ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.name, ok, tc.ok)
		}
	}
}

// TestCachedMixedAudience: a token whose aud list holds a non-string,
// accepted and cached for an API without an audience, is refused as
// malformed by an API naming one, from any level of the cache, as a
// fresh validation refuses it.
func TestCachedMixedAudience(t *testing.T) {
	t.Parallel()
	p, k, _ := readyEnv(t, KeySetsOptions{})
	c := p.claimsAt(now)
	c["aud"] = []any{"api", 5}
	tok := []byte(rsaA.Mint(t, c, nil))
	noAud, withAud := rulesFor(allAlgs...), rulesFor(allAlgs...)
	noAud.Audience, withAud.Audience = "", "api"
	_, want := NewValidator(k, -1).Validate(tok, p.idp(), withAud, now)
	if want != errClaims {
		t.Fatalf("a fresh validation says %v, want %v", want, errClaims)
	}
	for name, v := range levels(t, k) {
		if _, err := v.Validate(tok, p.idp(), noAud, now); err != nil {
			t.Fatalf("%s: without an audience: %v", name, err)
		}
		if _, err := v.Validate(tok, p.idp(), withAud, now); err != want {
			t.Errorf("%s: cached says %v, fresh %v", name, err, want)
		}
	}
}
