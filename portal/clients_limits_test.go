package portal

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/portal/store"
)

func TestConcurrentRegistrationsArePersistedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Each developer tries two more than the cap: exactly the cap is
	// registered and stored, the rest refused before reaching the provider.
	const devs, tries = 5, MaxClientsPerDeveloper + 2
	clients := make([]*http.Client, devs)
	for d := range devs {
		clients[d] = e.developer(fmt.Sprintf("dev%d@example.com", d))
	}
	var wg sync.WaitGroup
	codes := make(chan int, devs*tries)
	for d, dev := range clients {
		for i := range tries {
			wg.Go(func() {
				resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": fmt.Sprint("app", d, "-", i)}, nil)
				codes <- resp.StatusCode
			})
		}
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if want := map[int]int{http.StatusCreated: devs * MaxClientsPerDeveloper, http.StatusConflict: devs * 2}; !maps.Equal(count, want) {
		t.Errorf("statuses %v, want %v", count, want)
	}
	if n := len(e.requests()); n != devs*MaxClientsPerDeveloper {
		t.Errorf("%d provider calls, want %d", n, devs*MaxClientsPerDeveloper)
	}
	path := e.store.Path()
	e.store.Close()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := map[string]bool{}
	for _, c := range st.Clients("") {
		ids[c.ClientID] = true
	}
	if len(ids) != devs*MaxClientsPerDeveloper || len(st.Clients("")) != devs*MaxClientsPerDeveloper {
		t.Errorf("%d distinct clients persisted (%d rows), want %d", len(ids), len(st.Clients("")), devs*MaxClientsPerDeveloper)
	}
	for d := range devs {
		if n := len(st.Clients(fmt.Sprintf("dev%d@example.com", d))); n != MaxClientsPerDeveloper {
			t.Errorf("dev%d has %d clients, want %d", d, n, MaxClientsPerDeveloper)
		}
	}
}

func TestClientsPerDeveloperAreCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	var first clientView
	for i := range MaxClientsPerDeveloper {
		c := e.create(dev, fmt.Sprint("app", i), "gluu_api")
		if i == 0 {
			first = c
		}
	}
	e.advance(366 * 24 * time.Hour) // expired clients still count until deleted
	e.api(dev, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil)
	calls := len(e.requests())
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "one more"}, &aerr)
	if resp.StatusCode != http.StatusConflict || aerr.Code != "too_many_clients" ||
		aerr.Description != fmt.Sprintf("you have reached the limit of %d clients per developer: delete one you no longer use, then register again", MaxClientsPerDeveloper) {
		t.Errorf("over the cap: %d %+v", resp.StatusCode, aerr)
	}
	if n := len(e.requests()); n != calls {
		t.Errorf("%d provider calls over the cap", n-calls)
	}
	_, _, tok := e.page(dev, "/clients/new")
	if hresp, body := e.post(dev, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}}); hresp.StatusCode != http.StatusConflict ||
		!strings.Contains(body, "You have reached the limit of") {
		t.Errorf("HTML over the cap: %d\n%s", hresp.StatusCode, body)
	}
	// Another developer is not affected, and a deletion frees a place.
	e.create(e.developer("b@example.com"), "b app", "gluu_api")
	e.remove(dev, first.ClientID)
	e.create(dev, "replacement", "gluu_api")
}

// TestRegistrationsAreLimited: registrations that call the provider are
// refused with 429 and Retry-After, without a provider call, past
// registrationsPerAccount an hour for one account (which may register and
// delete over and over: each deletion leaves a tombstone) and past
// registrationsPerPlace for one client address (which may sign up more
// accounts); the next window allows again.
func TestRegistrationsAreLimited(t *testing.T) {
	t.Parallel()
	const want = "too many clients were registered in the last hour by your account or from your address: register again in 1h0m0s"
	refused := func(t *testing.T, e *env, dev *http.Client) {
		t.Helper()
		calls := len(e.requests())
		var aerr apiError
		resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "one more"}, &aerr)
		if resp.StatusCode != http.StatusTooManyRequests || aerr.Code != "too_many_attempts" || aerr.Description != want || resp.Header.Get("Retry-After") != "3600" {
			t.Errorf("past the limit: %d %+v, Retry-After %q", resp.StatusCode, aerr, resp.Header.Get("Retry-After"))
		}
		if n := len(e.requests()); n != calls {
			t.Errorf("%d provider calls past the limit", n-calls)
		}
	}
	cycle := func(t *testing.T, e *env, dev *http.Client, n int) {
		t.Helper()
		for i := range n {
			c := e.create(dev, fmt.Sprint("app", i), "gluu_api")
			e.remove(dev, c.ClientID)
		}
	}
	t.Run("per account", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		dev := e.developer("a@example.com")
		cycle(t, e, dev, registrationsPerAccount)
		refused(t, e, dev)
		e.create(e.developer("b@example.com"), "b app", "gluu_api")
		e.advance(registrationWindow)
		e.api(dev, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil)
		e.create(dev, "next hour", "gluu_api")
	})
	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		for i := range registrationsPerPlace / registrationsPerAccount {
			cycle(t, e, e.developer(fmt.Sprintf("a%d@example.com", i)), registrationsPerAccount)
		}
		refused(t, e, e.developer("z@example.com"))
	})
}

// TestRegistrationFailingBeforeTheProviderNotCounted: an attempt that
// fails before the provider is called (here, the operator's settings name
// an initial access token that is not there) takes no place under the
// registration limits, so that a fault of the operator's does not lock
// developers out once it is fixed.
func TestRegistrationFailingBeforeTheProviderNotCounted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	e.table.Store(testTable(e.idp.URL, "CUEGATE_TEST_UNSET_INITIAL_ACCESS_TOKEN"))
	for range registrationsPerAccount + 1 {
		if resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, nil); resp.StatusCode < 500 {
			t.Fatalf("a registration without its initial access token: %d", resp.StatusCode)
		}
	}
	e.table.Store(e.freshTable())
	e.create(dev, "once fixed", "gluu_api")
}

// TestUpdatesAreLimited: client changes that call the provider (renames,
// redirect URIs, rotations: each an RFC 7592 call) are refused with 429
// and Retry-After, without a provider call, past updatesPerAccount an
// hour for one account; one refused before the call (an invalid name)
// does not count.
func TestUpdatesAreLimited(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "first")
	if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": ""}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("an empty name: %d", resp.StatusCode)
	}
	for i := range updatesPerAccount {
		if resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"client_name": fmt.Sprint("n", i)}, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("change %d: %d", i, resp.StatusCode)
		}
	}
	calls := len(e.requests())
	var aerr apiError
	resp := e.api(dev, "PATCH", "/clients/"+c.ClientID, map[string]any{"rotate_secret": true}, &aerr)
	const want = "too many client changes were made in the last hour by your account or from your address: try again in 1h0m0s"
	if resp.StatusCode != http.StatusTooManyRequests || aerr.Description != want || resp.Header.Get("Retry-After") != "3600" {
		t.Errorf("past the limit: %d %+v, Retry-After %q", resp.StatusCode, aerr, resp.Header.Get("Retry-After"))
	}
	if n := len(e.requests()); n != calls {
		t.Errorf("%d provider calls past the limit", n-calls)
	}
}

// TestPortalWideLimits: past portal.registrations_per_hour registrations,
// or portal.signups_per_hour accounts created, in an hour, every account
// and address is refused (429 with Retry-After, no provider call) until
// the hour ends; failed sign-ups spend nothing of the portal's, a refusal
// gives the caller's own allowance back, and a reload that raises the
// limit lets more through at once.
func TestPortalWideLimits(t *testing.T) {
	t.Parallel()
	withLimits := func(e *env, registrations, signups int) {
		tb := e.freshTable()
		tb.Portal.RegistrationsPerHour, tb.Portal.SignupsPerHour = registrations, signups
		e.table.Store(tb)
	}
	t.Run("registrations", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		withLimits(e, 3, 100)
		for i := range 3 {
			e.create(e.developer(fmt.Sprintf("a%d@example.com", i)), "app", "gluu_api")
		}
		dev := e.developer("late@example.com")
		calls := len(e.requests())
		var aerr apiError
		resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "one more"}, &aerr)
		const want = "this portal registered as many clients as it may in an hour: register again in 1h0m0s"
		if resp.StatusCode != http.StatusTooManyRequests || aerr.Description != want || resp.Header.Get("Retry-After") != "3600" {
			t.Errorf("past the portal-wide limit: %d %+v, Retry-After %q", resp.StatusCode, aerr, resp.Header.Get("Retry-After"))
		}
		if n := len(e.requests()); n != calls {
			t.Errorf("%d provider calls past the limit", n-calls)
		}
		withLimits(e, 4, 100)
		e.create(dev, "after the reload", "gluu_api")
		e.advance(time.Hour)
		e.api(dev, "POST", "/login", credentials{"late@example.com", "correct horse"}, nil)
		e.create(dev, "next hour", "gluu_api")
	})
	t.Run("sign-ups", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		withLimits(e, 100, 3)
		signup := func(i int, email string) int {
			return e.callFrom(fmt.Sprintf("203.0.113.%d:1234", i+1), "", "/signup", credentials{email, "correct horse"})
		}
		for i := range 5 { // failed attempts, each from an address of its own, spend nothing of the portal's
			if st := signup(i, "not-an-email"); st != http.StatusBadRequest {
				t.Fatalf("a sign-up with a bad email: %d, want 400", st)
			}
		}
		got := statuses{}
		for i := range 5 {
			got[signup(10+i, fmt.Sprintf("u%d@example.com", i))]++
		}
		if got[http.StatusCreated] != 3 || got[http.StatusTooManyRequests] != 2 {
			t.Errorf("5 sign-ups from as many addresses, 3 an hour portal-wide: %v, want 3 × 201 and 2 × 429", got)
		}
		// The refused addresses kept their own allowance: with the
		// portal's raised, one of them signs up as often as an address may.
		withLimits(e, 100, 100)
		for i := range signupsPerAddress {
			if st := signup(14, fmt.Sprintf("v%d@example.com", i)); st != http.StatusCreated {
				t.Fatalf("sign-up %d from a refused address after the reload: %d, want 201", i, st)
			}
		}
		if st := signup(14, "w@example.com"); st != http.StatusTooManyRequests {
			t.Errorf("a sign-up past the address's allowance: %d, want 429", st)
		}
		e.advance(time.Hour)
		if st := signup(99, "next@example.com"); st != http.StatusCreated {
			t.Errorf("a sign-up the next hour: %d, want 201", st)
		}
	})
}
