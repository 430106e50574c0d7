package outbound

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestURLProblem(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ raw, base, want string }{
		{"https://idp.example/keys", "https://idp.example/d", ""},
		{"HTTPS://idp.example/keys", "https://idp.example/d", ""},
		{"http://127.0.0.1:8082/keys", "http://127.0.0.1:8082/d", ""},
		{"http://127.0.0.1:8082/keys", "HTTP://127.0.0.1:8082/d", ""},
		{"https://idp.example/keys", "http://127.0.0.1/d", ""},
		{"http://idp.example/keys", "https://idp.example/d", "is plain http, below the https of the base"},
		{"http://idp.example/keys", "HTTPS://idp.example/d", "is plain http, below the https of the base"},
		{"/keys", "https://idp.example/d", "is not an absolute http or https URL"},
		{"https://:443/keys", "https://idp.example/d", "is not an absolute http or https URL"},
		{"file:///etc/passwd", "https://idp.example/d", "is not an absolute http or https URL"},
		{"gopher://idp.example/keys", "https://idp.example/d", "is not an absolute http or https URL"},
		{"", "https://idp.example/d", "is not an absolute http or https URL"},
	} {
		if got := URLProblem(tt.raw, tt.base, "the base"); got != tt.want {
			t.Errorf("URLProblem(%q, %q) = %q, want %q", tt.raw, tt.base, got, tt.want)
		}
	}
}

func TestNoRedirects(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.RedirectHandler("http://elsewhere.invalid/", http.StatusFound))
	defer srv.Close()
	resp, err := NoRedirects(srv.Client()).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("status %d, want the 302 itself", resp.StatusCode)
	}
}
