package limit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/redis/rueidis"
)

// at is a settable clock for a Redis limiter's clock hook.
type at struct{ ns atomic.Int64 }

func (a *at) set(t time.Time)        { a.ns.Store(t.UnixNano()) }
func (a *at) now() time.Time         { return time.Unix(0, a.ns.Load()) }
func clocked(r *Redis, a *at) *Redis { r.clock = a.now; return r }

// newNode returns a Redis limiter on srv through a client of its own, as a
// node of a cluster has, with a timeout no healthy call reaches.
func newNode(tb testing.TB, srv *testutil.Redis) *Redis {
	return NewRedis(srv.Client(tb), RedisOptions{Timeout: 5 * time.Second})
}

// step is one request of a sequence: when, and whether it carries the
// rate, the quota or both.
type step struct {
	at          time.Duration
	rate, quota bool
}

// sequence is a run of requests of one identity against limits; with
// twoPolicies the quota is counted under another policy than the rate.
type sequence struct {
	name        string
	rate        table.Rate
	quota       table.Quota
	twoPolicies bool
	steps       []step
}

func rateSteps(ats ...time.Duration) []step {
	s := make([]step, len(ats))
	for i, a := range ats {
		s[i] = step{at: a, rate: true}
	}
	return s
}

func quotaSteps(ats ...time.Duration) []step {
	s := make([]step, len(ats))
	for i, a := range ats {
		s[i] = step{at: a, quota: true}
	}
	return s
}

func bothSteps(ats ...time.Duration) []step {
	s := make([]step, len(ats))
	for i, a := range ats {
		s[i] = step{at: a, rate: true, quota: true}
	}
	return s
}

// randomSequence draws limits in whole microseconds and arrivals around
// the rate: requests carrying the quota alone, or each the rate alone or
// both. (A quota counted by a request without the rate between a rate's
// refusal and its RetryAfter is not in the refused requests' quota
// decision: see Refusals remembered in the package doc.)
func randomSequence(rng *rand.Rand, i int) sequence {
	n := 1 + rng.Int64N(12)
	per := time.Duration(1+rng.Int64N(10_000_000)) * time.Microsecond
	s := sequence{
		name:        fmt.Sprintf("random %d", i),
		rate:        table.Rate{Requests: n, Per: table.Duration(per)},
		quota:       table.Quota{Max: 1 + rng.Int64N(40), Period: table.Duration(time.Duration(1+rng.Int64N(30_000_000)) * time.Microsecond)},
		twoPolicies: rng.IntN(2) == 0,
	}
	var t time.Duration
	for range 150 {
		t += time.Duration(rng.Int64N(int64(per)/n*2/1000)) * time.Microsecond
		st := step{at: t, quota: true}
		if i%4 != 0 {
			st.rate, st.quota = true, rng.IntN(3) != 0
		}
		s.steps = append(s.steps, st)
	}
	return s
}

// TestRedisMatchesMemory runs each sequence against Memory and against
// Redis with the same clock: every decision must be the same. The random
// sequences land on times where the rate has refused (answered from the
// local refusals) and on windows' edges.
func TestRedisMatchesMemory(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	const ms = time.Millisecond
	seqs := []sequence{
		{name: "rate windows", rate: perSecond(4), steps: rateSteps(0, 0, 0, 0, 0, 500*ms, 1250*ms, 1250*ms, 1500*ms, 1900*ms, 1900*ms, 2*time.Second, 2900*ms, 5*time.Second, 5*time.Second, 5*time.Second, 6*time.Second+333_333*time.Microsecond, 6*time.Second+333_334*time.Microsecond, 6*time.Second+333_335*time.Microsecond)},
		{name: "rate demo", rate: table.Rate{Requests: 5, Per: table.Duration(10 * time.Second)}, steps: rateSteps(0, 100*ms, 200*ms, 300*ms, 400*ms, 500*ms, 11999*ms, 12*time.Second, 12*time.Second, 25*time.Second)},
		{name: "quota", quota: table.Quota{Max: 3, Period: table.Duration(time.Hour)}, steps: quotaSteps(0, time.Minute, 2*time.Minute, 3*time.Minute, 59*time.Minute, time.Hour, time.Hour+time.Second)},
		{name: "both, one policy", rate: perSecond(5), quota: table.Quota{Max: 3, Period: table.Duration(time.Hour)}, steps: bothSteps(0, 0, 0, 0, 0, 0, time.Second, 2*time.Hour, 2*time.Hour)},
		{name: "both, two policies", rate: perSecond(2), quota: table.Quota{Max: 4, Period: table.Duration(time.Minute)}, twoPolicies: true, steps: bothSteps(0, 0, 0, 10*ms, 600*ms, 900*ms, 1100*ms, 1500*ms, 2*time.Second, 3*time.Second, 61*time.Second)},
		{name: "long windows", rate: table.Rate{Requests: 1 << 40, Per: table.Duration(100 * 365 * 24 * time.Hour)}, quota: table.Quota{Max: 2, Period: table.Duration(100 * 365 * 24 * time.Hour)}, steps: bothSteps(0, 0, 0, 50*365*24*time.Hour)},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 40 {
		seqs = append(seqs, randomSequence(rng, i))
	}
	for _, s := range seqs {
		m := NewMemory(MemoryOptions{})
		var clock at
		r := clocked(NewRedis(client, RedisOptions{KeyPrefix: "matches:", Timeout: 5 * time.Second, LeaseShare: 1}), &clock)
		rk := Key{Issuer: "https://idp.example/", Identity: s.name, Policy: "rate"}
		qk := rk
		if s.twoPolicies {
			qk.Policy = "quota"
		}
		for i, st := range s.steps {
			req := Request{RateKey: rk, QuotaKey: qk}
			if st.rate {
				req.Rate = &s.rate
			}
			if st.quota {
				req.Quota = &s.quota
			}
			now := t0.Add(st.at)
			clock.set(now)
			mr, mq := m.Count(req, now)
			rr, rq, err := r.Take(context.Background(), req, time.Now())
			if err != nil {
				t.Fatalf("%s, step %d: %v", s.name, i, err)
			}
			if rr != mr || rq != mq {
				t.Fatalf("%s, step %d at %v (%+v):\nredis  rate %+v quota %+v\nmemory rate %+v quota %+v", s.name, i, st.at, st, rr, rq, mr, mq)
			}
		}
	}
}

// TestScriptMulDivCeil checks the script's exact ceil(a × b / c) against
// Go's 128-bit one, on both of its paths (products under 2^52 and above).
func TestScriptMulDivCeil(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	fn, _, ok := strings.Cut(scriptSource, "\n-- take\n")
	if !ok {
		t.Fatal("redis.lua has no \"-- take\" line after muldivceil")
	}
	script := rueidis.NewLuaScript(fn + "\nreturn muldivceil(tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))")
	cases := [][3]int64{
		{0, 0, 1}, {1, 1, 1}, {7, 3, 3}, {5, 2, 3}, {1<<53 - 1, maxMicros, maxMicros},
		{1<<53 - 1, maxMicros - 1, maxMicros}, {1<<53 - 1, 1, maxMicros}, {3, 1<<51 + 1, 1<<51 + 3},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		c := 1 + rng.Int64N(maxMicros)
		a := rng.Int64N(1 << (1 + rng.IntN(53)))
		cases = append(cases, [3]int64{a, rng.Int64N(c + 1), c})
	}
	for _, tc := range cases {
		got, err := script.Exec(context.Background(), client, nil, []string{fmt.Sprint(tc[0]), fmt.Sprint(tc[1]), fmt.Sprint(tc[2])}).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if want := mulDivCeil(tc[0], tc[1], tc[2]); got != want {
			t.Errorf("muldivceil(%d, %d, %d) = %d, want %d", tc[0], tc[1], tc[2], got, want)
		}
	}
}

// TestRedisKeys: no issuer, identity or policy in the clear; the version
// after the prefix; one hash tag for an identity's policies; every key
// expiring.
func TestRedisKeys(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	r := NewRedis(client, RedisOptions{KeyPrefix: "gw:", Timeout: 5 * time.Second})
	rate, quota := perSecond(10), table.Quota{Max: 10, Period: table.Duration(time.Hour)}
	secret := []string{"idp.example", "alice@example.com", "gold-policy", "silver-policy"}
	req := Request{
		RateKey: Key{Issuer: "https://idp.example/", Claim: "email", Identity: "alice@example.com", Policy: "gold-policy"}, Rate: &rate,
		QuotaKey: Key{Issuer: "https://idp.example/", Claim: "email", Identity: "alice@example.com", Policy: "silver-policy"}, Quota: &quota,
	}
	if _, _, err := r.Take(context.Background(), req, time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys, err := client.Do(ctx, client.B().Keys().Pattern("*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys %q, want one per policy", keys)
	}
	var tags []string
	for _, k := range keys {
		for _, s := range secret {
			if strings.Contains(k, s) {
				t.Errorf("key %q holds %q in the clear", k, s)
			}
		}
		rest, ok := strings.CutPrefix(k, "gw:v3:{")
		tag, _, ok2 := strings.Cut(rest, "}:")
		if !ok || !ok2 {
			t.Fatalf("key %q is not gw:v3:{tag}:policy", k)
		}
		tags = append(tags, tag)
		if ttl, err := client.Do(ctx, client.B().Pttl().Key(k).Build()).AsInt64(); err != nil || ttl <= 0 || ttl > time.Hour.Milliseconds()+1000 {
			t.Errorf("key %q: PTTL %d, %v; want it to expire within the quota's hour and a second", k, ttl, err)
		}
		val, err := client.Do(ctx, client.B().Get().Key(k).Build()).ToString()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secret {
			if strings.Contains(val, s) {
				t.Errorf("key %q holds %q in the clear", k, s)
			}
		}
	}
	if tags[0] != tags[1] {
		t.Errorf("one identity's keys have two hash tags: %q", keys)
	}
	for _, other := range []Key{
		{Issuer: "https://other.example/", Claim: "email", Identity: "alice@example.com", Policy: "gold-policy"},
		{Issuer: "https://idp.example/", Claim: "sub", Identity: "alice@example.com", Policy: "gold-policy"},
		{Issuer: "https://idp.example/", Claim: "emailalice", Identity: "@example.com", Policy: "gold-policy"},
	} {
		if k := r.key(other); k == r.key(req.RateKey) {
			t.Errorf("%+v shares key %q with %+v", other, k, req.RateKey)
		}
	}
}

// TestRedisRefusedLocally: once the rate refuses an identity, its requests
// until RetryAfter do not reach Redis; the first after it does.
func TestRedisRefusedLocally(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	r := newNode(t, srv)
	rate := table.Rate{Requests: 2, Per: table.Duration(time.Second)}
	req := Request{RateKey: Key{Identity: "flood", Policy: "p"}, Rate: &rate}
	take := func() Decision {
		d, _, err := r.Take(context.Background(), req, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	take()
	take()
	before := serverStats(t, srv)
	first := take()
	if first.Allowed {
		t.Fatalf("third request in a window of 2 allowed: %+v", first)
	}
	start := time.Now()
	for range 1000 {
		if d := take(); d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > first.RetryAfter {
			t.Fatalf("refused locally as %+v after %+v", d, first)
		}
		if time.Since(start) > first.RetryAfter/2 {
			break
		}
	}
	if calls := serverStats(t, srv).evals - before.evals; calls != 1 {
		t.Errorf("%d scripts run for a flood refused locally, want 1 (the first refusal)", calls)
	}
	testutil.Eventually(t, "a request allowed after RetryAfter", func() bool { return take().Allowed })
}

// TestRedisQuotaRefusedLocally: once its quota refuses an identity, its
// requests (with the rate or without) are refused without a call to
// Redis for maxQuotaRefusal, then call again; a table that raises the
// quota is honoured at once.
func TestRedisQuotaRefusedLocally(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	rate, quota := table.Rate{Requests: 10, Per: table.Duration(time.Minute)}, table.Quota{Max: 5, Period: table.Duration(24 * time.Hour)}
	for _, tc := range []struct {
		name string
		rate *table.Rate
	}{
		{"quota alone", nil},
		{"rate and quota", &rate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var clock at
			r := clocked(NewRedis(srv.Client(t), RedisOptions{KeyPrefix: tc.name + ":", Timeout: 5 * time.Second, MaxLease: 1}), &clock)
			k := Key{Identity: "spent", Policy: "p"}
			req := Request{RateKey: k, Rate: tc.rate, QuotaKey: k, Quota: &quota}
			take := func(req Request, at time.Duration) Decision {
				clock.set(t0.Add(at))
				rd, qd, err := r.Take(context.Background(), req, time.Time{})
				if err != nil || tc.rate != nil && !rd.Allowed {
					t.Fatalf("at %v: rate %+v, %v", at, rd, err)
				}
				return qd
			}
			for range quota.Max {
				take(req, 0)
			}
			before := serverStats(t, srv).evals
			for i := range 1000 {
				if q := take(req, time.Duration(i)*maxQuotaRefusal/1000); q.Allowed {
					t.Fatalf("request %d over a spent quota allowed: %+v", i, q)
				}
			}
			if calls := serverStats(t, srv).evals - before; calls != 1 {
				t.Errorf("%d scripts run for 1,000 requests over a spent quota, want 1 (the first refusal)", calls)
			}
			take(req, maxQuotaRefusal)
			if calls := serverStats(t, srv).evals - before; calls != 2 {
				t.Errorf("%d scripts run once the refusal is %v old, want 2", calls, maxQuotaRefusal)
			}
			raised := quota
			raised.Max++
			req.Quota = &raised
			if q := take(req, maxQuotaRefusal); !q.Allowed {
				t.Errorf("refused after the quota was raised: %+v", q)
			}
		})
	}
}

// TestRedisQuotaAcrossNodes: 200 goroutines on three limiters (three
// nodes, each with its own client) pass exactly a quota of 300, and a new
// limiter (a restarted node) sees the count.
func TestRedisQuotaAcrossNodes(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	nodes := []*Redis{newNode(t, srv), newNode(t, srv), newNode(t, srv)}
	quota := table.Quota{Max: 300, Period: table.Duration(time.Hour)}
	rate := perSecond(1_000_000)
	k := Key{Identity: "shared", Policy: "p"}
	req := Request{RateKey: k, Rate: &rate, QuotaKey: k, Quota: &quota}
	var passed atomic.Int64
	var wg sync.WaitGroup
	for g := range 200 {
		wg.Go(func() {
			for range 3 {
				_, q, err := nodes[g%3].Take(context.Background(), req, time.Now())
				if err != nil {
					t.Error(err)
					return
				}
				if q.Allowed {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := passed.Load(); got != 300 {
		t.Errorf("%d passed of 600 against a quota of 300 on three nodes", got)
	}
	_, q, err := newNode(t, srv).Take(context.Background(), req, time.Now())
	if err != nil || q.Allowed || q.Remaining != 0 {
		t.Errorf("a new node: %+v, %v; want the quota spent", q, err)
	}
}

// TestRedisKeyLivesForItsLongestPart: a request counting only the rate on
// a key that also holds a quota window keeps the key alive for the quota.
func TestRedisKeyLivesForItsLongestPart(t *testing.T) {
	t.Parallel()
	srv := testutil.StartRedis(t)
	client := srv.Client(t)
	r := NewRedis(client, RedisOptions{Timeout: 5 * time.Second})
	rate, quota := perSecond(10), table.Quota{Max: 10, Period: table.Duration(time.Hour)}
	k := Key{Identity: "both", Policy: "p"}
	ctx := context.Background()
	for _, req := range []Request{{QuotaKey: k, Quota: &quota}, {RateKey: k, Rate: &rate}} {
		if _, _, err := r.Take(ctx, req, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	ttl, err := client.Do(ctx, client.B().Pttl().Key(r.key(k)).Build()).AsInt64()
	if err != nil || ttl < (59*time.Minute).Milliseconds() {
		t.Errorf("PTTL %d ms, %v after a rate-only request; want the quota's hour", ttl, err)
	}
}
