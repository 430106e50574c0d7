package portal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/sessions"
)

// postWithCSRFCookie posts the login form with the CSRF cookie name=value
// set by hand and the form token tok.
func (e *env) postWithCSRFCookie(name, value, tok string) *http.Response {
	e.t.Helper()
	form := url.Values{"csrf_token": {tok}, "email": {"a@example.com"}, "password": {"correct horse"}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: name, Value: value})
	resp, err := e.browser().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestAnonymousCSRFTokenIsBoundToTheServer(t *testing.T) {
	e := newEnv(t)
	e.developer("a@example.com")
	other, err := New(Options{Table: e.table.Load, Store: e.store, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	good := e.s.newCSRFToken()
	nonce, mac, _ := strings.Cut(good, ".")
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"attacker-chosen", "attacker-chosen-value-attacker-chosen-value-attacker", http.StatusForbidden},
		{"another portal's", other.newCSRFToken(), http.StatusForbidden},
		{"another nonce with this MAC", randomToken() + "." + mac, http.StatusForbidden},
		{"a changed MAC", nonce + "." + strings.Repeat("A", len(mac)), http.StatusForbidden},
		{"no MAC", nonce, http.StatusForbidden},
		{"a short nonce", nonce[:20] + "." + e.s.csrfMAC(nonce[:20]), http.StatusForbidden},
		{"this portal's", good, http.StatusSeeOther},
	} {
		if resp := e.postWithCSRFCookie(csrfCookie, tt.token, tt.token); resp.StatusCode != tt.want {
			t.Errorf("%s token: %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}

	// A page shown with a planted cookie replaces it.
	req, _ := http.NewRequest("GET", e.srv.URL+"/login", nil)
	req.AddCookie(&http.Cookie{Name: csrfCookie, Value: "attacker-chosen-value-attacker-chosen-value-attacker"})
	resp, err := e.browser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	replaced := false
	for _, c := range resp.Cookies() {
		replaced = replaced || c.Name == csrfCookie && e.s.validCSRFToken(c.Value)
	}
	if !replaced {
		t.Errorf("a planted CSRF cookie is not replaced: %v", resp.Cookies())
	}
}

// cookies returns the response's cookies by name.
func cookies(resp *http.Response) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		out[c.Name] = c
	}
	return out
}

func TestTLSCookiesHaveTheHostPrefix(t *testing.T) {
	e := newEnvTLS(t)
	b := e.browser()
	resp, err := b.Get(e.srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c := cookies(resp)["__Host-"+csrfCookie]
	if c == nil || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" {
		t.Fatalf("CSRF cookie under TLS = %+v in %v", c, resp.Cookies())
	}
	// A cookie without the prefix, as a sibling subdomain could set, is not the portal's.
	if resp := e.postWithCSRFCookie(csrfCookie, c.Value, c.Value); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unprefixed CSRF cookie: %d, want 403", resp.StatusCode)
	}
	sresp := e.api(b, "POST", "/signup", credentials{"a@example.com", "correct horse"}, nil)
	s := cookies(sresp)["__Host-"+sessionCookie]
	if s == nil || !s.Secure || !s.HttpOnly || s.Path != "/" || s.Domain != "" {
		t.Fatalf("session cookie under TLS = %+v in %v", s, sresp.Cookies())
	}
	if status, _, _ := e.page(b, "/clients"); status != http.StatusOK {
		t.Errorf("the session does not hold under TLS: %d", status)
	}
	if resp := e.postWithCSRFCookie("__Host-"+csrfCookie, c.Value, c.Value); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with the prefixed CSRF cookie: %d, want 303", resp.StatusCode)
	}
}

// cookieRecorder is a transport that keeps every cookie its answers set.
type cookieRecorder struct {
	rt  http.RoundTripper
	mu  sync.Mutex
	set []*http.Cookie
}

func (c *cookieRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(r)
	if err == nil {
		c.mu.Lock()
		c.set = append(c.set, resp.Cookies()...)
		c.mu.Unlock()
	}
	return resp, err
}

// checkHostCookies fails t unless every cookie is a __Host- cookie
// (Secure, Path=/, no Domain) and both portal cookies are among them.
func checkHostCookies(t *testing.T, set []*http.Cookie) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range set {
		names[c.Name] = true
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %s=%q: Secure %v, Path %q, Domain %q; want __Host-, Secure, Path=/, no Domain", c.Name, c.Value, c.Secure, c.Path, c.Domain)
		}
	}
	if !names["__Host-"+sessionCookie] || !names["__Host-"+csrfCookie] {
		t.Errorf("cookies set: %v, want both portal cookies", names)
	}
}

func TestEveryCookieUnderTLSHasTheHostPrefix(t *testing.T) { // newEnv sets the environment: not parallel
	t.Run("TLS", func(t *testing.T) {
		e := newEnvTLS(t)
		b := e.browser()
		rec := &cookieRecorder{rt: b.Transport}
		b.Transport = rec
		creds := url.Values{"email": {"a@example.com"}, "password": {"correct horse"}}
		for _, step := range []struct{ page, post string }{{"/signup", "/signup"}, {"/clients", "/logout"}, {"/login", "/login"}} {
			_, _, tok := e.page(b, step.page)
			creds.Set("csrf_token", tok)
			if resp, _ := e.post(b, step.post, creds); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("POST %s: %d, want 303", step.post, resp.StatusCode)
			}
		}
		if resp := e.api(b, "POST", "/logout", struct{}{}, nil); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("API logout: %d", resp.StatusCode)
		}
		if resp := e.api(b, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("API login: %d", resp.StatusCode)
		}
		if len(rec.set) < 6 {
			t.Errorf("%d cookies set, want a CSRF cookie and a session cookie set or deleted at each step", len(rec.set))
		}
		checkHostCookies(t, rec.set)
		// A session cookie without the prefix, as a sibling subdomain could
		// plant, is not the portal's, even with a live session's token.
		live := cookies(e.api(b, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil))["__Host-"+sessionCookie]
		req, _ := http.NewRequest("GET", e.srv.URL+"/clients", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: live.Value})
		resp, err := e.browser().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("an unprefixed session cookie under TLS: %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("behind a TLS-terminating proxy", func(t *testing.T) {
		e := newEnv(t)
		tab := *e.table.Load()
		tab.Portal.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		e.table.Store(&tab)
		var set []*http.Cookie
		serve := func(method, path, contentType, body string) {
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			r.RemoteAddr = "10.0.0.1:1234"
			r.Header.Set("X-Forwarded-Proto", "https")
			if contentType != "" {
				r.Header.Set("Content-Type", contentType)
			}
			for _, c := range set {
				r.AddCookie(c)
			}
			w := httptest.NewRecorder()
			e.s.Handler().ServeHTTP(w, r)
			if w.Code >= 400 {
				t.Fatalf("%s %s: %d", method, path, w.Code)
			}
			set = append(set, w.Result().Cookies()...)
		}
		serve("GET", "/login", "", "")
		serve("POST", apiPrefix+"/signup", "application/json", `{"email":"a@example.com","password":"correct horse"}`)
		serve("POST", apiPrefix+"/logout", "application/json", "")
		checkHostCookies(t, set)
	})
}

func TestHSTS(t *testing.T) {
	paths := []string{"/login", "/static/style.css", "/nowhere", apiPrefix + "/catalogue", apiPrefix + "/clients"}
	get := func(t *testing.T, e *env, path string) *http.Response {
		resp, err := e.browser().Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("TLS", func(t *testing.T) {
		e := newEnvTLS(t)
		for _, p := range paths {
			if got := get(t, e, p).Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
				t.Errorf("%s: Strict-Transport-Security %q", p, got)
			}
		}
		e.table.Store(nil) // not started yet: 503
		if resp := get(t, e, "/login"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("before a table: %d, Strict-Transport-Security %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
	})
	t.Run("plain HTTP", func(t *testing.T) {
		e := newEnv(t)
		for _, p := range paths {
			if got := get(t, e, p).Header.Get("Strict-Transport-Security"); got != "" {
				t.Errorf("%s: Strict-Transport-Security %q over plain HTTP", p, got)
			}
		}
	})
	t.Run("behind a trusted TLS proxy", func(t *testing.T) {
		tab := testTable("http://idp.example")
		tab.Portal.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		s, err := New(Options{Table: func() *table.Table { return tab }, Store: newEnv(t).store, Logger: zerolog.Nop(), BcryptCost: bcrypt.MinCost})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			peer, proto string
			want        bool
		}{
			{"10.1.1.1:4000", "https", true},
			{"10.1.1.1:4000", "http", false},
			{"203.0.113.9:4000", "https", false},
		} {
			r := httptest.NewRequest("GET", "/login", nil)
			r.RemoteAddr = tt.peer
			r.Header.Set("X-Forwarded-Proto", tt.proto)
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, r)
			hsts := w.Header().Get("Strict-Transport-Security") != ""
			_, prefixed := cookies(&http.Response{Header: w.Header()})["__Host-"+csrfCookie]
			if hsts != tt.want || prefixed != tt.want {
				t.Errorf("peer %s, X-Forwarded-Proto %s: HSTS %v, __Host- cookie %v, want %v", tt.peer, tt.proto, hsts, prefixed, tt.want)
			}
		}
	})
}

// failingStore is a sessions.Store that fails every call while fail is
// set, as Redis does when it is unreachable, with an error that names
// internals no answer may show; calls counts the calls it failed.
type failingStore struct {
	sessions.Store
	fail  atomic.Bool
	calls atomic.Int64
}

// storeInternals is in failingStore's errors and must reach no answer.
const storeInternals = "redis.internal:6379 NOAUTH s3cr3t"

func (f *failingStore) err() error {
	if !f.fail.Load() {
		return nil
	}
	f.calls.Add(1)
	return errors.New("sessions: redis: " + storeInternals)
}

func (f *failingStore) Create(ctx context.Context, token string, s sessions.Session, ttl time.Duration) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Create(ctx, token, s, ttl)
}

func (f *failingStore) Get(ctx context.Context, token string) (sessions.Session, bool, error) {
	if err := f.err(); err != nil {
		return sessions.Session{}, false, err
	}
	return f.Store.Get(ctx, token)
}

func (f *failingStore) Update(ctx context.Context, token string, s sessions.Session) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Update(ctx, token, s)
}

func (f *failingStore) Delete(ctx context.Context, token string) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.Delete(ctx, token)
}

// answer is what a request got: status, Retry-After, body and cookies.
type answer struct {
	status     int
	retryAfter string
	body       string
	cookies    map[string]*http.Cookie
}

// do sends a request to base with c and reads the answer: a form when
// form is set, JSON when json is set.
func do(t *testing.T, c *http.Client, method, url string, form url.Values, json string) answer {
	t.Helper()
	var body io.Reader
	switch {
	case form != nil:
		body = strings.NewReader(form.Encode())
	case json != "":
		body = strings.NewReader(json)
	}
	req, _ := http.NewRequest(method, url, body)
	switch {
	case form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case json != "":
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b), cookies(resp)}
}

const (
	storeDownPage   = "The portal cannot reach its session store; try again shortly."
	storeDownSignup = "Your account is created, but the portal cannot reach its session store to log you in; log in again shortly."
	storeDownJSON   = `"error_description": "the portal cannot reach its session store; try again shortly"`
)

func TestSessionStoreFailureFailsClosed(t *testing.T) {
	st := &failingStore{Store: sessions.NewMemory(nil)}
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: st})
	dev := e.developer("dev@example.com")
	_, _, devTok := e.page(dev, "/clients")
	anon := e.browser()
	_, _, anonTok := e.page(anon, "/login")
	st.fail.Store(true)

	u := e.srv.URL
	creds := func(email string) url.Values {
		return url.Values{"csrf_token": {anonTok}, "email": {email}, "password": {"correct horse"}}
	}
	for _, tt := range []struct {
		name     string
		c        *http.Client
		method   string
		path     string
		form     url.Values
		json     string
		status   int
		want     string // in the body
		notWant  string // not in the body
		storeHit int64  // calls the request makes to the store
	}{
		{"catalogue, as to a visitor", dev, "GET", "/catalogue", nil, "", 200, "Gluu things", "dev@example.com", 1},
		{"API catalogue", dev, "GET", apiPrefix + "/catalogue", nil, "", 200, `"gluu_api"`, "", 0},
		{"login form", anon, "GET", "/login", nil, "", 200, `name="password"`, "", 0},
		{"login", anon, "POST", "/login", creds("dev@example.com"), "", 503, storeDownPage, "", 1},
		{"sign-up", anon, "POST", "/signup", creds("new@example.com"), "", 503, storeDownSignup, "", 1},
		{"a page for developers", dev, "GET", "/clients", nil, "", 503, storeDownPage, "dev@example.com", 1},
		{"a form for developers", dev, "POST", "/clients/new", url.Values{"csrf_token": {devTok}, "catalogue": {"gluu_api"}}, "", 503, storeDownPage, "", 1},
		{"logout", dev, "POST", "/logout", url.Values{"csrf_token": {devTok}}, "", 503, storeDownPage, "", 1},
		{"API clients", dev, "GET", apiPrefix + "/clients", nil, "", 503, storeDownJSON, "", 1},
		{"API login", anon, "POST", apiPrefix + "/login", nil, `{"email":"dev@example.com","password":"correct horse"}`, 503, storeDownJSON, "", 1},
		{"API sign-up", anon, "POST", apiPrefix + "/signup", nil, `{"email":"new2@example.com","password":"correct horse"}`, 503,
			`"error_description": "your account is created, but the portal cannot reach its session store to log you in; log in again shortly"`, "", 1},
		{"API logout", dev, "POST", apiPrefix + "/logout", nil, "{}", 503, storeDownJSON, "", 1},
	} {
		before := st.calls.Load()
		a := do(t, tt.c, tt.method, u+tt.path, tt.form, tt.json)
		if a.status != tt.status || !strings.Contains(a.body, tt.want) || tt.notWant != "" && strings.Contains(a.body, tt.notWant) {
			t.Errorf("%s: %d, want %d with %q and without %q:\n%s", tt.name, a.status, tt.status, tt.want, tt.notWant, a.body)
		}
		if strings.Contains(a.body, storeInternals) {
			t.Errorf("%s: the answer shows the store's error:\n%s", tt.name, a.body)
		}
		if tt.status == 503 && a.retryAfter != "5" {
			t.Errorf("%s: Retry-After %q, want 5", tt.name, a.retryAfter)
		}
		if c := a.cookies[sessionCookie]; c != nil {
			t.Errorf("%s: the answer sets the session cookie %+v", tt.name, c)
		}
		if n := st.calls.Load() - before; n != tt.storeHit {
			t.Errorf("%s: %d calls to the failing store, want %d", tt.name, n, tt.storeHit)
		}
	}
	for _, email := range []string{"new@example.com", "new2@example.com"} {
		if _, ok := e.store.Developer(email); !ok {
			t.Errorf("the account %s signed up while the store failed is lost", email)
		}
	}

	st.fail.Store(false) // the store is back: the session was kept all along
	if status, body, _ := e.page(dev, "/clients"); status != 200 || !strings.Contains(body, "dev@example.com") {
		t.Errorf("after the store is back: %d\n%s", status, body)
	}
}

// node is another portal Server on e's state file, table and clock with
// sessions in st: a second portal node, or e's node restarted.
func (e *env) node(st sessions.Store) *env {
	n := &env{t: e.t, store: e.store, idp: e.idp}
	n.table.Store(e.table.Load())
	n.now.Store(e.now.Load())
	s, err := New(Options{Table: n.table.Load, Store: e.store, BcryptCost: bcrypt.MinCost, Logger: zerolog.Nop(),
		Now: func() time.Time { return *n.now.Load() }, Sessions: st})
	if err != nil {
		e.t.Fatal(err)
	}
	n.s, n.srv = s, httptest.NewServer(s.Handler())
	e.t.Cleanup(n.srv.Close)
	return n
}

// redisSessions is a sessions.Redis on its own client of srv.
func redisSessions(t *testing.T, srv *testutil.Redis, timeout time.Duration) (*sessions.Redis, rueidis.Client) {
	t.Helper()
	c := srv.Client(t)
	return sessions.NewRedis(c, sessions.RedisOptions{Timeout: timeout}), c
}

// sessionKinds are the session stores the portal's session rules run on.
func sessionKinds(t *testing.T) []struct {
	name string
	make func(t *testing.T) sessions.Store
} {
	srv := testutil.StartRedis(t)
	return []struct {
		name string
		make func(t *testing.T) sessions.Store
	}{
		{"memory", func(*testing.T) sessions.Store { return nil }},
		{"Redis", func(t *testing.T) sessions.Store {
			st, _ := redisSessions(t, srv, 0)
			return st
		}},
	}
}

func TestSessionRules(t *testing.T) {
	for _, kind := range sessionKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			loggedIn := func(e *env, c *http.Client) bool {
				t.Helper()
				status, _, _ := e.page(c, "/clients")
				return status == http.StatusOK
			}
			t.Run("a session ends with its time to live", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				dev := e.developer("dev@example.com")
				e.advance(time.Hour) // the table's session_ttl
				if !loggedIn(e, dev) {
					t.Error("the session ended before its time to live")
				}
				e.advance(time.Nanosecond)
				if loggedIn(e, dev) {
					t.Error("the session outlives its time to live")
				}
			})
			t.Run("logout ends the session, not others", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				dev, other := e.developer("dev@example.com"), e.developer("other@example.com")
				stolen := e.browser() // a copy of dev's cookie, kept by somebody else
				u, _ := url.Parse(e.srv.URL)
				stolen.Jar.SetCookies(u, dev.Jar.Cookies(u))
				if resp := e.api(dev, "POST", "/logout", struct{}{}, nil); resp.StatusCode != http.StatusNoContent {
					t.Fatalf("logout: %d", resp.StatusCode)
				}
				if loggedIn(e, dev) || loggedIn(e, stolen) {
					t.Error("the session outlives its logout")
				}
				if !loggedIn(e, other) {
					t.Error("a logout ended another developer's session")
				}
			})
			t.Run("a session ends with its account", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				dev := e.developer("dev@example.com")
				if _, err := e.s.accounts().Remove("dev@example.com"); err != nil {
					t.Fatal(err)
				}
				// Somebody else signs up under the address before the old
				// session comes back: it is not theirs.
				e.advance(time.Second)
				again := e.developer("dev@example.com")
				if loggedIn(e, dev) {
					t.Error("a session of a removed account logs in to the account created again under its email")
				}
				if !loggedIn(e, again) {
					t.Error("the new account's session does not hold")
				}
			})
			t.Run("a forged cookie is no session", func(t *testing.T) {
				e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: kind.make(t)})
				e.developer("dev@example.com")
				forged := e.browser()
				u, _ := url.Parse(e.srv.URL)
				for _, v := range []string{randomToken(), "x", strings.Repeat("A", 4096)} {
					forged.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: v}})
					if loggedIn(e, forged) {
						t.Errorf("cookie %.20q… logs in", v)
					}
				}
			})
		})
	}
}

func TestRedisSessionsSurviveARestart(t *testing.T) {
	srv := testutil.StartRedis(t)
	stA, c := redisSessions(t, srv, 0)
	a := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: stA})
	b := a.browser()
	_, _, tok := a.page(b, "/signup")
	if resp, body := a.post(b, "/signup", url.Values{"csrf_token": {tok}, "email": {"dev@example.com"}, "password": {"correct horse"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", resp.StatusCode, body)
	}
	u, _ := url.Parse(a.srv.URL)
	var token string
	for _, ck := range b.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			token = ck.Value
		}
	}

	// Redis holds the session under the token's hash, for session_ttl.
	ctx := context.Background()
	keys, err := c.Do(ctx, c.B().Keys().Pattern("*").Build()).AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	if want := "cuegate:v1:session:" + hex.EncodeToString(sum[:]); len(keys) != 1 || keys[0] != want {
		t.Fatalf("keys %q, want [%q]", keys, want)
	}
	v, _ := c.Do(ctx, c.B().Get().Key(keys[0]).Build()).ToString()
	if strings.Contains(keys[0], token) || strings.Contains(v, token) || strings.Contains(v, sessionCSRF(token)) {
		t.Errorf("Redis holds the session token or its CSRF token: %q = %q", keys[0], v)
	}
	if ms, _ := c.Do(ctx, c.B().Pttl().Key(keys[0]).Build()).AsInt64(); ms <= (time.Hour-time.Minute).Milliseconds() || ms > time.Hour.Milliseconds() {
		t.Errorf("PTTL %dms, want session_ttl (1h)", ms)
	}

	// The node restarts (a new Server, a new client, the same Redis): the
	// developer is still logged in, sees the flash left before the
	// restart, and its forms work.
	stB, _ := redisSessions(t, srv, 0)
	a.srv.Close()
	restarted := a.node(stB)
	status, body, tok := restarted.page(b, "/clients")
	if status != http.StatusOK || !strings.Contains(body, "dev@example.com") || !strings.Contains(body, "Welcome — your account is ready.") {
		t.Fatalf("after a restart: %d\n%s", status, body)
	}
	if resp, body := restarted.post(b, "/logout", url.Values{"csrf_token": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout after a restart: %d %s", resp.StatusCode, body)
	}
	if n, _ := c.Do(ctx, c.B().Dbsize().Build()).AsInt64(); n != 0 {
		t.Errorf("after logout Redis holds %d keys", n)
	}
}

func TestRedisPausedFailsClosedInTime(t *testing.T) {
	srv := testutil.StartRedis(t)
	const timeout = 200 * time.Millisecond
	st, _ := redisSessions(t, srv, timeout)
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Sessions: st})
	dev := e.developer("dev@example.com")
	anon := e.browser()
	_, _, tok := e.page(anon, "/login")

	srv.Pause()
	defer srv.Resume()
	for _, tt := range []struct {
		name   string
		c      *http.Client
		method string
		path   string
		form   url.Values
		status int
	}{
		{"login", anon, "POST", "/login", url.Values{"csrf_token": {tok}, "email": {"dev@example.com"}, "password": {"correct horse"}}, 503},
		{"a page for developers", dev, "GET", "/clients", nil, 503},
		{"API clients", dev, "GET", apiPrefix + "/clients", nil, 503},
		{"catalogue", dev, "GET", "/catalogue", nil, 200},
	} {
		start := time.Now()
		a := do(t, tt.c, tt.method, e.srv.URL+tt.path, tt.form, "")
		if took := time.Since(start); took > timeout+time.Second {
			t.Errorf("%s took %v with a timeout of %v", tt.name, took, timeout)
		}
		if a.status != tt.status || strings.Contains(a.body, srv.Addr()) {
			t.Errorf("%s while Redis is paused: %d, want %d:\n%s", tt.name, a.status, tt.status, a.body)
		}
	}
	srv.Resume()
	testutil.Eventually(t, "the session to hold again", func() bool {
		status, _, _ := e.page(dev, "/clients")
		return status == http.StatusOK
	})
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
