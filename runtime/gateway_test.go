package runtime

import (
	"cmp"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/runtime/limit"
)

// TestRequestPath walks the request path case by case: routing, path
// tricks, authentication, policy resolution and access.
func TestRequestPath(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.bindings.set("bound", binding{policy: "writer"})
	e.bindings.set("revoked", binding{policy: "writer", revoked: true})
	e.bindings.set("expired", binding{policy: "writer", expiresAt: e.clock.Now().Add(-time.Minute)})
	e.bindings.set("later", binding{policy: "writer", expiresAt: e.clock.Now().Add(time.Hour)})
	e.bindings.set("bound-unknown", binding{policy: "nope"})
	e.bindings.set("bound-keyless", binding{policy: "writer", catalogue: []string{"public_entry"}})
	e.bindings.set("bound-elsewhere", binding{policy: "everywhere", catalogue: []string{"elsewhere_entry"}})
	e.bindings.set("bound-gone", binding{policy: "writer", catalogue: []string{"removed_entry"}})
	e.bindings.set("expired-keyless", binding{policy: "writer", catalogue: []string{"public_entry"}, expiresAt: e.clock.Now().Add(-time.Minute)})

	tok := func(id string, pol any) string {
		extra := map[string]any{}
		if pol != nil {
			extra["pol"] = pol
		}
		return e.token(id, extra)
	}
	tests := []struct {
		name         string
		method, path string
		token        string
		status       int
		err          string // substring of the JSON error
		upstreamURI  string // what the upstream must have seen; "" means not reached
	}{
		// Routing.
		{name: "keyless strips listen path", method: "GET", path: "/public/a/b?x=1", status: 200, upstreamURI: "/a/b?x=1"},
		{name: "keyless root", method: "GET", path: "/public", status: 200, upstreamURI: "/"},
		{name: "no strip keeps path", method: "GET", path: "/private/x", token: tok("c1", nil), status: 200, upstreamURI: "/private/x"},
		{name: "target base path", method: "GET", path: "/users/profiles/7", token: tok("c1", "writer"), status: 200, upstreamURI: "/v1/profiles/7"},
		{name: "unknown path", method: "GET", path: "/nowhere", status: 404, err: "no API"},
		{name: "prefix is segment-bounded", method: "GET", path: "/publicity", status: 404},
		{name: "method not served", method: "DELETE", path: "/private/x", token: tok("c1", nil), status: 405},

		// Path tricks: never reach another API's upstream unauthenticated.
		{name: "dot-dot into private", method: "GET", path: "/public/../private/x", status: 401},
		{name: "encoded dot-dot into private", method: "GET", path: "/public/%2e%2e/private/x", status: 401},
		{name: "mixed-case encoded dot-dot", method: "GET", path: "/public/%2E./private/x", status: 401},
		{name: "encoded slash", method: "GET", path: "/public/..%2fprivate/x", status: 400},
		{name: "encoded backslash", method: "GET", path: "/public/..%5cprivate/x", status: 400},
		{name: "backslash", method: "GET", path: `/public\..\private/x`, status: 400},
		{name: "double encoding", method: "GET", path: "/public/%252e%252e/private/x", status: 400},
		{name: "NUL", method: "GET", path: "/public/x%00", status: 400},
		{name: "above the root", method: "GET", path: "/public/../../private/x", status: 400},
		{name: "encoded letters", method: "GET", path: "/%70rivate/x", status: 401},
		{name: "double slash", method: "GET", path: "//private//x", status: 401},
		{name: "dot-dot inside stays inside", method: "GET", path: "/public/a/../b", status: 200, upstreamURI: "/b"},
		{name: "forwarded path is re-encoded", method: "GET", path: "/public/a%20b/%41", status: 200, upstreamURI: "/a%20b/A"},

		// Authentication.
		{name: "missing token", method: "GET", path: "/private/x", status: 401, err: "missing bearer token"},
		{name: "malformed token", method: "GET", path: "/private/x", token: "not-a-jwt", status: 401},
		{name: "expired token", method: "GET", path: "/private/x", token: e.token("c1", map[string]any{"exp": e.clock.Now().Add(-time.Hour).Unix()}), status: 401},
		{name: "wrong issuer", method: "GET", path: "/private/x", token: e.token("c1", map[string]any{"iss": "https://evil.example/"}), status: 401},
		{name: "no identity claim", method: "GET", path: "/private/x", token: e.token("c1", map[string]any{"client_id": nil}), status: 401, err: "client_id"},

		// Policy resolution: binding, else claim, else defaults.
		{name: "default policy", method: "GET", path: "/private/x", token: tok("c1", nil), status: 200},
		{name: "no policy at all", method: "GET", path: "/users/profiles", token: tok("c1", nil), status: 403, err: "no policy"},
		{name: "claim policy", method: "POST", path: "/users/x", token: tok("c1", "writer"), status: 200},
		{name: "claim list", method: "POST", path: "/users/x", token: tok("c1", []any{"reader", "writer"}), status: 200},
		{name: "claim replaces defaults", method: "GET", path: "/private/x", token: tok("c1", "writer"), status: 403, err: "access denied"},
		{name: "unknown claim policy", method: "GET", path: "/users/x", token: tok("c1", "ghost"), status: 403, err: `unknown policy \"ghost\"`},
		{name: "binding wins over claim", method: "POST", path: "/users/x", token: tok("bound", "reader"), status: 200},
		{name: "binding revoked", method: "GET", path: "/users/profiles", token: tok("revoked", "writer"), status: 403, err: "client revoked"},
		{name: "binding expired", method: "GET", path: "/users/profiles", token: tok("expired", "writer"), status: 403, err: "client registration expired"},
		{name: "binding not yet expired", method: "GET", path: "/users/profiles", token: tok("later", nil), status: 200},
		{name: "binding to unknown policy", method: "GET", path: "/users/profiles", token: tok("bound-unknown", "writer"), status: 403, err: "unknown policy"},
		// A binding holds for the issuer of its catalogue entries' APIs:
		// another provider's client with that ID gets its own claim's
		// policy; a registration that matches no such API fails closed.
		{name: "binding of another issuer ignored", method: "POST", path: "/users/x", token: tok("bound-elsewhere", "reader"), status: 403, err: "access denied"},
		{name: "binding of its own issuer", method: "GET", path: "/elsewhere/x", token: e.token("bound-elsewhere", map[string]any{"iss": "https://other.example/", "pol": "reader"}), status: 200},
		{name: "binding of a keyless entry fails closed", method: "GET", path: "/users/profiles", token: tok("bound-keyless", "reader"), status: 403, err: "matches no catalogue entry"},
		{name: "binding of a removed entry fails closed", method: "GET", path: "/users/profiles", token: tok("bound-gone", "reader"), status: 403, err: "matches no catalogue entry"},
		{name: "expiry holds for every issuer", method: "GET", path: "/users/profiles", token: tok("expired-keyless", "reader"), status: 403, err: "client registration expired"},

		// Access by method and path.
		{name: "grant path", method: "GET", path: "/users/profiles/7", token: tok("c1", "reader"), status: 200},
		{name: "grant path itself", method: "GET", path: "/users/profiles", token: tok("c1", "reader"), status: 200},
		{name: "grant path segment-bounded", method: "GET", path: "/users/profilesx", token: tok("c1", "reader"), status: 403},
		{name: "grant other path", method: "GET", path: "/users/admin", token: tok("c1", "reader"), status: 403},
		{name: "grant method", method: "POST", path: "/users/profiles", token: tok("c1", "reader"), status: 403},
		{name: "grant path escape by dot-dot", method: "GET", path: "/users/profiles/../admin", token: tok("c1", "reader"), status: 403},
		// Dot segments with path parameters (Tomcat and Spring read "..;"
		// as ".."): refused before routing, in every spelling.
		{name: "grant escape by ..;", method: "GET", path: "/users/profiles/..;/..;/admin", token: tok("c1", "reader"), status: 400},
		{name: "grant escape by ..%3B", method: "GET", path: "/users/profiles/..%3B/admin", token: tok("c1", "reader"), status: 400},
		{name: "grant escape by ..%3b", method: "GET", path: "/users/profiles/..%3b/admin", token: tok("c1", "reader"), status: 400},
		{name: "grant escape by %2e%2e;x=y", method: "GET", path: "/users/profiles/%2e%2e;x=y/admin", token: tok("c1", "reader"), status: 400},
		{name: "grant escape by ..;jsessionid", method: "GET", path: "/users/profiles/..;jsessionid=1/admin", token: tok("c1", "reader"), status: 400},
		{name: "grant escape by .;", method: "GET", path: "/users/profiles/.;/admin", token: tok("c1", "reader"), status: 400},
		{name: "keyless escape by ..;", method: "GET", path: "/public/..;/private/x", status: 400},
		{name: "keyless escape by .%2e%3B", method: "GET", path: "/public/a/.%2e%3B/b", status: 400},
		// Other parameters are data: the path granted is the path sent.
		{name: "parameters make another segment", method: "GET", path: "/users/profiles;x=1", token: tok("c1", "reader"), status: 403},
		{name: "parameters below a grant", method: "GET", path: "/users/profiles/7;v=2", token: tok("c1", "reader"), status: 200, upstreamURI: "/v1/profiles/7;v=2"},
		{name: "encoded semicolon sent as it decodes", method: "GET", path: "/public/a%3Bb", status: 200, upstreamURI: "/a;b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.hitCount()
			r := e.do(tt.method, tt.path, tt.token, nil)
			if r.status != tt.status {
				t.Fatalf("%s %s: status %d, want %d (%s)", tt.method, tt.path, r.status, tt.status, r.body)
			}
			if tt.status >= 400 {
				var body struct {
					Error string `json:"error"`
					Code  int    `json:"code"`
				}
				if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Code != tt.status || body.Error == "" {
					t.Fatalf("error body %q: %v", r.body, err)
				}
				if tt.err != "" && !strings.Contains(r.body, tt.err) {
					t.Fatalf("error %q does not say %q", r.body, tt.err)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Fatalf("Content-Type %q", ct)
				}
				if e.hitCount() != before {
					t.Fatalf("a refused request reached the upstream: %+v", e.lastHit())
				}
			}
			if tt.upstreamURI != "" {
				if got := e.lastHit().URI; got != tt.upstreamURI {
					t.Fatalf("upstream saw %q, want %q", got, tt.upstreamURI)
				}
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id on the response")
			}
			if s := r.header.Get("Server"); s != "" {
				t.Fatalf("Server: %s; the gateway names no software of its own (the upstream sends none)", s)
			}
			switch {
			case tt.status == 401 && tt.token == "":
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="cuegate"` {
					t.Fatalf("WWW-Authenticate %q", got)
				}
			case tt.status == 401:
				if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="cuegate", error="invalid_token", error_description="`) {
					t.Fatalf("WWW-Authenticate %q", got)
				}
			case tt.status == 405:
				if got := r.header.Get("Allow"); got != "GET, POST" {
					t.Fatalf("Allow %q", got)
				}
			}
		})
	}
}

func TestRequestID(t *testing.T) {
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

func TestRateLimitAndQuota(t *testing.T) {
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

// TestLimitHeaders: one set of X-RateLimit-* headers on a refusal, the
// refusing limit's; with rate_limit_headers: true also on every answer
// that passes, the nearer limit's. The default is refusals only.
func TestLimitHeaders(t *testing.T) {
	for _, setting := range []string{"", "true", "false"} {
		onSuccess := setting == "true"
		t.Run("rate_limit_headers="+cmp.Or(setting, "default"), func(t *testing.T) {
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
// allows everything.
type keyRecorder struct {
	mu   sync.Mutex
	keys []limit.Key
}

func (k *keyRecorder) Take(req limit.Request, _ time.Time) (rate, quota limit.Decision) {
	k.mu.Lock()
	k.keys = append(k.keys, req.RateKey, req.QuotaKey)
	k.mu.Unlock()
	return limit.Decision{Allowed: true, Limit: 1, Remaining: 1}, limit.Decision{Allowed: true, Limit: 1, Remaining: 1}
}

// The limits are counted per issuer: the same identity value from two
// identity providers is two identities.
func TestLimitKeysNameTheIssuer(t *testing.T) {
	rec := &keyRecorder{}
	e := newEnv(t, envOptions{limiter: rec, extra: `
policies: capped: {name: "Capped", access: users: {}, rate: {requests: 3, per: "1m"}, quota: {max: 4, period: "1h"}}
`})
	if r := e.do("GET", "/users/x", e.token("rl", map[string]any{"pol": "capped"}), nil); r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := limit.Key{Issuer: e.idp.Issuer(), Identity: "rl", Policy: "capped"}
	if len(rec.keys) != 2 || rec.keys[0] != want || rec.keys[1] != want {
		t.Errorf("keys %+v, want the rate and the quota counted under %+v", rec.keys, want)
	}
}

func TestNearer(t *testing.T) {
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
