package runtime

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRequireAdminToken: every path but /healthz and /readyz needs the
// bearer token, exactly; a refusal is 401 with the realm and never
// reaches the guarded handler.
func TestRequireAdminToken(t *testing.T) {
	t.Parallel()
	const token = "s3cret-admin-token"
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("inner")) }) //nolint:errcheck
	h := RequireAdminToken(token, inner)
	for _, tt := range []struct {
		name, method, path, auth string
		want                     int
	}{
		{"healthz is open", "GET", "/healthz", "", 200},
		{"readyz is open", "GET", "/readyz", "", 200},
		{"healthz open to HEAD", "HEAD", "/healthz", "", 200},
		{"no token", "GET", "/status", "", 401},
		{"no token on the operator endpoints", "POST", "/portal/developers", "", 401},
		{"wrong token", "GET", "/status", "Bearer wrong", 401},
		{"a prefix of the token", "GET", "/metrics", "Bearer s3cret", 401},
		{"the token and more", "GET", "/metrics", "Bearer " + token + "x", 401},
		{"another scheme", "GET", "/status", "Basic " + token, 401},
		{"no scheme", "GET", "/status", token, 401},
		{"empty bearer", "GET", "/status", "Bearer ", 401},
		{"a path that only starts as healthz", "GET", "/healthz/../status", "", 401},
		{"healthz with a suffix", "GET", "/healthzx", "", 401},
		{"right token", "GET", "/status", "Bearer " + token, 200},
		{"scheme in another case", "DELETE", "/portal/developers/a@example.com", "bearer " + token, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://admin"+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("%s %s with %q: %d, want %d", tt.method, tt.path, tt.auth, rec.Code, tt.want)
			}
			challenge := rec.Header().Get("WWW-Authenticate")
			switch {
			case tt.want == 401 && challenge != `Bearer realm="cuegate-admin"`:
				t.Errorf("WWW-Authenticate %q", challenge)
			case tt.want == 401 && rec.Body.String() == "inner":
				t.Error("the guarded handler answered")
			case tt.want == 200 && tt.method != "HEAD" && rec.Body.String() != "inner":
				t.Errorf("body %q, want the guarded handler's", rec.Body.String())
			}
		})
	}
}
