package portal

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime/limit"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

type env struct {
	t     *testing.T
	srv   *httptest.Server
	s     *Server
	store *store.Store
	idp   *testidp.Server
	iat   string // the environment variable that holds the initial access token
	table atomic.Pointer[table.Table]
	now   atomic.Pointer[time.Time]
}

// testTable is the portal's table: its DCR entries register at idpURL
// with the initial access token in the environment variable iatEnv.
func testTable(idpURL, iatEnv string) *table.Table {
	dcr := &table.DCR{
		Provider: "other", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_post",
		ResponseTypes: []string{"token"}, RegistrationEndpoint: idpURL + "/register", TokenEndpoint: idpURL + "/token",
		InitialAccessToken: &table.Secret{Env: iatEnv}, Timeout: table.Duration(2 * time.Second),
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
	e := &env{t: t, idp: testidp.New(t, devidp.Options{}), iat: testutil.Env(t, "PORTAL_TEST_IAT", testidp.InitialAccessToken)}
	e.table.Store(e.freshTable())
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

// requests are the requests the provider received, as
// "METHOD /path Authorization body".
func (e *env) requests() []string {
	var out []string
	for _, r := range e.idp.Requests() {
		out = append(out, r.String())
	}
	return out
}

// atIdP sends the provider an RFC 7592 request (GET or DELETE) about
// client id with the registration access token the portal stored for it,
// and returns the status and the answer's JSON object.
func (e *env) atIdP(method, id string) (int, map[string]any) {
	e.t.Helper()
	c, ok := e.store.Client(id)
	if !ok {
		e.t.Fatalf("no client %s stored", id)
	}
	req, _ := http.NewRequest(method, c.RegistrationClientURI, nil)
	req.Header.Set("Authorization", "Bearer "+c.RegistrationAccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out) //nolint:errcheck // a 204 has no body
	return resp.StatusCode, out
}

// freshTable is a new copy of the table the portal starts with.
func (e *env) freshTable() *table.Table { return testTable(e.idp.URL, e.iat) }

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

// holdUpdates makes the provider hold its answer to every RFC 7592
// update (PUT) until release is closed; arrived is closed when the first
// one arrives.
func holdUpdates(e *env) (arrived, release chan struct{}) {
	arrived, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut {
			once.Do(func() { close(arrived) })
			<-release
		}
		return false
	})
	return arrived, release
}

// patchAsync sends dev's PATCH of the client id with the JSON body in the
// background; its status arrives on the channel, 0 when the request
// failed (it cannot fail the test off the test's goroutine).
func patchAsync(e *env, dev *http.Client, id, body string) <-chan int {
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("PATCH", e.srv.URL+apiPrefix+"/clients/"+id, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := dev.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	return done
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

// sessionToken returns the session cookie's value c holds, "" for none.
func (e *env) sessionToken(c *http.Client) string {
	e.t.Helper()
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			return ck.Value
		}
	}
	return ""
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

// remove deletes the client id of the developer logged in on c, which
// must succeed.
func (e *env) remove(c *http.Client, id string) {
	e.t.Helper()
	if resp := e.api(c, "DELETE", "/clients/"+id, nil, nil); resp.StatusCode != http.StatusNoContent {
		e.t.Fatalf("delete: %d", resp.StatusCode)
	}
}

// newEnvWithClient is a portal with one developer, a@example.com, whose
// logged-in client is dev, and their client named name for the gluu_api
// entry.
func newEnvWithClient(t *testing.T, name string) (e *env, dev *http.Client, c clientView) {
	t.Helper()
	e = newEnv(t)
	dev = e.developer("a@example.com")
	return e, dev, e.create(dev, name, "gluu_api")
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

// counterKey is the key the gateway counts the client clientID's
// requests under, registered for the catalogue entry of tb, with the
// entry's policy.
func counterKey(tb *table.Table, entry, clientID string) limit.Key {
	e := tb.Portal.Catalogue[entry]
	iss, claim := tb.IdentityNamespace(tb.APIs[e.API])
	return limit.Key{Issuer: iss, Claim: claim, Identity: clientID, Policy: e.Policy}
}
