package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
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
