package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/portal/store"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

// fakeIdP is an RFC 7591/7592 provider that records every request.
type fakeIdP struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []string // "METHOD /path Authorization body"
	next   int
	answer func(w http.ResponseWriter, r *http.Request) bool // true: answered
}

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), b))
		f.next++
		n := f.next
		answer := f.answer
		f.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		switch r.Method {
		case http.MethodPost:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"client_id":"client-%d","client_secret":"secret-%d","registration_client_uri":"%s/register/client-%d","registration_access_token":"rat-%d","client_id_issued_at":null}`,
				n, n, f.URL, n, n)
		case http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIdP) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

func (f *fakeIdP) setAnswer(a func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

type env struct {
	t     *testing.T
	srv   *httptest.Server
	s     *Server
	store *store.Store
	idp   *fakeIdP
	table atomic.Pointer[table.Table]
	now   atomic.Pointer[time.Time]
}

func testTable(idpURL string) *table.Table {
	dcr := &table.DCR{
		Provider: "other", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_post",
		ResponseTypes: []string{"token"}, RegistrationEndpoint: idpURL + "/register", TokenEndpoint: idpURL + "/token",
		InitialAccessToken: &table.Secret{Env: "PORTAL_TEST_IAT"}, Timeout: table.Duration(2 * time.Second),
	}
	dcr2 := *dcr
	return &table.Table{
		Gateway: table.Gateway{Listen: "127.0.0.1:8080", PublicURL: "https://gw.example"},
		APIs: map[string]*table.API{
			"gluu_api": {ID: "gluu_api", Name: "Gluu API", ListenPath: "/gluu-api/"},
			"orders":   {ID: "orders", Name: "Orders", ListenPath: "/orders"}, // as compiled: no trailing slash
		},
		Policies: map[string]*table.Policy{
			"gold": {ID: "gold", Name: "Gold",
				Rate: &table.Rate{Requests: 100, Per: table.Duration(time.Minute)}, Quota: &table.Quota{Max: 10000, Period: table.Duration(720 * time.Hour)},
				KeyExpiresIn: table.Duration(8760 * time.Hour)},
			"free": {ID: "free", Name: "Free"},
		},
		Portal: table.Portal{Signup: "open", RedirectURISeparator: ";", SessionTTL: table.Duration(time.Hour),
			Catalogue: map[string]*table.CatalogueEntry{
				"gluu_api": {ID: "gluu_api", Name: "Gluu API", Description: "Gluu things", API: "gluu_api", Policy: "gold", DCR: dcr},
				"orders":   {ID: "orders", Name: "Orders", Description: "Orders too", API: "orders", Policy: "gold", DCR: &dcr2},
				"free":     {ID: "free", Name: "Free tier", API: "orders", Policy: "free", DCR: dcr},
				"nodcr":    {ID: "nodcr", Name: "Unregistrable", API: "orders", Policy: "gold"},
			}},
	}
}

func newEnv(t *testing.T) *env {
	return newEnvLog(t, zerolog.Nop())
}

func newEnvLog(t *testing.T, log zerolog.Logger) *env {
	return newEnvOpts(t, Options{Logger: log})
}

// newEnvTLS is a portal served over TLS (Options.Secure).
func newEnvTLS(t *testing.T) *env {
	return newEnvOpts(t, Options{Logger: zerolog.Nop(), Secure: true})
}

// newEnvOpts is a portal with opts' Logger and Secure, served over TLS
// when Secure is set.
func newEnvOpts(t *testing.T, opts Options) *env {
	t.Setenv("PORTAL_TEST_IAT", "initial-token")
	e := &env{t: t, idp: newFakeIdP(t)}
	e.table.Store(testTable(e.idp.URL))
	now := t0
	e.now.Store(&now)
	st, err := store.Open(filepath.Join(t.TempDir(), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	opts.Table, opts.Store, opts.BcryptCost = e.table.Load, st, bcrypt.MinCost
	opts.Now = func() time.Time { return *e.now.Load() }
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The tests' bursts must not depend on how fast bcrypt runs on a
	// loaded machine under the race detector: they queue as long as needed.
	// TestPasswordWorkIsBounded tests the bound itself.
	s.hashing = newWorkSlots(cap(s.hashing.running), 1000, time.Minute)
	e.s = s
	if opts.Secure {
		e.srv = httptest.NewTLSServer(s.Handler())
	} else {
		e.srv = httptest.NewServer(s.Handler())
	}
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) advance(d time.Duration) {
	n := e.now.Load().Add(d)
	e.now.Store(&n)
}

// browser is a client with its own cookie jar that does not follow redirects.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: e.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// api calls the JSON API and decodes the answer into out (when not nil).
func (e *env) api(c *http.Client, method, path string, body any, out any) *http.Response {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+apiPrefix+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp
}

// developer signs up a new developer and returns their logged-in client.
func (e *env) developer(email string) *http.Client {
	e.t.Helper()
	c := e.browser()
	if resp := e.api(c, "POST", "/signup", credentials{email, "correct horse"}, nil); resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("signup %s: %d", email, resp.StatusCode)
	}
	return c
}

func (e *env) create(c *http.Client, name string, entries ...string) clientView {
	e.t.Helper()
	var out clientView
	resp := e.api(c, "POST", "/clients", map[string]any{"catalogue": entries, "client_name": name, "redirect_uris": []string{}}, &out)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("create: %d %+v", resp.StatusCode, out)
	}
	return out
}

func TestAPIJourney(t *testing.T) {
	e := newEnv(t)
	dev := e.developer("Dev@Example.com")

	var cat []catalogueItem
	if resp := e.api(dev, "GET", "/catalogue", nil, &cat); resp.StatusCode != 200 || len(cat) != 4 {
		t.Fatalf("catalogue: %d %+v", resp.StatusCode, cat)
	}
	if cat[0].ID != "free" || cat[1].ID != "gluu_api" || cat[1].Policy != "gold" ||
		cat[1].Limits != "100 requests per minute, 10,000 per 30 days, keys expire after 365 days" {
		t.Errorf("catalogue = %+v", cat)
	}

	c := e.create(dev, "my app", "gluu_api")
	wantExp := t0.Add(8760 * time.Hour)
	if c.ClientID != "client-1" || c.ClientSecret != "secret-1" || c.TokenEndpoint != e.idp.URL+"/token" ||
		c.Policy != "gold" || len(c.Catalogue) != 1 || !c.CreatedAt.Equal(t0) || c.ExpiresAt == nil || !c.ExpiresAt.Equal(wantExp) {
		t.Errorf("created = %+v", c)
	}
	reqs := e.idp.requests()
	want := `POST /register Bearer initial-token {"client_name":"my app","grant_types":["client_credentials"],"response_types":["token"],"token_endpoint_auth_method":"client_secret_post"}`
	if len(reqs) != 1 || reqs[0] != want {
		t.Errorf("provider requests = %q, want %q", reqs, want)
	}
	if bnd, found := e.store.Binding("client-1"); bnd.Policy != "gold" || !bnd.ExpiresAt.Equal(wantExp) || bnd.Revoked || !found {
		t.Errorf("Binding = %+v %v", bnd, found)
	}
	stored, _ := e.store.Client("client-1")
	if stored.Developer != "dev@example.com" || stored.RegistrationAccessToken != "rat-1" {
		t.Errorf("stored = %+v", stored)
	}

	var list []clientView
	e.api(dev, "GET", "/clients", nil, &list)
	if len(list) != 1 || list[0].ClientID != "client-1" || list[0].ClientSecret != "" {
		t.Errorf("list = %+v (the list shows no secrets)", list)
	}
	var one clientView
	if resp := e.api(dev, "GET", "/clients/client-1", nil, &one); resp.StatusCode != 200 || one.ClientSecret != "secret-1" {
		t.Errorf("get: %d %+v", resp.StatusCode, one)
	}

	if resp := e.api(dev, "DELETE", "/clients/client-1", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if reqs := e.idp.requests(); len(reqs) != 2 || reqs[1] != "DELETE /register/client-1 Bearer rat-1 " {
		t.Errorf("provider requests = %q, want an RFC 7592 DELETE", reqs)
	}
	if bnd, found := e.store.Binding("client-1"); !bnd.Revoked || !found {
		t.Error("deleted client is not revoked")
	}
	if resp := e.api(dev, "GET", "/clients/client-1", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("get deleted: %d", resp.StatusCode)
	}

	if resp := e.api(dev, "POST", "/logout", map[string]any{}, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	var aerr apiError
	if resp := e.api(dev, "GET", "/clients", nil, &aerr); resp.StatusCode != http.StatusUnauthorized || aerr.Code != "unauthorized" {
		t.Errorf("after logout: %d %+v", resp.StatusCode, aerr)
	}
	var who map[string]string
	if resp := e.api(dev, "POST", "/login", credentials{"dev@example.com", "correct horse"}, &who); resp.StatusCode != 200 || who["email"] != "dev@example.com" {
		t.Errorf("login: %d %v", resp.StatusCode, who)
	}
}

func TestJSONNeedsJSONContentType(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""} {
		resp, err := http.Post(e.srv.URL+apiPrefix+"/login", ct, strings.NewReader(`{"email":"a@b.c","password":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d, want 415", ct, resp.StatusCode)
		}
	}
	resp, _ := http.Post(e.srv.URL+apiPrefix+"/login", "application/json; charset=utf-8", strings.NewReader(`{"email":"a@b.c","password":"x"}`))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("application/json; charset=utf-8: %d, want 401", resp.StatusCode)
	}
}

func TestProviderErrorsAreShownVerbatimAndLeaveNoState(t *testing.T) {
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
			tab := testTable(e.idp.URL)
			tab.Portal.Catalogue["gluu_api"].DCR.Timeout = table.Duration(100 * time.Millisecond)
			e.table.Store(tab)
			e.idp.setAnswer(func(w http.ResponseWriter, r *http.Request) bool {
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

// duplicateClientIDs makes the provider answer every registration with the
// same client_id, so that a second client cannot be stored (deletes fail
// when deleteFails, else fall to the fake's default), and registers the
// first client for a developer, whom it returns.
func (e *env) duplicateClientIDs(deleteFails bool) *http.Client {
	e.idp.setAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodDelete && deleteFails:
			w.WriteHeader(http.StatusInternalServerError)
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

func TestClientThatCannotBeStoredIsDeletedAtTheProvider(t *testing.T) {
	e := newEnv(t)
	dev := e.duplicateClientIDs(false)
	var aerr apiError
	if resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "second"}, &aerr); resp.StatusCode != 500 {
		t.Fatalf("second create: %d %+v", resp.StatusCode, aerr)
	}
	reqs := e.idp.requests()
	if len(reqs) != 3 || reqs[2] != "DELETE /register/dup Bearer rat " {
		t.Errorf("provider requests = %q, want the unstored client deleted", reqs)
	}
	if cs := e.store.Clients(""); len(cs) != 1 || cs[0].ClientName != "first" {
		t.Errorf("clients = %+v", cs)
	}
}

func TestClientThatCannotBeStoredNorDeletedIsNamed(t *testing.T) {
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
	if n := len(e.idp.requests()); n != devs*MaxClientsPerDeveloper {
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
	calls := len(e.idp.requests())
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "one more"}, &aerr)
	if resp.StatusCode != http.StatusConflict || aerr.Code != "too_many_clients" ||
		aerr.Description != fmt.Sprintf("you have reached the limit of %d clients per developer: delete one you no longer use, then register again", MaxClientsPerDeveloper) {
		t.Errorf("over the cap: %d %+v", resp.StatusCode, aerr)
	}
	if n := len(e.idp.requests()); n != calls {
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

func TestSignupsAreLimitedPerAddress(t *testing.T) {
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

func TestDeveloperIsolation(t *testing.T) {
	e := newEnv(t)
	alice, bob := e.developer("alice@example.com"), e.developer("bob@example.com")
	c := e.create(alice, "alice app", "gluu_api")
	var list []clientView
	e.api(bob, "GET", "/clients", nil, &list)
	if len(list) != 0 {
		t.Errorf("bob sees %+v", list)
	}
	for _, method := range []string{"GET", "DELETE"} {
		if resp := e.api(bob, method, "/clients/"+c.ClientID, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob %s alice's client: %d, want 404", method, resp.StatusCode)
		}
	}
	resp, _ := bob.Get(e.srv.URL + "/clients/" + c.ClientID)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob's HTML detail of alice's client: %d", resp.StatusCode)
	}
	if _, ok := e.store.Client(c.ClientID); !ok {
		t.Error("alice's client is gone")
	}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// page GETs an HTML page and returns its body and CSRF token.
func (e *env) page(c *http.Client, path string) (int, string, string) {
	e.t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	tok := ""
	if m := csrfRE.FindSubmatch(b); m != nil {
		tok = string(m[1])
	}
	return resp.StatusCode, string(b), tok
}

func (e *env) post(c *http.Client, path string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestHTMLWizard(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	_, _, tok := e.page(b, "/signup")
	resp, body := e.post(b, "/signup", url.Values{"csrf_token": {tok}, "email": {"dev@example.com"}, "password": {"correct horse"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", resp.StatusCode, body)
	}
	if _, body, _ := e.page(b, resp.Header.Get("Location")); !strings.Contains(body, `<p class="flash" role="status">Welcome — your account is ready.</p>`) {
		t.Errorf("no welcome after sign-up:\n%s", body)
	}
	if _, body, _ := e.page(b, "/clients"); strings.Contains(body, "Welcome") {
		t.Error("the welcome is shown twice")
	}
	status, body, tok := e.page(b, "/clients/new?entry=gluu_api")
	if status != 200 || !strings.Contains(body, `value="gluu_api" checked`) || strings.Contains(body, "Unregistrable") {
		t.Fatalf("step 1: %d %s", status, body)
	}
	// Entries bound to different policies cannot go together.
	resp, body = e.post(b, "/clients/new", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api", "free"}})
	if resp.StatusCode != 400 || !strings.Contains(body, "different policies") {
		t.Errorf("mixed policies: %d", resp.StatusCode)
	}
	resp, body = e.post(b, "/clients/new", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api", "orders"}})
	if resp.StatusCode != 200 || !strings.Contains(body, `name="client_name"`) || !strings.Contains(body, "<code>;</code>") {
		t.Fatalf("step 2: %d %s", resp.StatusCode, body)
	}
	resp, body = e.post(b, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api", "orders"},
		"client_name": {"wizard app"}, "redirect_uris": {"https://app.example/cb; https://app.example/cb2 ;"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/clients/client-1" {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	status, body, _ = e.page(b, "/clients/client-1")
	if status != 200 || !strings.Contains(body, "is registered.") {
		t.Errorf("result page: %d %s", status, body)
	}
	for _, want := range []string{"client-1", `<code class="copy">secret-1</code>`, e.idp.URL + "/token",
		"--data-urlencode &#39;client_secret=secret-1&#39;",
		"<dd>Gold — 100 requests per minute, 10,000 per 30 days, keys expire after 365 days</dd>",
		`curl -H &#34;Authorization: Bearer $ACCESS_TOKEN&#34; &#39;https://gw.example/gluu-api/&#39;`,
		`&#39;https://gw.example/orders/&#39;`} {
		if !strings.Contains(body, want) {
			t.Errorf("result page lacks %q:\n%s", want, body)
		}
	}
	c, _ := e.store.Client("client-1")
	if len(c.RedirectURIs) != 2 || c.RedirectURIs[1] != "https://app.example/cb2" || len(c.Catalogue) != 2 {
		t.Errorf("stored %+v", c)
	}
	if !strings.Contains(e.idp.requests()[0], `"redirect_uris":["https://app.example/cb","https://app.example/cb2"]`) {
		t.Errorf("provider got %s", e.idp.requests()[0])
	}

	// Seen again, it is the detail page, where the secret is off the
	// screen until asked for and the token command does not spell it out.
	_, body, _ = e.page(b, "/clients/client-1")
	if strings.Contains(body, "is registered.") || strings.Count(body, "secret-1") != 1 ||
		!strings.Contains(body, `<details class="secret"><summary>Show client secret</summary><code class="copy">secret-1</code></details>`) ||
		!strings.Contains(body, "--data-urlencode &#39;client_secret=&#39;&#34;$CLIENT_SECRET&#34;") ||
		!strings.Contains(body, "<dd>Gold — 100 requests per minute") {
		t.Errorf("detail page:\n%s", body)
	}
	status, body, _ = e.page(b, "/clients")
	if status != 200 || !strings.Contains(body, "wizard app") {
		t.Errorf("list: %d", status)
	}
	status, body, tok = e.page(b, "/clients/client-1/delete")
	if status != 200 || !strings.Contains(body, "cannot be undone") {
		t.Errorf("confirm: %d", status)
	}
	resp, _ = e.post(b, "/clients/client-1/delete", url.Values{"csrf_token": {tok}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	_, body, tok = e.page(b, "/clients")
	if !strings.Contains(body, `<p class="flash" role="status">Client wizard app deleted.</p>`) {
		t.Errorf("no flash after delete:\n%s", body)
	}
	resp, _ = e.post(b, "/logout", url.Values{"csrf_token": {tok}})
	if status, _, _ := e.page(b, "/clients"); resp.StatusCode != http.StatusSeeOther || status != http.StatusSeeOther {
		t.Errorf("after logout /clients: %d", status)
	}
	if _, body, _ := e.page(b, resp.Header.Get("Location")); !strings.Contains(body, `<p class="flash" role="status">You are logged out.</p>`) {
		t.Errorf("no flash after logout:\n%s", body)
	}
}

var flashRE = regexp.MustCompile(`<p class="flash" role="status">([^<]*)</p>`)

func TestFlashCodes(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ path, want string }{
		{"/login?m=logged-out", "You are logged out."},
		{"/login", ""},
		{"/login?m=unknown", ""},
		{"/login?m=%3Cb%3Ezqx%3C%2Fb%3E", ""}, // text from the request is never shown
	} {
		_, body, _ := e.page(e.browser(), tt.path)
		got := ""
		if m := flashRE.FindStringSubmatch(body); m != nil {
			got = m[1]
		}
		if got != tt.want || strings.Contains(body, "zqx") {
			t.Errorf("%s: flash %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestLoginErrorIsASentence(t *testing.T) {
	e := newEnv(t)
	e.developer("a@example.com")
	b := e.browser()
	_, _, tok := e.page(b, "/login")
	resp, body := e.post(b, "/login", url.Values{"csrf_token": {tok}, "email": {"a@example.com"}, "password": {"not the password"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `<p class="error" role="alert">Wrong email or password.</p>`) {
		t.Errorf("%d\n%s", resp.StatusCode, body)
	}
}

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "",
		"wrong email or password":     "Wrong email or password.",
		"done.":                       "Done.",
		"élan?":                       "Élan?",
		`"x" is not an email address`: `"x" is not an email address.`,
	} {
		if got := sentence(in); got != want {
			t.Errorf("sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "app", "gluu_api")
	_, _, good := e.page(dev, "/clients")
	for name, form := range map[string]url.Values{
		"missing": {},
		"wrong":   {"csrf_token": {"not-the-token-not-the-token-not-the-token"}},
		"empty":   {"csrf_token": {""}},
	} {
		resp, _ := e.post(dev, "/clients/"+c.ClientID+"/delete", form)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s token: %d, want 403", name, resp.StatusCode)
		}
	}
	if _, ok := e.store.Client(c.ClientID); !ok {
		t.Fatal("client deleted without a valid CSRF token")
	}
	// Another visitor's token does not work either.
	other := e.developer("b@example.com")
	_, _, otherTok := e.page(other, "/clients")
	if resp, _ := e.post(dev, "/clients/"+c.ClientID+"/delete", url.Values{"csrf_token": {otherTok}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("another session's token: %d", resp.StatusCode)
	}
	if resp, _ := e.post(dev, "/clients/"+c.ClientID+"/delete", url.Values{"csrf_token": {good}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("good token: %d", resp.StatusCode)
	}
	// Anonymous forms use the double-submit cookie.
	anon := e.browser()
	if resp, _ := e.post(anon, "/login", url.Values{"email": {"a@example.com"}, "password": {"correct horse"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("login without token: %d", resp.StatusCode)
	}
	_, _, tok := e.page(anon, "/login")
	if resp, _ := e.post(anon, "/login", url.Values{"csrf_token": {tok}, "email": {"a@example.com"}, "password": {"correct horse"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with token: %d", resp.StatusCode)
	}
}

func TestCookies(t *testing.T) {
	e := newEnv(t)
	resp := e.api(e.browser(), "POST", "/signup", credentials{"a@example.com", "correct horse"}, nil)
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Secure || sc.MaxAge != 3600 {
		t.Errorf("session cookie = %+v", sc)
	}
	plain := httptest.NewRequest("GET", "/", nil)
	s, _ := New(Options{Table: e.table.Load, Store: e.store, Secure: true, BcryptCost: bcrypt.MinCost})
	if c := s.cookie(plain, sessionCookie, "x", 1); !c.Secure {
		t.Error("Secure option does not set Secure cookies")
	}

	// Behind a TLS-terminating proxy: Secure when a trusted proxy says
	// https, never on an untrusted peer's word.
	proxied := *e.table.Load()
	proxied.Portal.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	s, _ = New(Options{Table: func() *table.Table { return &proxied }, Store: e.store, BcryptCost: bcrypt.MinCost})
	for _, tt := range []struct {
		peer, proto string
		secure      bool
	}{
		{"10.1.1.1:4000", "https", true},
		{"10.1.1.1:4000", "http", false},
		{"10.1.1.1:4000", "", false},
		{"203.0.113.9:4000", "https", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		if tt.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tt.proto)
		}
		if c := s.cookie(r, sessionCookie, "x", 1); c.Secure != tt.secure {
			t.Errorf("peer %s, X-Forwarded-Proto %q: Secure %v, want %v", tt.peer, tt.proto, c.Secure, tt.secure)
		}
	}
}

func TestClientNameIsEscaped(t *testing.T) {
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, `<script>alert("x")</script>`, "gluu_api")
	for _, path := range []string{"/clients", "/clients/" + c.ClientID, "/clients/" + c.ClientID + "/delete"} {
		_, body, _ := e.page(dev, path)
		if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s does not escape the name:\n%s", path, body)
		}
	}
	_, _, tok := e.page(dev, "/clients/"+c.ClientID+"/delete")
	if resp, _ := e.post(dev, "/clients/"+c.ClientID+"/delete", url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	_, body, _ := e.page(dev, "/clients")
	if strings.Contains(body, "<script>") || !strings.Contains(body, "Client &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; deleted.") {
		t.Errorf("the deletion message does not escape the name:\n%s", body)
	}
}

func TestFailedLoginsAreLimited(t *testing.T) {
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

func TestExpiredRegistrationIsShown(t *testing.T) {
	e := newEnv(t)
	dev := e.developer("a@example.com")
	c := e.create(dev, "app", "gluu_api")
	e.advance(366 * 24 * time.Hour)
	var list []clientView
	e.api(dev, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil) // the session expired meanwhile
	e.api(dev, "GET", "/clients", nil, &list)
	if len(list) != 1 || !list[0].Expired {
		t.Errorf("list = %+v", list)
	}
	_, body, _ := e.page(dev, "/clients/"+c.ClientID)
	if !strings.Contains(body, "has expired") {
		t.Error("detail page does not say expired")
	}
	if bnd, _ := e.store.Binding(c.ClientID); !bnd.ExpiresAt.Before(*e.now.Load()) {
		t.Errorf("Binding expiry %v is not past", bnd.ExpiresAt)
	}
}

func TestCreateValidation(t *testing.T) {
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
	if n := len(e.idp.requests()); n != 0 {
		t.Errorf("%d provider calls for invalid requests", n)
	}
	// Entries with one policy and the same settings share a client.
	c := e.create(dev, "both", "orders", "gluu_api", "orders")
	if len(c.Catalogue) != 2 || c.Catalogue[0] != "gluu_api" || c.Policy != "gold" {
		t.Errorf("multi-entry client = %+v", c)
	}
}

func TestSignupByInvitationOnly(t *testing.T) {
	e := newEnv(t)
	tab := testTable(e.idp.URL)
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
	e.table.Store(testTable(e.idp.URL))
	e.developer("a@example.com")
	if resp := e.api(e.browser(), "POST", "/signup", credentials{"A@example.com", "correct horse"}, &dup); resp.StatusCode != 409 {
		t.Errorf("duplicate signup: %d %+v", resp.StatusCode, dup)
	}
}

func TestLimitsInWords(t *testing.T) {
	d := func(s string) table.Duration { v, _ := time.ParseDuration(s); return table.Duration(v) }
	tests := []struct {
		p    table.Policy
		want string
	}{
		{table.Policy{Rate: &table.Rate{Requests: 100, Per: d("1m")}, Quota: &table.Quota{Max: 10000, Period: d("720h")}, KeyExpiresIn: d("8760h")},
			"100 requests per minute, 10,000 per 30 days, keys expire after 365 days"},
		{table.Policy{Rate: &table.Rate{Requests: 5, Per: d("10s")}}, "5 requests per 10 seconds, keys do not expire"},
		{table.Policy{Quota: &table.Quota{Max: 1234567, Period: d("1h")}, KeyExpiresIn: d("24h")}, "1,234,567 requests per hour, keys expire after 1 day"},
		{table.Policy{}, "no rate limit or quota, keys do not expire"},
	}
	for _, tt := range tests {
		if got := limitsInWords(&tt.p); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestHTMLShowsTheProvidersRefusal(t *testing.T) {
	e := newEnv(t)
	e.idp.setAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(400)
		io.WriteString(w, `{"error":"invalid_client_metadata","error_description":"response_types <token> is not allowed"}`)
		return true
	})
	b := e.developer("a@example.com")
	_, _, tok := e.page(b, "/clients/new")
	resp, body := e.post(b, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
	if resp.StatusCode != 400 || !strings.Contains(body,
		"The identity provider refused the registration: invalid_client_metadata: response_types &lt;token&gt; is not allowed") {
		t.Errorf("%d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `value="x"`) {
		t.Error("the form lost the client name")
	}
	if len(e.store.Clients("")) != 0 {
		t.Error("a refused registration was stored")
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	var logs testutil.SyncBuffer
	e := newEnvLog(t, zerolog.New(&logs))
	dev := e.developer("a@example.com")
	e.api(e.browser(), "POST", "/login", credentials{"a@example.com", "wrong password"}, nil)
	c := e.create(dev, "app", "gluu_api")
	e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, nil)
	e.idp.setAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":"invalid_token"}`)
		return true
	})
	e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, nil)
	out := logs.String()
	if !strings.Contains(out, "client registered") || !strings.Contains(out, "registration failed") {
		t.Fatalf("logs lack the events:\n%s", out)
	}
	for _, secret := range []string{"initial-token", c.ClientSecret, "rat-1", "correct horse", "wrong password", "$2a$"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}
}

func TestAPILeniency(t *testing.T) {
	e := newEnv(t)
	dev := e.developer("a@example.com")
	// One string for catalogue and for redirect_uris (split on the separator).
	var c clientView
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": "gluu_api", "client_name": "x",
		"redirect_uris": "https://a.example/cb;https://b.example/cb"}, &c)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	if st, _ := e.store.Client(c.ClientID); len(st.RedirectURIs) != 2 || len(st.Catalogue) != 1 {
		t.Errorf("stored %+v", st)
	}
	var aerr apiError
	if resp := e.api(dev, "PUT", "/clients/"+c.ClientID, map[string]any{}, &aerr); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD, DELETE" {
		t.Errorf("PUT: %d %q %+v", resp.StatusCode, resp.Header.Get("Allow"), aerr)
	}
	if resp := e.api(dev, "GET", "/nope", nil, &aerr); resp.StatusCode != 404 || aerr.Code != "not_found" {
		t.Errorf("GET /nope: %d %+v", resp.StatusCode, aerr)
	}
	if resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": 5}, &aerr); resp.StatusCode != 400 {
		t.Errorf("catalogue 5: %d %+v", resp.StatusCode, aerr)
	}
}

func TestUnreadableInitialAccessTokenIsTheOperators(t *testing.T) {
	var logs testutil.SyncBuffer
	e := newEnvLog(t, zerolog.New(&logs))
	t.Setenv("PORTAL_TEST_IAT", "")
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
	if n := len(e.idp.requests()); n != 0 {
		t.Errorf("%d provider calls", n)
	}
	if !strings.Contains(logs.String(), "environment variable PORTAL_TEST_IAT is not set") {
		t.Errorf("the log does not name the variable:\n%s", logs.String())
	}
}

func TestCheckSecrets(t *testing.T) {
	dir := t.TempDir()
	tokenFile, emptyFile := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORTAL_TEST_IAT", "env-token")
	tests := []struct {
		name    string
		secrets map[string]*table.Secret // catalogue entry → its token; nil: none configured
		want    []string
	}{
		{"all readable", map[string]*table.Secret{"a": {Env: "PORTAL_TEST_IAT"}, "b": {File: tokenFile}, "c": nil}, nil},
		{"unset variable shared by two entries", map[string]*table.Secret{"a": {Env: "PORTAL_TEST_UNSET"}, "b": {Env: "PORTAL_TEST_UNSET"}, "c": {Env: "PORTAL_TEST_IAT"}},
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

func TestAPIRefusesBodiesItDoesNotUnderstand(t *testing.T) {
	e := newEnv(t)
	dev := e.developer("a@example.com")
	const clientFields = "catalogue, client_name, redirect_uris"
	tests := []struct {
		path, body string
		want       string
	}{
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x","bogus":1}`, `unknown field "bogus": the fields are ` + clientFields},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x","redirect_uri":"https://a.example/cb"}`, `unknown field "redirect_uri": the fields are ` + clientFields},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x"} {"client_name":"y"}`, "the body has more after its JSON object"},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x"}garbage`, "the body has more after its JSON object"},
		{"/clients", `[1]`, "the body must be a JSON object with the fields " + clientFields},
		{"/clients", `"gluu_api"`, "the body must be a JSON object with the fields " + clientFields},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":5}`, `field "client_name": want a string`},
		{"/clients", `{"catalogue":5,"client_name":"x"}`, `field "catalogue": want a string or a list of strings`},
		{"/clients", `{"catalogue":[1],"client_name":"x"}`, `field "catalogue": want a string or a list of strings`},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x","redirect_uris":{}}`, `field "redirect_uris": want a string or a list of strings`},
		{"/clients", `{"catalogue":`, "the body is not valid JSON: unexpected EOF"},
		{"/login", `{"email":"a@example.com","password":"correct horse","remember":true}`, `unknown field "remember": the fields are email, password`},
		{"/signup", `{"email":["a@example.com"],"password":"correct horse"}`, `field "email": want a string`},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", e.srv.URL+apiPrefix+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := dev.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var aerr apiError
		json.NewDecoder(resp.Body).Decode(&aerr)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || aerr.Code != "invalid_request" || aerr.Description != tt.want {
			t.Errorf("POST %s %s: %d %+v, want 400 %q", tt.path, tt.body, resp.StatusCode, aerr, tt.want)
		}
	}
	if n := len(e.idp.requests()); n != 0 {
		t.Errorf("%d provider calls", n)
	}
	if cs := e.store.Clients(""); len(cs) != 0 {
		t.Errorf("clients stored: %+v", cs)
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
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(Options{Table: e.table.Load, Store: e.store, Logger: zerolog.Nop(), BcryptCost: bcrypt.MinCost,
		HTTPClient: &http.Client{Transport: cancelOnRegister{cancel}}})
	if err != nil {
		t.Fatal(err)
	}
	c, aerr := s.createClient(ctx, "a@example.com", []string{"gluu_api"}, "app", nil)
	if aerr != nil {
		t.Fatalf("createClient after the developer went away: %v", aerr)
	}
	if stored, ok := e.store.Client(c.ClientID); !ok || stored.ClientName != "app" {
		t.Errorf("the client registered at the provider is not stored: %+v", stored)
	}
}

func TestRegistrationWhileShuttingDownIsUndone(t *testing.T) {
	e := newEnv(t)
	dev := e.developer("a@example.com")
	e.store.Close()
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
	const want = "the portal is shutting down: the client could not be stored; it was deleted at the provider again; register again in a moment"
	if resp.StatusCode != http.StatusServiceUnavailable || aerr.Code != "temporarily_unavailable" || aerr.Description != want {
		t.Errorf("%d %+v, want 503 %q", resp.StatusCode, aerr, want)
	}
	if reqs := e.idp.requests(); len(reqs) != 2 || !strings.HasPrefix(reqs[1], "DELETE /register/client-1 ") {
		t.Errorf("provider requests = %q, want the registration deleted again", reqs)
	}
	if len(e.store.Clients("")) != 0 {
		t.Error("a client was stored after Close")
	}
}

// TestSigningAlgorithmIsOneTheAPIsAccept: the algorithm, and the refusal
// of entries whose APIs take tokens from different identity providers.
func TestSigningAlgorithmIsOneTheAPIsAccept(t *testing.T) {
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
		{[]string{"es", "keyless", "ps_rs"}, "", `catalogue entries "e0" and "e2" accept tokens signed with different algorithms: register one client for each`},
		// A client gets tokens from one IdP, and the gateway binds it to one.
		{[]string{"es_rs", "other"}, "", `catalogue entries "e0" and "e1" take tokens from different identity providers (https://gluu.example/, https://kc.example/): register one client for each`},
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
	e := newEnv(t)
	tab := testTable(e.idp.URL)
	tab.APIs["gluu_api"].JWT = &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256"}}
	tab.Portal.Catalogue["gluu_api"].DCR.Provider = "gluu"
	e.table.Store(tab)
	e.create(e.developer("a@example.com"), "app", "gluu_api")
	if reqs := e.idp.requests(); len(reqs) != 1 || !strings.Contains(reqs[0], `"access_token_as_jwt":true,"access_token_signing_alg":"ES256"`) {
		t.Errorf("provider requests = %q, want ES256 asked for", reqs)
	}
}

func TestAddressKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ addr, want string }{
		{"203.0.113.9", "203.0.113.9"},
		{"::ffff:203.0.113.9", "203.0.113.9"},
		{"2001:db8::1", "2001:db8::/64"},
		{"2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64"},
		{"2001:db8:0:1::1", "2001:db8:0:1::/64"},
		{"2001:DB8:0:0:8:800:200c:417a", "2001:db8::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"@", "@"},
	} {
		if got := addressKey(tt.addr); got != tt.want {
			t.Errorf("addressKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestClientAddress(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies trusted: the peer", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"untrusted peer: X-Forwarded-For ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, trusted, "203.0.113.9"},
		{"trusted peer: the address it saw", "10.1.1.1:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"a chain of trusted proxies", "10.1.1.1:5000", []string{"198.51.100.1, 10.2.2.2", "10.3.3.3"}, trusted, "198.51.100.1"},
		{"what the client wrote before is not believed", "10.1.1.1:5000", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"garbage ends the walk", "10.1.1.1:5000", []string{"198.51.100.1, not-an-ip"}, trusted, "10.1.1.1"},
		{"no header from a trusted peer", "10.1.1.1:5000", nil, trusted, "10.1.1.1"},
		{"all trusted: the farthest", "10.1.1.1:5000", []string{"10.9.9.9"}, trusted, "10.9.9.9"},
		{"IPv6 and mapped addresses", "[fd00::1]:5000", []string{"::ffff:198.51.100.7"}, trusted, "198.51.100.7"},
		{"a mapped peer", "[::ffff:203.0.113.9]:5000", nil, nil, "203.0.113.9"},
		{"a mapped trusted peer", "[::ffff:10.1.1.1]:5000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"an IPv6 peer", "[2001:db8::5]:5000", nil, trusted, "2001:db8::5"},
		{"not an IP address", "@", nil, trusted, "@"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddress(r, tt.trusted); got != tt.want {
			t.Errorf("%s: clientAddress = %q, want %q", tt.name, got, tt.want)
		}
	}
}
