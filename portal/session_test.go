package portal

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/cuegate/cuegate/compiler/table"
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
