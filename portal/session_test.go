package portal

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// trustProxies makes e's portal trust the proxies in 10.0.0.0/8.
func (e *env) trustProxies() {
	tab := *e.table.Load()
	tab.Portal.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	e.table.Store(&tab)
}

// forwarded is a request from peer with body, whose X-Forwarded-Proto
// says it came in over proto (no header when proto is "").
func forwarded(method, path, peer, proto, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = peer
	if proto != "" {
		r.Header.Set("X-Forwarded-Proto", proto)
	}
	return r
}

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
	t.Parallel()
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
	t.Parallel()
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

func TestEveryCookieUnderTLSHasTheHostPrefix(t *testing.T) {
	t.Parallel()
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
		e.trustProxies()
		var set []*http.Cookie
		serve := func(method, path, contentType, body string) {
			r := forwarded(method, path, "10.0.0.1:1234", "https", body)
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
	t.Parallel()
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
}

// TestTrustedTLSProxy: a request is taken as HTTPS (HSTS, the __Host-
// cookie prefix, Secure cookies) when a trusted proxy says https, never
// on an untrusted peer's word.
func TestTrustedTLSProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.trustProxies()
	for _, tt := range []struct {
		peer, proto string
		https       bool
	}{
		{"10.1.1.1:4000", "https", true},
		{"10.1.1.1:4000", "http", false},
		{"10.1.1.1:4000", "", false},
		{"203.0.113.9:4000", "https", false},
	} {
		w := httptest.NewRecorder()
		e.s.Handler().ServeHTTP(w, forwarded("GET", "/login", tt.peer, tt.proto, ""))
		hsts := w.Header().Get("Strict-Transport-Security") != ""
		_, prefixed := cookies(&http.Response{Header: w.Header()})["__Host-"+csrfCookie]
		secure := e.s.cookie(forwarded("GET", "/", tt.peer, tt.proto, ""), sessionCookie, "x", 1).Secure
		if hsts != tt.https || prefixed != tt.https || secure != tt.https {
			t.Errorf("peer %s, X-Forwarded-Proto %q: HSTS %v, __Host- cookie %v, Secure cookie %v, want %v", tt.peer, tt.proto, hsts, prefixed, secure, tt.https)
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "app")
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
	t.Parallel()
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
}
