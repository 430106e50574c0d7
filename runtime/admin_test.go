package runtime

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAdminGuard: with a token, every path but /healthz and /readyz needs
// it, exactly (a refusal is 401 with the realm); without one, a Host that
// is not loopback, localhost or the listener's is refused; with or
// without, so is a browser's request (Origin, Sec-Fetch-Site). A refused
// request never reaches the guarded handler.
func TestAdminGuard(t *testing.T) {
	t.Parallel()
	const token = "s3cret-admin-token"
	for _, tt := range []struct {
		name, token, method, host, path, auth string
		header                                [2]string
		want                                  int
	}{
		{"healthz is open", token, "GET", "", "/healthz", "", [2]string{}, 200},
		{"readyz is open", token, "GET", "", "/readyz", "", [2]string{}, 200},
		{"healthz open to HEAD", token, "HEAD", "", "/healthz", "", [2]string{}, 200},
		{"healthz open to a browser", "", "GET", "rebound.example", "/healthz", "", [2]string{"Sec-Fetch-Site", "same-origin"}, 200},
		{"no token", token, "GET", "", "/status", "", [2]string{}, 401},
		{"no token on the operator endpoints", token, "POST", "", "/portal/developers", "", [2]string{}, 401},
		{"wrong token", token, "GET", "", "/status", "Bearer wrong", [2]string{}, 401},
		{"a prefix of the token", token, "GET", "", "/metrics", "Bearer s3cret", [2]string{}, 401},
		{"the token and more", token, "GET", "", "/metrics", "Bearer " + token + "x", [2]string{}, 401},
		{"another scheme", token, "GET", "", "/status", "Basic " + token, [2]string{}, 401},
		{"no scheme", token, "GET", "", "/status", token, [2]string{}, 401},
		{"empty bearer", token, "GET", "", "/status", "Bearer ", [2]string{}, 401},
		{"a path that only starts as healthz", token, "GET", "", "/healthz/../status", "", [2]string{}, 401},
		{"healthz with a suffix", token, "GET", "", "/healthzx", "", [2]string{}, 401},
		{"right token", token, "GET", "", "/status", "Bearer " + token, [2]string{}, 200},
		{"right token, any host", token, "GET", "admin.internal.example", "/table", "Bearer " + token, [2]string{}, 200},
		{"scheme in another case", token, "DELETE", "", "/portal/developers/a@example.com", "bearer " + token, [2]string{}, 200},
		{"right token from a browser", token, "GET", "", "/status", "Bearer " + token, [2]string{"Origin", "http://127.0.0.1:9090"}, 403},
		{"browser without a token", "", "GET", "127.0.0.1:9090", "/table", "", [2]string{"Origin", "http://127.0.0.1:9090"}, 403},
		{"browser fetch metadata", "", "GET", "127.0.0.1:9090", "/metrics", "", [2]string{"Sec-Fetch-Site", "same-origin"}, 403},
		{"browser on the operator endpoints", "", "GET", "localhost:9090", "/portal/developers", "", [2]string{"Sec-Fetch-Site", "none"}, 403},
		{"loopback", "", "GET", "127.0.0.1:9090", "/status", "", [2]string{}, 200},
		{"loopback without a port", "", "GET", "127.0.0.1", "/status", "", [2]string{}, 200},
		{"IPv6 loopback", "", "GET", "[::1]:9090", "/table", "", [2]string{}, 200},
		{"IPv6 loopback without a port", "", "GET", "[::1]", "/table", "", [2]string{}, 200},
		{"other loopback address", "", "GET", "127.0.0.2:9090", "/table", "", [2]string{}, 200},
		{"localhost", "", "GET", "localhost:9090", "/metrics", "", [2]string{}, 200},
		{"localhost in capitals", "", "GET", "LocalHost:9090", "/metrics", "", [2]string{}, 200},
		{"the listener's host", "", "GET", "192.0.2.7:9090", "/status", "", [2]string{}, 200},
		{"a rebound name", "", "GET", "rebind.attacker.example:9090", "/table", "", [2]string{}, 403},
		{"a name ending in localhost", "", "GET", "evil.localhost.attacker.example", "/status", "", [2]string{}, 403},
		{"localhost as a subdomain", "", "GET", "localhost.attacker.example:9090", "/status", "", [2]string{}, 403},
		{"no host", "", "GET", "", "/status", "", [2]string{}, 403},
		{"another address", "", "GET", "10.0.0.1:9090", "/metrics", "", [2]string{}, 403},
		{"loopback with leading zeros", "", "GET", "127.000.000.001:9090", "/metrics", "", [2]string{}, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("inner")) }) //nolint:errcheck
			g := NewAdminGuard(inner, "192.0.2.7:9090")
			g.SetToken(tt.token)
			req := httptest.NewRequest(tt.method, "http://admin"+tt.path, nil)
			req.Host = tt.host
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.header[0] != "" {
				req.Header.Set(tt.header[0], tt.header[1])
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("%s %s (Host %q) with %q: %d, want %d: %s", tt.method, tt.path, tt.host, tt.auth, rec.Code, tt.want, rec.Body)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			switch {
			case tt.want == 401 && challenge != `Bearer realm="cuegate-admin"`:
				t.Errorf("WWW-Authenticate %q", challenge)
			case tt.want >= 400 && rec.Body.String() == "inner":
				t.Error("the guarded handler answered")
			case tt.want == 200 && tt.method != "HEAD" && rec.Body.String() != "inner":
				t.Errorf("body %q, want the guarded handler's", rec.Body.String())
			}
		})
	}
}

// TestAdminGuardSetToken: SetToken reports a change of token, and the
// guard takes the new one at once.
func TestAdminGuardSetToken(t *testing.T) {
	t.Parallel()
	g := NewAdminGuard(http.NotFoundHandler(), "127.0.0.1:0")
	for _, tt := range []struct {
		token   string
		changed bool
	}{
		{"", false}, {"first", true}, {"first", false}, {"second", true}, {"", true},
	} {
		if got := g.SetToken(tt.token); got != tt.changed {
			t.Errorf("SetToken(%q) reported a change %v, want %v", tt.token, got, tt.changed)
		}
		req := httptest.NewRequest("GET", "http://127.0.0.1/status", nil)
		req.Header.Set("Authorization", "Bearer first")
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if want := map[string]int{"": 404, "first": 404, "second": 401}[tt.token]; rec.Code != want {
			t.Errorf("token %q, request with the first: %d, want %d", tt.token, rec.Code, want)
		}
	}
}
