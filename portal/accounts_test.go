package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/portal/sessions"
)

func TestSignupsAreLimitedPerAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Every attempt counts, whether it succeeds or not.
	for i := range signupsPerAddress {
		pw := "correct horse"
		if i%2 == 1 {
			pw = "short"
		}
		if resp := e.api(e.browser(), "POST", "/signup", credentials{fmt.Sprintf("u%d@example.com", i), pw}, nil); resp.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("attempt %d limited", i)
		}
	}
	e.advance(time.Minute)
	var aerr apiError
	resp := e.api(e.browser(), "POST", "/signup", credentials{"late@example.com", "correct horse"}, &aerr)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3540" ||
		aerr.Code != "too_many_attempts" || aerr.Description != "too many sign-ups from your address: try again in 59m0s" {
		t.Errorf("over the limit: %d Retry-After %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), aerr)
	}
	b := e.browser()
	_, _, tok := e.page(b, "/signup")
	hresp, body := e.post(b, "/signup", url.Values{"csrf_token": {tok}, "email": {"late@example.com"}, "password": {"correct horse"}})
	if hresp.StatusCode != http.StatusTooManyRequests || hresp.Header.Get("Retry-After") != "3540" || !strings.Contains(body, "Too many sign-ups from your address") {
		t.Errorf("HTML over the limit: %d Retry-After %q\n%s", hresp.StatusCode, hresp.Header.Get("Retry-After"), body)
	}
	if _, ok := e.store.Developer("late@example.com"); ok {
		t.Error("a limited sign-up was stored")
	}
	e.advance(signupWindow)
	e.developer("late@example.com")
}

func TestFailedLoginsAreLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.developer("a@example.com")
	c := e.browser()
	for i := range loginFailuresPerPlace {
		if resp := e.api(c, "POST", "/login", credentials{"a@example.com", "wrong password"}, nil); resp.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	resp := e.api(c, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "900" {
		t.Errorf("over the limit: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	e.advance(loginWindow)
	if resp := e.api(c, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil); resp.StatusCode != 200 {
		t.Errorf("after the window: %d", resp.StatusCode)
	}

	// Per address: many accounts from one address.
	for i := range loginFailuresPerAddress {
		e.api(c, "POST", "/login", credentials{fmt.Sprintf("u%d@example.com", i), "wrong password"}, nil)
	}
	if resp := e.api(c, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("address over the limit: %d", resp.StatusCode)
	}
}

func TestSignupByInvitationOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tab := e.freshTable()
	tab.Portal.Signup = "invite"
	e.table.Store(tab) // a hot swap
	var aerr apiError
	if resp := e.api(e.browser(), "POST", "/signup", credentials{"a@example.com", "correct horse"}, &aerr); resp.StatusCode != 403 {
		t.Errorf("signup: %d %+v", resp.StatusCode, aerr)
	}
	if status, body, _ := e.page(e.browser(), "/signup"); status != 403 || strings.Contains(body, `href="/signup"`) {
		t.Errorf("signup page: %d", status)
	}
	var dup apiError
	e.table.Store(e.freshTable())
	e.developer("a@example.com")
	if resp := e.api(e.browser(), "POST", "/signup", credentials{"A@example.com", "correct horse"}, &dup); resp.StatusCode != 409 {
		t.Errorf("duplicate signup: %d %+v", resp.StatusCode, dup)
	}
}

// An account's own password buys neither unbounded bcrypt work nor
// unbounded sessions: logins of any outcome are limited per address, and
// an account keeps its newest sessions.MaxPerAccount sessions.
func TestSuccessfulLoginsAreLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const home = "198.51.100.1:1234"
	if st := e.callFrom(home, "", "/signup", credentials{"a@example.com", "correct horse"}); st != http.StatusCreated {
		t.Fatalf("sign-up: %d", st)
	}
	// Concurrent, but fewer at once than the failure slots an attempt
	// holds while it runs (loginFailuresPerPlace), which would refuse the
	// rest however fast bcrypt is.
	const burst, inFlight = loginsPerAddress + 20, loginFailuresPerPlace - 1
	answers := make([]*httptest.ResponseRecorder, burst)
	var wg sync.WaitGroup
	next := make(chan int)
	for range inFlight {
		wg.Go(func() {
			for i := range next {
				answers[i] = e.answerFrom(home, "", "/login", credentials{"a@example.com", "correct horse"})
			}
		})
	}
	for i := range burst {
		next <- i
	}
	close(next)
	wg.Wait()
	got, live := statuses{}, 0
	for _, w := range answers {
		got[w.Code]++
		for _, c := range w.Result().Cookies() {
			if c.Name == sessionCookie && c.Value != "" {
				if _, ok, _ := e.s.opts.Sessions.Get(context.Background(), c.Value); ok {
					live++
				}
			}
		}
	}
	if got[http.StatusOK] != loginsPerAddress || got[http.StatusTooManyRequests] != burst-loginsPerAddress {
		t.Errorf("a burst of %d correct logins from one address: %v, want %d × 200 and the rest 429", burst, got, loginsPerAddress)
	}
	if live != sessions.MaxPerAccount {
		t.Errorf("%d sessions live after %d logins, want %d", live, got[http.StatusOK], sessions.MaxPerAccount)
	}
	var aerr apiError
	if w := e.answerFrom(home, "", "/login", credentials{"a@example.com", "correct horse"}); w.Code != http.StatusTooManyRequests ||
		json.Unmarshal(w.Body.Bytes(), &aerr) != nil || aerr.Description != "too many logins from your address: try again in 15m0s" {
		t.Errorf("over the limit: %d %s", w.Code, w.Body)
	}
	if st := e.callFrom("203.0.113.9:1234", "", "/login", credentials{"a@example.com", "correct horse"}); st != http.StatusOK {
		t.Errorf("another address: %d, want 200", st)
	}
	e.advance(loginWindow)
	if st := e.callFrom(home, "", "/login", credentials{"a@example.com", "correct horse"}); st != http.StatusOK {
		t.Errorf("after the window: %d, want 200", st)
	}
}
