package portal

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// TestCrossOriginRefused: a state-changing request a browser says came
// from another origin is refused with 403 before its handler runs, the
// login form included, whose CSRF token a page on another port of the
// same host can plant (cookies are not kept apart by port, nor by
// __Host-). Requests from the portal's own pages, and requests with
// neither Sec-Fetch-Site nor Origin (not a browser's), pass.
func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	e := newEnvTLS(t)
	e.developer("attacker@example.com")
	for _, tt := range []struct {
		name            string
		site, origin    string
		wantLoginStatus int
	}{
		{"another port of the same host", "same-site", "https://127.0.0.1:8080", http.StatusForbidden},
		{"another site", "cross-site", "https://evil.example", http.StatusForbidden},
		{"an Origin alone, of another host", "", "https://evil.example", http.StatusForbidden},
		{"the portal's own page", "same-origin", "", http.StatusSeeOther},
		{"a typed URL or bookmark", "none", "", http.StatusSeeOther},
		{"not a browser", "", "", http.StatusSeeOther},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The attacker's own pair, its cookie planted.
			resp := postLogin(t, e, "attacker@example.com", "__Host-"+csrfCookie, map[string]string{"Sec-Fetch-Site": tt.site, "Origin": tt.origin})
			if resp.StatusCode != tt.wantLoginStatus {
				t.Errorf("login form: %d, Set-Cookie %q; want %d", resp.StatusCode, resp.Header.Values("Set-Cookie"), tt.wantLoginStatus)
			}
		})
	}
	t.Run("JSON API", func(t *testing.T) {
		t.Parallel()
		dev := e.developer("dev@example.com")
		req, err := http.NewRequest("POST", e.srv.URL+apiPrefix+"/logout", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := dev.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("cross-site API call: %d %s, want 403 JSON", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// TestCrossOriginBehindAProxy: behind a trusted proxy that rewrites Host,
// a browser that sends no Sec-Fetch-Site (plain HTTP, older browsers) is
// judged by its Origin against the proxy's X-Forwarded-Host; the header
// of a peer that is not a trusted proxy is not taken.
func TestCrossOriginBehindAProxy(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		trusted       bool
		forwardedHost string
		want          int
	}{
		{"the proxy names the origin's host", true, "portal.example.com", http.StatusSeeOther},
		{"the proxy names another host", true, "evil.example", http.StatusForbidden},
		{"from a peer that is no trusted proxy", false, "portal.example.com", http.StatusForbidden},
		{"the proxy names the origin's host on another port", true, "portal.example.com:8080", http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tt.trusted {
				tab := e.freshTable()
				tab.Portal.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
				e.table.Store(tab)
			}
			e.developer("dev@example.com")
			resp := postLogin(t, e, "dev@example.com", csrfCookie, map[string]string{"Origin": "http://portal.example.com", "X-Forwarded-Host": tt.forwardedHost})
			if resp.StatusCode != tt.want {
				t.Errorf("login form: %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

// TestCrossOriginOtherScheme: without Sec-Fetch-Site, an Origin of the
// portal's host over another scheme (an https page of the same host
// posting to the http portal) is refused: host and port alone match.
func TestCrossOriginOtherScheme(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := strings.TrimPrefix(e.srv.URL, "http://")
	for _, tt := range []struct {
		origin string
		want   int
	}{
		{"http://" + host, http.StatusSeeOther},
		{"https://" + host, http.StatusForbidden},
	} {
		email := "dev" + fmt.Sprint(tt.want) + "@example.com"
		e.developer(email)
		resp := postLogin(t, e, email, csrfCookie, map[string]string{"Origin": tt.origin})
		if resp.StatusCode != tt.want {
			t.Errorf("login form from %s: %d, want %d", tt.origin, resp.StatusCode, tt.want)
		}
	}
}

// postLogin posts the login form for email (password "correct horse")
// with a CSRF pair of its own, its cookie named cookie, and the headers
// of hdr that are not empty; the answer's body is closed.
func postLogin(t *testing.T, e *env, email, cookie string, hdr map[string]string) *http.Response {
	t.Helper()
	_, _, tok := e.page(e.browser(), "/login")
	form := url.Values{"email": {email}, "password": {"correct horse"}, "csrf_token": {tok}}
	req, err := http.NewRequest("POST", e.srv.URL+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cookie", cookie+"="+tok)
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := e.srv.Client().Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestOtherSchemeReadsPass: a safe method with an Origin of another
// scheme is served, as CrossOriginProtection serves it: only changes are
// held to the portal's scheme.
func TestOtherSchemeReadsPass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, err := http.NewRequest("GET", e.srv.URL+"/login", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://"+strings.TrimPrefix(e.srv.URL, "http://"))
	resp, err := e.srv.Client().Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /login with an https Origin: %d, want 200", resp.StatusCode)
	}
}
