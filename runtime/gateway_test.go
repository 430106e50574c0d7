package runtime

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/runtime/limit"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.do("GET", "/public/x", "", nil)
	id := r.header.Get("X-Request-Id")
	if len(id) != 32 {
		t.Fatalf("generated X-Request-Id %q", id)
	}
	if got := e.lastHit().Header.Get("X-Request-Id"); got != id {
		t.Fatalf("upstream got X-Request-Id %q, client %q", got, id)
	}
	if r2 := e.do("GET", "/public/x", "", nil); r2.header.Get("X-Request-Id") == id {
		t.Fatal("two requests got the same id")
	}
	r = e.do("GET", "/public/x", "", map[string]string{"X-Request-Id": "client-chosen-1"})
	if got := r.header.Get("X-Request-Id"); got != "client-chosen-1" {
		t.Fatalf("response X-Request-Id %q", got)
	}
	if got := e.lastHit().Header.Get("X-Request-Id"); got != "client-chosen-1" {
		t.Fatalf("upstream X-Request-Id %q", got)
	}
	h := e.lastHit().Header
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Host") == "" {
		t.Fatalf("X-Forwarded-*: %v", h)
	}
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.do("GET", "/down/x", "", nil)
	if r.status != 502 || !strings.Contains(r.body, `"code":502`) {
		t.Fatalf("down: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/slow/sleep", "", nil)
	if r.status != 504 || !strings.Contains(r.body, `"code":504`) {
		t.Fatalf("slow: %d %s", r.status, r.body)
	}
	for i := 0; i < 6; i++ {
		if r := e.do("GET", "/half/x", "", nil); r.status != 200 {
			t.Fatalf("half down, request %d: %d %s", i, r.status, r.body)
		}
	}
}

// TestCountersKeepNamespacesApart: an identity counts in the namespace
// its API takes it from. A user of API people, identified by sub, whose
// sub is a portal client's ID, does not spend that client's quota on API
// users, which identifies callers by client_id, under one policy.
func TestCountersKeepNamespacesApart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{extra: `
apis: people: {
	name:        "People"
	listen_path: "/people"
	upstream: targets: apis.public.upstream.targets
	auth: jwt: {idp: "dev", identity_claim: "sub", default_policies: []}
}
policies: shared: {name: "Shared", access: {users: {}, people: {}}, quota: {max: 2, period: "1h"}}
`})
	e.setBindings(`victim-client {"policy": "shared"}`)
	user := e.token("someone", map[string]any{"sub": "victim-client", "pol": "shared"})
	for i := range 3 {
		want := 200
		if i == 2 {
			want = 403 // the user's own quota is spent
		}
		if r := e.do("GET", "/people/x", user, nil); r.status != want {
			t.Fatalf("user's request %d: %d %s, want %d", i+1, r.status, r.body, want)
		}
	}
	if r := e.do("GET", "/users/x", e.token("victim-client", nil), nil); r.status != 200 {
		t.Errorf("the client's first request: %d %s; its quota was spent by another namespace's identity", r.status, r.body)
	}
}

func TestRateLimitAndQuota(t *testing.T) {
	t.Parallel()
	// Which limit applies is read from X-RateLimit-Limit on answers that pass.
	e := newEnv(t, envOptions{extra: "gateway: rate_limit_headers: true\n"})
	lim := e.token("rl", map[string]any{"pol": "limited"})
	for i := 0; i < 2; i++ {
		r := e.do("GET", "/users/x", lim, nil)
		if r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		if r.header.Get("X-RateLimit-Limit") != "2" {
			t.Fatalf("X-RateLimit-Limit %q", r.header.Get("X-RateLimit-Limit"))
		}
	}
	r := e.do("GET", "/users/x", lim, nil)
	if r.status != 429 || r.header.Get("Retry-After") == "" || r.header.Get("X-RateLimit-Remaining") != "0" || r.header.Get("X-RateLimit-Reset") == "" {
		t.Fatalf("third request: %d %v %s", r.status, r.header, r.body)
	}
	// Another identity has its own counter.
	if r := e.do("GET", "/users/x", e.token("rl2", map[string]any{"pol": "limited"}), nil); r.status != 200 {
		t.Fatalf("other identity: %d", r.status)
	}
	// The most generous policy wins.
	both := e.token("rl", map[string]any{"pol": []any{"limited", "generous"}})
	if r := e.do("GET", "/users/x", both, nil); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "100" {
		t.Fatalf("generous: %d %v", r.status, r.header)
	}
	// Retry-After tells the truth: once the injected clock has moved on by
	// it, the limit lets the identity through again.
	wait, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || wait < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	e.clock.Advance(time.Duration(wait) * time.Second)
	if r := e.do("GET", "/users/x", lim, nil); r.status != 200 {
		t.Fatalf("after Retry-After (%ds): %d %s", wait, r.status, r.body)
	}

	q := e.token("q", map[string]any{"pol": "metered"})
	for i := 0; i < 2; i++ {
		if r := e.do("GET", "/users/x", q, nil); r.status != 200 {
			t.Fatalf("quota request %d: %d", i, r.status)
		}
	}
	r = e.do("GET", "/users/x", q, nil)
	if r.status != 403 || !strings.Contains(r.body, "quota exceeded") || r.header.Get("X-RateLimit-Limit") != "2" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("quota: %d %v %s", r.status, r.header, r.body)
	}
}

// TestLimitHeadersReplaceTheUpstreams: the X-RateLimit-* headers a
// client gets of a request the gateway counted are the gateway's alone,
// whatever the upstream sent of those names, in whatever case and however
// often: with rate_limit_headers the gateway's figures, without it none;
// a request no limit counted (a keyless API) gets the upstream's.
func TestLimitHeadersReplaceTheUpstreams(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, extra, path string
		limited           bool
		want              []string
	}{
		{"reported", "gateway: rate_limit_headers: true\n", "/users/owned", true, []string{"1"}},
		{"not reported", "", "/users/owned", true, nil},
		{"not counted", "", "/public/owned", false, []string{"upstream-1", "upstream-2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{extra: tt.extra})
			tok := ""
			if tt.limited {
				tok = e.token("rl", map[string]any{"pol": "limited"})
			}
			r := e.do("GET", tt.path, tok, nil)
			if got := r.header.Values("X-RateLimit-Remaining"); r.status != 200 || !slices.Equal(got, tt.want) {
				t.Errorf("%d, X-RateLimit-Remaining %q; want 200 and %q", r.status, got, tt.want)
			}
		})
	}
}

// TestLimitHeaders: one set of X-RateLimit-* headers on a refusal, the
// refusing limit's; with rate_limit_headers: true also on every answer
// that passes, the nearer limit's. The default is refusals only.
func TestLimitHeaders(t *testing.T) {
	t.Parallel()
	for _, setting := range []string{"", "true", "false"} {
		onSuccess := setting == "true"
		t.Run("rate_limit_headers="+cmp.Or(setting, "default"), func(t *testing.T) {
			t.Parallel()
			var gw string
			if setting != "" {
				gw = "gateway: rate_limit_headers: " + setting
			}
			e := newEnv(t, envOptions{extra: gw + `
policies: capped: {name: "Capped", access: users: {}, rate: {requests: 3, per: "1m"}, quota: {max: 4, period: "1h"}}
`})
			tok := e.token("capped-client", map[string]any{"pol": "capped"})
			steps := []struct {
				advance                 time.Duration
				status                  int
				limit, remaining, reset string
			}{
				{0, 200, "3", "2", "120"},                // rate 2 left, quota 3: the rate
				{0, 200, "3", "1", "120"},                //
				{0, 200, "3", "0", "120"},                // rate 0, quota 1
				{0, 429, "3", "0", "120"},                // the rate refuses (the quota does not count it)
				{2 * time.Minute, 200, "4", "0", "3480"}, // rate 2 left, quota 0: the quota
				{0, 403, "4", "0", "3480"},               // the quota refuses
			}
			for i, st := range steps {
				e.clock.Advance(st.advance)
				r := e.do("GET", "/users/x", tok, nil)
				want := [4]string{strconv.Itoa(st.status), st.limit, st.remaining, st.reset}
				if st.status == 200 && !onSuccess {
					want = [4]string{"200", "", "", ""}
				}
				got := [4]string{strconv.Itoa(r.status), r.header.Get("X-RateLimit-Limit"), r.header.Get("X-RateLimit-Remaining"), r.header.Get("X-RateLimit-Reset")}
				if got != want {
					t.Errorf("request %d: status, limit, remaining, reset = %q, want %q (%s)", i+1, got, want, r.body)
				}
				if len(r.header.Values("X-RateLimit-Limit")) > 1 || r.header.Get("X-Quota-Limit") != "" {
					t.Errorf("request %d: more than one set of limit headers: %v", i+1, r.header)
				}
			}
		})
	}
}

// keyRecorder is a Limiter that records the keys it is asked about and
// allows everything, or fails with err when it is set.
type keyRecorder struct {
	mu   sync.Mutex
	keys []limit.Key
	err  error
}

var _ limit.Limiter = (*keyRecorder)(nil)

func (k *keyRecorder) Take(_ context.Context, req limit.Request, _ time.Time) (rate, quota limit.Decision, err error) {
	k.mu.Lock()
	k.keys = append(k.keys, req.RateKey, req.QuotaKey)
	k.mu.Unlock()
	if k.err != nil {
		return limit.Decision{}, limit.Decision{}, k.err
	}
	return limit.Decision{Allowed: true, Limit: 1, Remaining: 1}, limit.Decision{Allowed: true, Limit: 1, Remaining: 1}, nil
}

// A limiter that cannot count (a shared store unreachable, on_redis_error
// "deny") is a 503 with a JSON error, never a 401 or 403; requests under
// no limit pass.
func TestLimiterUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{limiter: &keyRecorder{err: limit.ErrUnavailable}, extra: `
policies: capped: {name: "Capped", access: users: {}, rate: {requests: 3, per: "1m"}}
`})
	r := e.do("GET", "/users/x", e.token("u1", map[string]any{"pol": "capped"}), nil)
	if r.status != 503 || !strings.Contains(r.body, "shared limit store is unreachable") {
		t.Errorf("limited request with the limiter down: %d %s, want 503", r.status, r.body)
	}
	if r := e.do("GET", "/users/x", e.token("u2", map[string]any{"pol": "writer"}), nil); r.status != 200 {
		t.Errorf("request under no limit with the limiter down: %d %s, want 200", r.status, r.body)
	}
}

// The limits are counted per issuer and identity claim: the same identity
// value from two identity providers, or two claims, is two identities.
func TestLimitKeysNameTheIssuerAndClaim(t *testing.T) {
	t.Parallel()
	rec := &keyRecorder{}
	e := newEnv(t, envOptions{limiter: rec, extra: `
policies: capped: {name: "Capped", access: users: {}, rate: {requests: 3, per: "1m"}, quota: {max: 4, period: "1h"}}
`})
	if r := e.do("GET", "/users/x", e.token("rl", map[string]any{"pol": "capped"}), nil); r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := limit.Key{Issuer: e.idp.Issuer(), Claim: "client_id", Identity: "rl", Policy: "capped"}
	if len(rec.keys) != 2 || rec.keys[0] != want || rec.keys[1] != want {
		t.Errorf("keys %+v, want the rate and the quota counted under %+v", rec.keys, want)
	}
}

func TestNearer(t *testing.T) {
	t.Parallel()
	d := func(remaining int64, reset time.Duration) limit.Decision {
		return limit.Decision{Allowed: true, Remaining: remaining, Reset: reset}
	}
	tests := []struct {
		name        string
		rate, quota limit.Decision
		want        string
	}{
		{"rate has fewer left", d(1, time.Second), d(5, time.Hour), "rate"},
		{"quota has fewer left", d(5, time.Second), d(1, time.Hour), "quota"},
		{"tie: the quota resets later", d(3, time.Second), d(3, time.Hour), "quota"},
		{"tie: the rate resets later", d(3, time.Hour), d(3, time.Second), "rate"},
		{"tie both ways", d(3, time.Second), d(3, time.Second), "rate"},
	}
	for _, tt := range tests {
		got := "rate"
		if nearer(tt.rate, tt.quota) != tt.rate {
			got = "quota"
		}
		if got != tt.want {
			t.Errorf("%s: nearer chose the %s, want the %s", tt.name, got, tt.want)
		}
	}
}
