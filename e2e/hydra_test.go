package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// hydraRegister registers a client at Hydra the way cuegate's portal does
// for provider "hydra" and returns the RFC 7591 response.
func hydraRegister(t *testing.T, registrationURL, name string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"client_name":                name,
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_post",
		"response_types":             []string{"token"},
		"redirect_uris":              []string{},
	})
	res, err := http.Post(registrationURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out map[string]any
	if res.StatusCode != http.StatusCreated || json.Unmarshal(b, &out) != nil {
		t.Fatalf("register at hydra: %d %s", res.StatusCode, b)
	}
	return out
}

// TestHydraFacts checks the provider behaviour the journey relies on, so a
// failure in TestJourney is not blamed on cuegate when Hydra changed.
func TestHydraFacts(t *testing.T) {
	h, hook := startHydra(t)
	c := hydraRegister(t, h.PublicURL+"/oauth2/register", "facts")
	id, secret := c["client_id"].(string), c["client_secret"].(string)
	for _, f := range []string{"registration_access_token", "registration_client_uri"} {
		if s, _ := c[f].(string); s == "" {
			t.Fatalf("registration response lacks %s: %v", f, c)
		}
	}

	tok := clientCredentials(t, h.PublicURL+"/oauth2/token", id, secret)
	hdr, claims := jwtPart(t, tok, 0), jwtPart(t, tok, 1)
	if hdr["alg"] != "RS256" || hdr["kid"] == "" {
		t.Errorf("first token header %v, want RS256 with a kid", hdr)
	}
	if claims["iss"] != h.Issuer || claims["client_id"] != id {
		t.Errorf("claims %v, want iss %s and client_id %s", claims, h.Issuer, id)
	}
	if _, ok := claims["pol"]; ok {
		t.Errorf("pol without the hook asking for it: %v", claims)
	}

	hook.set(id, "gold")
	if got := jwtPart(t, clientCredentials(t, h.PublicURL+"/oauth2/token", id, secret), 1)["pol"]; got != "gold" {
		t.Errorf("pol after the hook = %v, want gold", got)
	}

	if err := h.AddKey(context.Background(), "ES256", "facts-es256"); err != nil {
		t.Fatal(err)
	}
	if hdr := jwtPart(t, clientCredentials(t, h.PublicURL+"/oauth2/token", id, secret), 0); hdr["kid"] != "facts-es256" || hdr["alg"] != "ES256" {
		t.Errorf("after adding an ES256 key the header is %v", hdr)
	}

	req, _ := http.NewRequest("DELETE", c["registration_client_uri"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+c["registration_access_token"].(string))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("RFC 7592 delete: %s", res.Status)
	}
	res, err = http.Get(h.AdminURL + "/admin/clients/" + id)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("admin GET of a deleted client: %s", res.Status)
	}
}
