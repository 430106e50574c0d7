package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
)

func TestProviderErrorsAreShownVerbatimAndLeaveNoState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantCode   string
		wantDesc   string
	}{
		{"400 invalid_client_metadata", 400, `{"error":"invalid_client_metadata","error_description":"response_types token is not allowed"}`,
			400, "invalid_client_metadata", "response_types token is not allowed"},
		{"401", 401, `{"error":"invalid_token","error_description":"The initial access token is expired"}`,
			502, "invalid_token", "The initial access token is expired"},
		{"500", 500, `{"error":"server_error","error_description":"database down"}`, 502, "server_error", "database down"},
		{"invalid JSON", 201, `{"client_id":`, 502, "server_error", "the identity provider's answer could not be used"},
		{"timeout", 0, "", 504, "temporarily_unavailable", "the identity provider did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tab := e.freshTable()
			tab.Portal.Catalogue["gluu_api"].DCR.Timeout = table.Duration(100 * time.Millisecond)
			e.table.Store(tab)
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if tt.status == 0 {
					<-r.Context().Done()
					return true
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
				return true
			})
			dev := e.developer("a@example.com")
			var aerr apiError
			resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
			if resp.StatusCode != tt.wantStatus || aerr.Code != tt.wantCode || aerr.Description != tt.wantDesc {
				t.Errorf("got %d %+v, want %d %q %q", resp.StatusCode, aerr, tt.wantStatus, tt.wantCode, tt.wantDesc)
			}
			if cs := e.store.Clients(""); len(cs) != 0 {
				t.Errorf("state after a failed registration: %+v", cs)
			}
		})
	}
}

// TestProviderRefusalShownWithoutSecrets: a refusal that repeats the
// request's Authorization shows the initial access token as [redacted]
// in the JSON answer, on the page and in the log, and one that holds a
// bidi override is shown as its status alone.
func TestProviderRefusalShownWithoutSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		wantDesc string
	}{
		{"Authorization repeated", `<html>401 Unauthorized: bad credentials "%s"</html>`,
			`<html>401 Unauthorized: bad credentials "[redacted]"</html>`},
		{"bidi override", "<html>401 Unauthorized %s \u202egnp.exe\u202c</html>",
			"Unauthorized (the identity provider's own words are not shown: they are not printable text)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log testutil.SyncBuffer
			e := newEnvLog(t, zerolog.New(&log))
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, tt.body, r.Header.Get("Authorization"))
				return true
			})
			dev := e.developer("a@example.com")
			var aerr apiError
			resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
			if resp.StatusCode != http.StatusBadGateway || aerr.Code != "invalid_token" || aerr.Description != tt.wantDesc {
				t.Errorf("got %d %+v, want 502 invalid_token %q", resp.StatusCode, aerr, tt.wantDesc)
			}
			_, _, tok := e.page(dev, "/clients/new?entry=gluu_api")
			_, page := e.post(dev, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
			for where, text := range map[string]string{"page": page, "log": log.String()} {
				if strings.Contains(text, testidp.InitialAccessToken) || strings.ContainsRune(text, '\u202e') || strings.Contains(text, `\u202e`) {
					t.Errorf("the %s shows the provider's secret or bidi override:\n%s", where, text)
				}
			}
		})
	}
}

// duplicateClientIDs makes the provider answer every registration with the
// same client_id, so that a second client cannot be stored (deletes fail
// when deleteFails, else succeed), and registers the first client for a
// developer, whom it returns.
func (e *env) duplicateClientIDs(deleteFails bool) *http.Client {
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodDelete && deleteFails:
			w.WriteHeader(http.StatusInternalServerError)
			return true
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
			return true
		case r.Method != http.MethodPost:
			return false
		}
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"client_id":"dup","client_secret":"s","registration_client_uri":"%s/register/dup","registration_access_token":"rat"}`, e.idp.URL)
		return true
	})
	dev := e.developer("a@example.com")
	e.create(dev, "first", "gluu_api")
	return dev
}

func TestClientLocationsEscapeTheClientID(t *testing.T) {
	t.Parallel()
	tests := []struct{ clientID, wantPath string }{
		{"plain", "/clients/plain"},
		{"a/b", "/clients/a%2Fb"},
		{"a?b=c", "/clients/a%3Fb=c"},
		{"a#b", "/clients/a%23b"},
		{"a b%2F", "/clients/a%20b%252F"},
	}
	for _, tt := range tests {
		// registered answers every registration with tt.clientID and logs
		// a developer in.
		registered := func(t *testing.T) (*env, *http.Client) {
			e := newEnv(t)
			id, _ := json.Marshal(tt.clientID)
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"client_id":%s,"client_secret":"s","registration_client_uri":"%s/register/x","registration_access_token":"rat"}`, id, e.idp.URL)
				return true
			})
			return e, e.developer("a@example.com")
		}
		t.Run("API "+tt.clientID, func(t *testing.T) {
			e, dev := registered(t)
			resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, nil)
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusCreated || loc != apiPrefix+tt.wantPath {
				t.Fatalf("create: %d to %q, want 201 to %q", resp.StatusCode, loc, apiPrefix+tt.wantPath)
			}
			var got clientView
			if resp := e.api(dev, "GET", tt.wantPath, nil, &got); resp.StatusCode != http.StatusOK || got.ClientID != tt.clientID {
				t.Errorf("GET the Location: %d %q, want 200 %q", resp.StatusCode, got.ClientID, tt.clientID)
			}
		})
		t.Run("HTML "+tt.clientID, func(t *testing.T) {
			e, dev := registered(t)
			_, _, tok := e.page(dev, "/clients/new?entry=gluu_api")
			resp, body := e.post(dev, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != tt.wantPath {
				t.Fatalf("create: %d to %q, want 303 to %q: %s", resp.StatusCode, loc, tt.wantPath, body)
			}
			if status, body, _ := e.page(dev, tt.wantPath); status != http.StatusOK || !strings.Contains(body, "is registered.") {
				t.Errorf("the result page: %d %s", status, body)
			}
			// The pages link to the client by the same escaped path.
			if _, body, _ := e.page(dev, "/clients"); !strings.Contains(body, `href="`+tt.wantPath+`"`) {
				t.Errorf("the clients page links to no %q: %s", tt.wantPath, body)
			}
		})
	}
}

func TestClientThatCannotBeStoredIsDeletedAtTheProvider(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.duplicateClientIDs(false)
	var aerr apiError
	if resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "second"}, &aerr); resp.StatusCode != 500 {
		t.Fatalf("second create: %d %+v", resp.StatusCode, aerr)
	}
	reqs := e.requests()
	if len(reqs) != 3 || reqs[2] != "DELETE /register/dup Bearer rat " {
		t.Errorf("provider requests = %q, want the unstored client deleted", reqs)
	}
	if cs := e.store.Clients(""); len(cs) != 1 || cs[0].ClientName != "first" {
		t.Errorf("clients = %+v", cs)
	}
}

func TestClientThatCannotBeStoredNorDeletedIsNamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.duplicateClientIDs(true)
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "second"}, &aerr)
	const want = "the client could not be stored, and the identity provider did not delete it again: ask the operator to delete client dup there"
	if resp.StatusCode != 500 || aerr.Description != want {
		t.Errorf("%d %+v, want 500 %q", resp.StatusCode, aerr, want)
	}
}

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
	if resp := e.api(dev, "DELETE", "/clients/"+first.ClientID, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
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
			if resp := e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, nil); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("delete: %d", resp.StatusCode)
			}
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

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	tests := []struct {
		name string
		body map[string]any
		code string
	}{
		{"no entry", map[string]any{"client_name": "x"}, "invalid_request"},
		{"unknown entry", map[string]any{"catalogue": []string{"nope"}, "client_name": "x"}, "invalid_request"},
		{"entry without dcr", map[string]any{"catalogue": []string{"nodcr"}, "client_name": "x"}, "invalid_request"},
		{"different policies", map[string]any{"catalogue": []string{"gluu_api", "free"}, "client_name": "x"}, "invalid_request"},
		{"no name", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": " "}, "invalid_client_metadata"},
		{"relative redirect", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x", "redirect_uris": []string{"/cb"}}, "invalid_redirect_uri"},
	}
	for _, tt := range tests {
		var aerr apiError
		if resp := e.api(dev, "POST", "/clients", tt.body, &aerr); resp.StatusCode != 400 || aerr.Code != tt.code {
			t.Errorf("%s: %d %+v, want 400 %s", tt.name, resp.StatusCode, aerr, tt.code)
		}
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d provider calls for invalid requests", n)
	}
	// Entries with one policy and the same settings share a client.
	c := e.create(dev, "both", "orders", "gluu_api", "orders")
	if len(c.Catalogue) != 2 || c.Catalogue[0] != "gluu_api" || c.Policy != "gold" {
		t.Errorf("multi-entry client = %+v", c)
	}
}

func TestUnreadableInitialAccessTokenIsTheOperators(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	e := newEnvLog(t, zerolog.New(&logs))
	os.Setenv(e.iat, "")
	dev := e.developer("a@example.com")
	const want = "the portal's registration settings are not usable: ask the operator"
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
	if resp.StatusCode != http.StatusInternalServerError || aerr.Code != "server_error" || aerr.Description != want {
		t.Errorf("API: %d %+v, want 500 %q", resp.StatusCode, aerr, want)
	}
	_, _, tok := e.page(dev, "/clients/new")
	hresp, body := e.post(dev, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
	if hresp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "The portal&#39;s registration settings are not usable: ask the operator.") {
		t.Errorf("HTML: %d\n%s", hresp.StatusCode, body)
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d provider calls", n)
	}
	if !strings.Contains(logs.String(), "environment variable "+e.iat+" is not set") {
		t.Errorf("the log does not name the variable:\n%s", logs.String())
	}
}

func TestCheckSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile, emptyFile := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	iat := testutil.Env(t, "PORTAL_TEST_IAT", "env-token")
	tests := []struct {
		name    string
		secrets map[string]*table.Secret // catalogue entry → its token; nil: none configured
		want    []string
	}{
		{"all readable", map[string]*table.Secret{"a": {Env: iat}, "b": {File: tokenFile}, "c": nil}, nil},
		{"unset variable shared by two entries", map[string]*table.Secret{"a": {Env: "PORTAL_TEST_UNSET"}, "b": {Env: "PORTAL_TEST_UNSET"}, "c": {Env: iat}},
			[]string{`portal: catalogue entries "a", "b" cannot register clients: dcr: the registration settings are not usable: initial_access_token: secret: environment variable PORTAL_TEST_UNSET is not set`}},
		{"missing and empty files", map[string]*table.Secret{"a": {File: filepath.Join(dir, "missing")}, "b": {File: emptyFile}},
			[]string{
				`portal: catalogue entry "b" cannot register clients: dcr: the registration settings are not usable: initial_access_token file:` + emptyFile + ` is empty`,
				`portal: catalogue entry "a" cannot register clients: dcr: the registration settings are not usable: initial_access_token: secret: open ` + filepath.Join(dir, "missing") + `: no such file or directory`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := &table.Table{Portal: table.Portal{Catalogue: map[string]*table.CatalogueEntry{
				"nodcr": {ID: "nodcr"},
			}}}
			for id, sec := range tt.secrets {
				tab.Portal.Catalogue[id] = &table.CatalogueEntry{ID: id, DCR: &table.DCR{Provider: "other", InitialAccessToken: sec}}
			}
			var got []string
			for _, err := range CheckSecrets(tab, "") {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckSecrets =\n%q\nwant\n%q", got, tt.want)
			}
			if all := strings.Join(got, " "); strings.Contains(all, "file-token") || strings.Contains(all, "env-token") {
				t.Error("a secret value is in the errors")
			}
		})
	}
	if errs := CheckSecrets(nil, ""); errs != nil {
		t.Errorf("CheckSecrets(nil) = %v", errs)
	}
}

// cancelOnRegister is a transport that cancels the developer's request
// when the registration reaches the provider, as a developer who goes away
// then would, and fails the call when that cancels it too.
type cancelOnRegister struct {
	cancel context.CancelFunc
}

func (c cancelOnRegister) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost {
		c.cancel()
		if err := r.Context().Err(); err != nil {
			return nil, err
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestRegistrationOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(Options{Table: e.table.Load, Store: e.store, Logger: zerolog.Nop(), BcryptCost: bcrypt.MinCost,
		HTTPClient: &http.Client{Transport: cancelOnRegister{cancel}}})
	if err != nil {
		t.Fatal(err)
	}
	e.developer("a@example.com")
	d, _ := e.store.Developer("a@example.com")
	c, aerr := s.createClient(ctx, registrant{email: d.Email, account: d.Created, place: "test"}, []string{"gluu_api"}, "app", nil)
	if aerr != nil {
		t.Fatalf("createClient after the developer went away: %v", aerr)
	}
	if stored, ok := e.store.Client(c.ClientID); !ok || stored.ClientName != "app" {
		t.Errorf("the client registered at the provider is not stored: %+v", stored)
	}
}

// TestRegistrationForARemovedAccountIsUndone: an account removed while
// the provider registers its client, and perhaps signed up for again
// under the same email meanwhile, gets no client: the registration is
// deleted at the provider again, the developer is told why and shown no
// secret, and the new account holds nothing.
func TestRegistrationForARemovedAccountIsUndone(t *testing.T) {
	t.Parallel()
	for _, signUpAgain := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed up again %v", signUpAgain), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			entered, release := make(chan struct{}), make(chan struct{})
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodPost {
					close(entered)
					<-release
				}
				return false // the provider registers it
			})
			dev := e.developer("a@example.com")
			type answer struct {
				status int
				body   map[string]any
			}
			done := make(chan answer)
			go func() {
				var out map[string]any
				resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &out)
				done <- answer{resp.StatusCode, out}
			}()
			<-entered
			if _, err := e.store.RemoveDeveloper("a@example.com", t0); err != nil {
				t.Fatal(err)
			}
			var again *http.Client
			if signUpAgain {
				e.advance(time.Second)
				again = e.developer("a@example.com")
			}
			close(release)
			got := <-done
			const want = "your account was removed while the client was being registered: the client could not be stored; it was deleted at the provider again"
			if got.status != http.StatusUnauthorized || got.body["error"] != "unauthorized" || got.body["error_description"] != want || got.body["client_secret"] != nil {
				t.Errorf("answer %d %v, want 401 unauthorized %q", got.status, got.body, want)
			}
			if reqs := e.requests(); len(reqs) != 2 || !strings.HasPrefix(reqs[1], "DELETE /register/client-1 ") {
				t.Errorf("provider requests = %q, want the registration deleted again", reqs)
			}
			if cs := e.store.Clients(""); len(cs) != 0 {
				t.Errorf("clients stored: %+v", cs)
			}
			if again != nil {
				var list []clientView
				if e.api(again, "GET", "/clients", nil, &list); len(list) != 0 {
					t.Errorf("the new account under the email holds %+v", list)
				}
			}
		})
	}
}

func TestRegistrationWhileShuttingDownIsUndone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	e.store.Close()
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
	const want = "the portal is shutting down: the client could not be stored; it was deleted at the provider again; register again in a moment"
	if resp.StatusCode != http.StatusServiceUnavailable || aerr.Code != "temporarily_unavailable" || aerr.Description != want {
		t.Errorf("%d %+v, want 503 %q", resp.StatusCode, aerr, want)
	}
	if reqs := e.requests(); len(reqs) != 2 || !strings.HasPrefix(reqs[1], "DELETE /register/client-1 ") {
		t.Errorf("provider requests = %q, want the registration deleted again", reqs)
	}
	if len(e.store.Clients("")) != 0 {
		t.Error("a client was stored after Close")
	}
}

// TestSigningAlgorithmIsOneTheAPIsAccept: the algorithm, and the refusal
// of entries whose APIs take tokens from different identity providers.
func TestSigningAlgorithmIsOneTheAPIsAccept(t *testing.T) {
	t.Parallel()
	tab := &table.Table{APIs: map[string]*table.API{
		"keyless": {ID: "keyless"},
		"es":      {ID: "es", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256"}}},
		"es_rs":   {ID: "es_rs", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256", "RS256"}}},
		"es_ps":   {ID: "es_ps", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256", "PS256"}}},
		"ps_rs":   {ID: "ps_rs", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"PS256", "RS256"}}},
		"other":   {ID: "other", JWT: &table.JWTAuth{IdP: "kc", Algorithms: []string{"RS256"}}},
		"alias":   {ID: "alias", JWT: &table.JWTAuth{IdP: "gluu2", Algorithms: []string{"RS256"}}},
	}, IdPs: map[string]*table.IdP{
		"gluu":  {ID: "gluu", Issuer: "https://gluu.example/"},
		"gluu2": {ID: "gluu2", Issuer: "https://gluu.example/"}, // another entry for the same provider
		"kc":    {ID: "kc", Issuer: "https://kc.example/"},
	}}
	tests := []struct {
		apis    []string
		want    string
		wantErr string
	}{
		{[]string{"keyless"}, "", ""},
		{[]string{"es_rs"}, "RS256", ""},
		{[]string{"es"}, "ES256", ""},
		{[]string{"keyless", "es"}, "ES256", ""},
		{[]string{"es_ps", "ps_rs"}, "PS256", ""},
		{[]string{"es_rs", "ps_rs"}, "RS256", ""},
		{[]string{"es", "keyless", "ps_rs"}, "", `APIs "e0" and "e2" accept tokens signed with different algorithms: get one client for each`},
		// A client gets tokens from one IdP, and the gateway binds it to one.
		{[]string{"es_rs", "other"}, "", `APIs "e0" and "e1" take tokens from different identity providers (https://gluu.example/, https://kc.example/): get one client for each`},
		{[]string{"es_rs", "alias"}, "RS256", ""}, // two IdP entries, one issuer
	}
	for _, tt := range tests {
		var entries []*table.CatalogueEntry
		for i, api := range tt.apis {
			entries = append(entries, &table.CatalogueEntry{ID: fmt.Sprint("e", i), API: api})
		}
		got, aerr := signingAlg(tab, entries)
		gotErr := ""
		if aerr != nil && aerr.Status == http.StatusBadRequest {
			gotErr = aerr.Description
		} else if aerr != nil {
			gotErr = aerr.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("%v: %q, error %q; want %q, error %q", tt.apis, got, gotErr, tt.want, tt.wantErr)
		}
	}
	if a := tab.APIs["es_ps"].JWT.Algorithms; !slices.Equal(a, []string{"ES256", "PS256"}) {
		t.Errorf("the table's algorithms were changed: %v", a)
	}
}

func TestGluuClientsAreSignedWithAnAlgorithmTheAPIAccepts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tab := e.freshTable()
	tab.APIs["gluu_api"].JWT = &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256"}}
	tab.Portal.Catalogue["gluu_api"].DCR.Provider = "gluu"
	e.table.Store(tab)
	e.create(e.developer("a@example.com"), "app", "gluu_api")
	if reqs := e.requests(); len(reqs) != 1 || !strings.Contains(reqs[0], `"access_token_as_jwt":true,"access_token_signing_alg":"ES256"`) {
		t.Errorf("provider requests = %q, want ES256 asked for", reqs)
	}
}
