package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestWindowLimiter(t *testing.T) {
	t.Parallel()
	type step struct {
		op        string // reserve, commit, release, reset, advance
		wantWait  time.Duration
		wantFirst bool // a refusal is the first of its window
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"reservations count before they settle", []step{
			{"reserve", 0, false}, {"reserve", 0, false}, {"reserve", pendingRetry, true}, // full of attempts under way
			{"commit", 0, false}, {"release", 0, false}, {"reserve", 0, false}, {"reserve", pendingRetry, false},
			{"commit", 0, false}, {"reserve", time.Hour, false}, // full of events
		}},
		{"a released slot is free again", []step{
			{"reserve", 0, false}, {"release", 0, false}, {"reserve", 0, false}, {"release", 0, false},
			{"reserve", 0, false}, {"reserve", 0, false}, {"reserve", pendingRetry, true},
		}},
		{"committed events last the window", []step{
			{"reserve", 0, false}, {"commit", 0, false}, {"reserve", 0, false}, {"commit", 0, false}, {"advance", 0, false},
			{"reserve", 30 * time.Minute, true}, {"advance", 0, false}, {"reserve", 0, false},
		}},
		{"reset keeps pending reservations", []step{
			{"reserve", 0, false}, {"commit", 0, false}, {"reserve", 0, false}, {"reset", 0, false}, {"reserve", 0, false}, {"reserve", pendingRetry, true},
		}},
		{"the first refusal of a window is told", []step{
			{"reserve", 0, false}, {"commit", 0, false}, {"reserve", 0, false}, {"commit", 0, false},
			{"reserve", time.Hour, true}, {"reserve", time.Hour, false}, {"advance", 0, false}, {"advance", 0, false},
			{"reserve", 0, false}, {"reserve", 0, false}, {"reserve", pendingRetry, true},
		}},
		{"pending reservations carry into a new window", []step{
			{"reserve", 0, false}, {"reserve", 0, false}, {"advance", 0, false}, {"advance", 0, false}, {"reserve", pendingRetry, true},
			{"release", 0, false}, {"reserve", 0, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newWindowLimiter(2, time.Hour)
			now := t0
			for i, st := range tt.steps {
				switch st.op {
				case "reserve":
					if got, first := l.reserveUpTo("k", l.max, now); got != st.wantWait || first != st.wantFirst {
						t.Fatalf("step %d: reserve waits %v (first refusal %v), want %v (%v)", i, got, first, st.wantWait, st.wantFirst)
					}
				case "commit":
					l.commit("k")
				case "release":
					l.release("k")
				case "reset":
					l.reset("k")
				case "advance":
					now = now.Add(30 * time.Minute)
				}
			}
		})
	}
}

func TestWindowLimiterStaysBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		live int // keys whose window has not ended at any time
	}{
		{"every earlier window ended", 1},
		{"half the bound live", windowLimiterKeys / 2},
		{"most of the bound live", windowLimiterKeys * 9 / 10},
		{"the bound live", windowLimiterKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A key's window ends live keys after it: the key reserved at i
			// is at t0+i, and the window is live nanoseconds long.
			l := newWindowLimiter(1, time.Duration(tt.live))
			most := 0
			for i := range 5 * windowLimiterKeys {
				key := strconv.Itoa(i)
				if wait := l.reserve(key, t0.Add(time.Duration(i))); wait != 0 {
					t.Fatalf("key %d: reserve waits %v, want 0", i, wait)
				}
				l.commit(key)
				most = max(most, len(l.m))
			}
			if most > 2*windowLimiterKeys {
				t.Errorf("the limiter held %d keys, want at most %d", most, 2*windowLimiterKeys)
			}
		})
	}
}

// burst sends n logins at once, credentials(i) for the i-th, and counts
// the answers by status.
func (e *env) burst(n int, creds func(i int) credentials) map[int]int {
	e.t.Helper()
	var wg sync.WaitGroup
	statuses := make([]int, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = e.api(e.browser(), "POST", "/login", creds(i), nil).StatusCode
		})
	}
	close(start)
	wg.Wait()
	counts := map[int]int{}
	for _, st := range statuses {
		counts[st]++
	}
	return counts
}

func TestParallelLoginBurstIsLimited(t *testing.T) {
	t.Parallel()
	t.Run("per account and address", func(t *testing.T) {
		e := newEnv(t)
		e.developer("a@example.com")
		got := e.burst(60, func(int) credentials { return credentials{"a@example.com", "wrong password"} })
		if got[http.StatusUnauthorized] != loginFailuresPerPlace || got[http.StatusTooManyRequests] != 60-loginFailuresPerPlace {
			t.Errorf("answers %v, want %d × 401 and the rest 429", got, loginFailuresPerPlace)
		}
		if resp := e.api(e.browser(), "POST", "/login", credentials{"a@example.com", "correct horse"}, nil); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("the right password after the burst: %d, want 429", resp.StatusCode)
		}
	})
	t.Run("per address across accounts", func(t *testing.T) {
		e := newEnv(t)
		got := e.burst(60, func(i int) credentials { return credentials{fmt.Sprintf("u%d@example.com", i), "wrong password"} })
		if got[http.StatusUnauthorized] != loginFailuresPerAddress || got[http.StatusTooManyRequests] != 60-loginFailuresPerAddress {
			t.Errorf("answers %v, want %d × 401 and the rest 429", got, loginFailuresPerAddress)
		}
	})
	t.Run("successes give their slots back", func(t *testing.T) {
		e := newEnv(t)
		e.developer("a@example.com")
		for i := range 2 * loginFailuresPerAddress {
			if resp := e.api(e.browser(), "POST", "/login", credentials{"a@example.com", "correct horse"}, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("login %d: %d, want 200", i, resp.StatusCode)
			}
		}
		for i := range loginFailuresPerPlace - 1 {
			if resp := e.api(e.browser(), "POST", "/login", credentials{"a@example.com", "wrong password"}, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d after the successes: %d, want 401", i, resp.StatusCode)
			}
		}
		if resp := e.api(e.browser(), "POST", "/login", credentials{"a@example.com", "correct horse"}, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the right password under the limit: %d", resp.StatusCode)
		}
	})
}

func TestParallelSignupBurstIsLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var wg sync.WaitGroup
	statuses := make([]int, 40)
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = e.api(e.browser(), "POST", "/signup", credentials{fmt.Sprintf("u%d@example.com", i), "correct horse"}, nil).StatusCode
		})
	}
	wg.Wait()
	counts := map[int]int{}
	for _, st := range statuses {
		counts[st]++
	}
	if counts[http.StatusCreated] != signupsPerAddress || counts[http.StatusTooManyRequests] != len(statuses)-signupsPerAddress {
		t.Errorf("answers %v, want %d × 201 and the rest 429", counts, signupsPerAddress)
	}
	if n := len(e.store.Developers()); n != signupsPerAddress {
		t.Errorf("%d accounts stored, want %d", n, signupsPerAddress)
	}
}

// callFrom posts body to the JSON API's path from the peer remoteAddr
// (host:port) with X-Forwarded-For xff (none when "") and returns the
// answer's status.
func (e *env) callFrom(remoteAddr, xff, path string, body any) int {
	return e.answerFrom(remoteAddr, xff, path, body).Code
}

// answerFrom is callFrom's answer; the request carries cookies.
func (e *env) answerFrom(remoteAddr, xff, path string, body any, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	e.t.Helper()
	b, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", apiPrefix+path, bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	r.RemoteAddr = remoteAddr
	w := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(w, r)
	return w
}

// statuses counts the answers by status.
type statuses map[int]int

// TestIPv6ClientsAreLimitedByTheir64: an IPv6 client counts as its /64,
// and for sign-ups its /48 counts too.
func TestIPv6ClientsAreLimitedByTheir64(t *testing.T) {
	t.Parallel()
	t.Run("logins", func(t *testing.T) {
		e := newEnv(t)
		got := statuses{}
		for i := range 100 {
			got[e.callFrom(fmt.Sprintf("[2001:db8::%x]:1234", i+1), "", "/login", credentials{fmt.Sprintf("u%d@example.com", i), "wrong password"})]++
		}
		if got[http.StatusUnauthorized] != loginFailuresPerAddress || got[http.StatusTooManyRequests] != 100-loginFailuresPerAddress {
			t.Errorf("100 failed logins across one /64: %v, want %d × 401 and the rest 429", got, loginFailuresPerAddress)
		}
		// Another /64, and IPv4, are not affected.
		for _, peer := range []string{"[2001:db8:0:1::1]:1234", "[2001:db9::1]:1234", "203.0.113.9:1234"} {
			if st := e.callFrom(peer, "", "/login", credentials{"x@example.com", "wrong password"}); st != http.StatusUnauthorized {
				t.Errorf("a failed login from %s: %d, want 401", peer, st)
			}
		}
	})
	t.Run("sign-ups", func(t *testing.T) {
		e := newEnv(t)
		got := statuses{}
		for i := range 40 {
			got[e.callFrom(fmt.Sprintf("[2001:db8::%x:%x]:1234", i, i+1), "", "/signup", credentials{fmt.Sprintf("u%d@example.com", i), "correct horse"})]++
		}
		if got[http.StatusCreated] != signupsPerAddress || got[http.StatusTooManyRequests] != 40-signupsPerAddress {
			t.Errorf("40 sign-ups across one /64: %v, want %d × 201 and the rest 429", got, signupsPerAddress)
		}
		if st := e.callFrom("[2001:db8:0:1::1]:1234", "", "/signup", credentials{"other@example.com", "correct horse"}); st != http.StatusCreated {
			t.Errorf("a sign-up from another /64: %d, want 201", st)
		}
	})
	t.Run("sign-ups across a /48", func(t *testing.T) {
		e := newEnv(t)
		got := statuses{}
		n := signupsPerNetwork + 5
		for i := range n { // each from a /64 of its own
			got[e.callFrom(fmt.Sprintf("[2001:db8:7:%x::1]:1234", i), "", "/signup", credentials{fmt.Sprintf("u%d@example.com", i), "correct horse"})]++
		}
		if got[http.StatusCreated] != signupsPerNetwork || got[http.StatusTooManyRequests] != n-signupsPerNetwork {
			t.Errorf("%d sign-ups from as many /64s of one /48: %v, want %d × 201 and the rest 429", n, got, signupsPerNetwork)
		}
		if st := e.callFrom("[2001:db8:8::1]:1234", "", "/signup", credentials{"other@example.com", "correct horse"}); st != http.StatusCreated {
			t.Errorf("a sign-up from another /48: %d, want 201", st)
		}
	})
	t.Run("IPv4-mapped is IPv4", func(t *testing.T) {
		e := newEnv(t)
		for i := range signupsPerAddress {
			peer := "203.0.113.9:1234"
			if i%2 == 1 {
				peer = "[::ffff:203.0.113.9]:1234"
			}
			if st := e.callFrom(peer, "", "/signup", credentials{fmt.Sprintf("u%d@example.com", i), "correct horse"}); st != http.StatusCreated {
				t.Fatalf("sign-up %d from %s: %d", i, peer, st)
			}
		}
		for _, peer := range []string{"203.0.113.9:1234", "[::ffff:203.0.113.9]:1234"} {
			if st := e.callFrom(peer, "", "/signup", credentials{"late@example.com", "correct horse"}); st != http.StatusTooManyRequests {
				t.Errorf("sign-up from %s over the limit: %d, want 429", peer, st)
			}
		}
	})
	t.Run("through trusted proxies", func(t *testing.T) {
		e := newEnv(t)
		tab := *e.table.Load()
		tab.Portal.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		e.table.Store(&tab)
		got := statuses{}
		for i := range 40 {
			got[e.callFrom("10.0.0.1:1234", fmt.Sprintf("2001:db8::%x", i+1), "/signup", credentials{fmt.Sprintf("u%d@example.com", i), "correct horse"})]++
		}
		if got[http.StatusCreated] != signupsPerAddress {
			t.Errorf("40 sign-ups across one /64 behind a proxy: %v, want %d × 201 and the rest 429", got, signupsPerAddress)
		}
	})
}

func TestPasswordWorkIsBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.developer("a@example.com")
	// One slot, taken, and no queue: the portal answers at once.
	e.s.hashing = newWorkSlots(1, 0, time.Hour)
	e.s.hashing.acquire(context.Background())
	for i := range max(loginFailuresPerPlace, signupsPerAddress) + 1 {
		for _, call := range []struct {
			path string
			body credentials
		}{
			{"/login", credentials{"a@example.com", "wrong password"}},
			{"/signup", credentials{fmt.Sprintf("u%d@example.com", i), "correct horse"}},
		} {
			w := e.answerFrom("203.0.113.9:1234", "", call.path, call.body)
			var aerr apiError
			json.Unmarshal(w.Body.Bytes(), &aerr)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || aerr.Code != "temporarily_unavailable" ||
				aerr.Description != "the portal is busy checking other passwords: try again in a moment" {
				t.Fatalf("%s while busy: %d Retry-After %q %+v", call.path, w.Code, w.Header().Get("Retry-After"), aerr)
			}
		}
	}
	if n := len(e.store.Developers()); n != 1 {
		t.Errorf("%d accounts stored while busy, want 1", n)
	}
	// Attempts refused as busy do not count against the limits.
	e.s.hashing.release()
	for i := range loginFailuresPerPlace {
		if st := e.callFrom("203.0.113.9:1234", "", "/login", credentials{"a@example.com", "wrong password"}); st != http.StatusUnauthorized {
			t.Fatalf("failed login %d after the busy ones: %d, want 401", i, st)
		}
	}
	for i := range signupsPerAddress {
		if st := e.callFrom("203.0.113.9:1234", "", "/signup", credentials{fmt.Sprintf("v%d@example.com", i), "correct horse"}); st != http.StatusCreated {
			t.Fatalf("sign-up %d after the busy ones: %d, want 201", i, st)
		}
	}
	// A slot that stays taken past the wait: 503 too.
	e.s.hashing = newWorkSlots(1, 1, 10*time.Millisecond)
	e.s.hashing.acquire(context.Background())
	if st := e.callFrom("198.51.100.1:1234", "", "/login", credentials{"v0@example.com", "correct horse"}); st != http.StatusServiceUnavailable {
		t.Errorf("login while the only slot stays taken: %d, want 503", st)
	}
}

func TestGuessingDoesNotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const home, attacker = "198.51.100.1:1234", "203.0.113.9:1234"
	login := func(peer, password string) *httptest.ResponseRecorder {
		return e.answerFrom(peer, "", "/login", credentials{"a@example.com", password})
	}
	if st := e.callFrom(home, "", "/signup", credentials{"a@example.com", "correct horse"}); st != http.StatusCreated {
		t.Fatalf("sign-up: %d", st)
	}
	// The guesser's own address is locked after loginFailuresPerPlace.
	for i := range loginFailuresPerPlace {
		if w := login(attacker, "wrong password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, w.Code)
		}
	}
	if w := login(attacker, "correct horse"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "900" {
		t.Errorf("the guesser's address past its limit: %d Retry-After %q, want 429 900", w.Code, w.Header().Get("Retry-After"))
	}
	// The developer logs in at home (where they signed up) and from a new
	// address, which becomes known.
	const travel = "[2001:db8:aaaa::1]:1234"
	for _, peer := range []string{home, travel} {
		if w := login(peer, "correct horse"); w.Code != http.StatusOK {
			t.Errorf("the developer from %s: %d, want 200", peer, w.Code)
		}
	}
	// Guesses from many /64s reach the account's cap for new addresses...
	for i := range loginFailuresPerAccount - loginFailuresPerPlace {
		peer := fmt.Sprintf("[2001:db8:%x::1]:1234", i/loginFailuresPerPlace+1)
		if w := login(peer, "wrong password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("spread guess %d from %s: %d, want 401", i, peer, w.Code)
		}
	}
	const elsewhere = "[2001:db8:ffff::1]:1234"
	if w := login(elsewhere, "correct horse"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "900" {
		t.Errorf("a new address past the account's cap: %d Retry-After %q, want 429 900", w.Code, w.Header().Get("Retry-After"))
	}
	// ...but not the addresses the developer used lately, where their own
	// typos count against that address alone.
	for i := range loginFailuresPerPlace - 1 {
		if w := login(home, "wrong password"); w.Code != http.StatusUnauthorized {
			t.Fatalf("typo %d at home: %d, want 401", i, w.Code)
		}
	}
	for _, peer := range []string{home, travel, "[2001:db8:aaaa::2]:1234"} {
		if w := login(peer, "correct horse"); w.Code != http.StatusOK {
			t.Errorf("the developer from %s during the guessing: %d, want 200", peer, w.Code)
		}
	}
	// Another account is not affected, and the window ends.
	if st := e.callFrom(elsewhere, "", "/login", credentials{"b@example.com", "wrong password"}); st != http.StatusUnauthorized {
		t.Errorf("another account from %s: %d, want 401", elsewhere, st)
	}
	e.advance(loginWindow)
	for _, peer := range []string{elsewhere, attacker} {
		if w := login(peer, "correct horse"); w.Code != http.StatusOK {
			t.Errorf("from %s after the window: %d, want 200", peer, w.Code)
		}
	}
}
