package runtime

import (
	"strings"
	"testing"
)

// TestAmbiguousHeadersRefused sends requests whose header an upstream
// could read otherwise than the gateway: each is 400 and reaches no
// upstream.
func TestAmbiguousHeadersRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token("c1", nil)
	tests := []struct {
		name, header, err string
	}{
		{"two Authorization", "Authorization: Bearer " + tok + "\r\nAuthorization: Bearer other\r\n", "more than one Authorization"},
		{"Authorization in other cases", "Authorization: Bearer " + tok + "\r\nauthorization: Bearer other\r\n", "more than one Authorization"},
		{"AUTHORIZATION twice", "AUTHORIZATION: Bearer " + tok + "\r\nAuthorization: Basic eDp5\r\n", "more than one Authorization"},
		{"name with a space", "Authorization: Bearer " + tok + "\r\nX Forwarded For: 10.0.0.1\r\n", `invalid header name \"X Forwarded For\"`},
		{"name with an underscore", "Authorization: Bearer " + tok + "\r\nX_Forwarded_For: 10.0.0.1\r\n", "invalid header name"},
		{"name with an underscore, keyless", "X_Client_Id: admin\r\n", "invalid header name"},
		{"name with a dot", "X.Http.Method.Override: DELETE\r\n", `invalid header name \"X.http.method.override\"`},
		{"name with other token punctuation", "X-User~: admin\r\n", "invalid header name"},
		{"folded line", "X-A: a\r\n b\r\nX-Http-Method-Override: DELETE\r\n", "obsolete line folding"},
		{"folded line with a tab", "Authorization: Bearer " + tok + "\r\nX-A: a\r\n\tb\r\n", "obsolete line folding"},
		// fasthttp refuses these when it parses the header.
		{"name with a separator", "Authorization: Bearer " + tok + "\r\nX-A(b): 1\r\n", ""},
		{"name with a non-ASCII byte", "Authorization: Bearer " + tok + "\r\nX-\xe9: 1\r\n", ""},
		{"two Host", "Authorization: Bearer " + tok + "\r\nHost: evil.example\r\n", ""},
		{"two Content-Length", "Authorization: Bearer " + tok + "\r\nContent-Length: 0\r\nContent-Length: 5\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.hitCount()
			path := "/private/x"
			if !strings.Contains(tt.header, "Authorization") {
				path = "/public/x"
			}
			r := e.rawExchange("GET " + path + " HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n" + tt.header + "\r\n")
			if r.status != 400 || !strings.Contains(r.body, tt.err) {
				t.Fatalf("status %d %s, want 400 saying %q", r.status, r.body, tt.err)
			}
			if e.hitCount() != before {
				t.Fatalf("the upstream got %+v", e.lastHit())
			}
		})
	}
}

// TestConnectionKeepsEndToEndHeaders names in Connection the headers that
// frame the body, carry credentials or that the gateway sets: they reach
// the upstream all the same; another named header is removed.
func TestConnectionKeepsEndToEndHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tok := e.token("c1", nil)
	r := e.rawExchange("POST /private/body HTTP/1.1\r\nHost: gateway\r\n" +
		"Connection: close, Content-Length, Authorization, Cookie, Host, X-Forwarded-For, x-forwarded-host, X-Request-Id, X-Hop\r\n" +
		"Connection: X-Hop2\r\n" +
		"Authorization: Bearer " + tok + "\r\nCookie: a=1\r\nX-Hop: 1\r\nX-Hop2: 1\r\nX-Request-Id: rid-1\r\nContent-Length: 5\r\n\r\nhello")
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	hit := e.lastHit()
	if hit.Body != "hello" || hit.ContentLength != 5 {
		t.Fatalf("upstream got body %q, length %d", hit.Body, hit.ContentLength)
	}
	for k, want := range map[string]string{
		"Authorization":    "Bearer " + tok,
		"Cookie":           "a=1",
		"X-Forwarded-For":  "127.0.0.1",
		"X-Forwarded-Host": "gateway",
		"X-Request-Id":     "rid-1",
	} {
		if got := hit.Header.Get(k); got != want {
			t.Errorf("upstream %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"X-Hop", "X-Hop2"} {
		if got := hit.Header.Get(k); got != "" {
			t.Errorf("%s, named in a Connection field, reached the upstream: %q", k, got)
		}
	}
}

// TestFolded: a header block with a line that begins with white space,
// the first or a later one, after CRLF or a bare LF, is folded.
func TestFolded(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		raw  string
		want bool
	}{
		{"Host: a\r\nX-A: b\r\n", false},
		{"Host: a\r\nX-A: b c\t d\r\n", false},
		{" X-A: a\r\nHost: a\r\n", true},
		{"\tX-A: a\r\n", true},
		{"Host: a\r\nX-A: b\r\n c\r\n", true},
		{"Host: a\nX-A: b\n\tc\n", true},
		{"", false},
	} {
		if got := folded([]byte(tt.raw)); got != tt.want {
			t.Errorf("folded(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// TestExposed: a CORS answer exposes an API's expose_headers and the
// gateway's own headers, each once whatever its letter case.
func TestExposed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		configured []string
		want       string
	}{
		{nil, "X-Request-Id, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"},
		{[]string{"ETag", "x-request-id", "RETRY-AFTER"}, "ETag, x-request-id, RETRY-AFTER, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset"},
	} {
		if got := strings.Join(exposed(tt.configured), ", "); got != tt.want {
			t.Errorf("exposed(%q) = %q, want %q", tt.configured, got, tt.want)
		}
	}
}
