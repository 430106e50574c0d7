package testidp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestServer: the provider answers what the test does not, every request
// is recorded, and the JWKS, the answers and the availability follow the
// test's settings.
func TestServer(t *testing.T) {
	t.Parallel()
	s := New(t, devidp.Options{})
	req, _ := http.NewRequest("POST", s.IdP.RegistrationURL(), strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+InitialAccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !s.IdP.HasClient("client-1") {
		t.Fatalf("registration: %d, client-1 held %v", resp.StatusCode, s.IdP.HasClient("client-1"))
	}
	if status, body := testutil.Get(t, s.JWKSURL(), ""); status != 200 || !strings.Contains(body, s.IdP.SigningKID()) {
		t.Errorf("provider's JWKS: %d %s", status, body)
	}
	key := NewKey("k1", "ES256")
	s.PublishKeys(key.JWK(t, "ES256", "sig"))
	if _, body := testutil.Get(t, s.JWKSURL(), ""); !strings.Contains(body, `"kid":"k1"`) || strings.Contains(body, s.IdP.SigningKID()) {
		t.Errorf("published JWKS: %s", body)
	}
	s.SetDown(true)
	if status, _ := testutil.Get(t, s.JWKSURL(), ""); status != http.StatusServiceUnavailable {
		t.Errorf("down: %d", status)
	}
	s.SetAnswer(Reply(418, `{}`))
	if status, _ := testutil.Get(t, s.URL+"/anything", ""); status != 418 {
		t.Errorf("answered: %d", status)
	}
	want := []Request{
		{"POST", "/register", "Bearer " + InitialAccessToken, "application/json", "{}"},
		{"GET", "/jwks", "", "", ""}, {"GET", "/jwks", "", "", ""}, {"GET", "/jwks", "", "", ""},
		{"GET", "/anything", "", "", ""},
	}
	got := s.Requests()
	if len(got) != len(want) {
		t.Fatalf("requests %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %v, want %v", i, got[i], want[i])
		}
	}
	if n := s.Hits(devidp.JWKSPath); n != 3 {
		t.Errorf("JWKS hits %d, want 3", n)
	}
}
