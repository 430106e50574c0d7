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

// hydraManage sends an RFC 7592 request for a client Hydra registered
// and returns the status and the JSON answer.
func hydraManage(t *testing.T, method, uri, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, uri, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestHydraManagement checks the RFC 7592 behaviour the portal's rename,
// secret rotation and forgotten clients rely on: Hydra reads a client,
// takes a PUT of its metadata, rotates the registration access token on
// it, keeps the secret, and answers 401 once the client is gone.
func TestHydraManagement(t *testing.T) {
	h, _ := startHydra(t)
	c := hydraRegister(t, h.PublicURL+"/oauth2/register", "before")
	id, secret := c["client_id"].(string), c["client_secret"].(string)
	uri, rat := c["registration_client_uri"].(string), c["registration_access_token"].(string)

	st, got := hydraManage(t, "GET", uri, rat, nil)
	if st != http.StatusOK || got["client_name"] != "before" {
		t.Fatalf("RFC 7592 read: %d %v", st, got)
	}
	st, got = hydraManage(t, "PUT", uri, rat, map[string]any{"client_id": id, "client_name": "after",
		"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "client_secret_post",
		"response_types": []string{"token"}, "redirect_uris": []string{"https://app.example/cb"}})
	if st != http.StatusOK || got["client_name"] != "after" {
		t.Fatalf("RFC 7592 update: %d %v", st, got)
	}
	newRAT, _ := got["registration_access_token"].(string)
	if newRAT == "" || newRAT == rat || got["client_secret"] != nil {
		t.Errorf("update answer: %v; want a new registration access token and no secret", got)
	}
	clientCredentials(t, h.PublicURL+"/oauth2/token", id, secret) // the secret still works
	if st, _ := hydraManage(t, "GET", uri, rat, nil); st != http.StatusUnauthorized {
		t.Errorf("read with the registration access token the update replaced: %d, want 401", st)
	}
	if st, got = hydraManage(t, "GET", uri, newRAT, nil); st != http.StatusOK || got["client_name"] != "after" {
		t.Errorf("read after the update: %d %v", st, got)
	}
	req, _ := http.NewRequest("DELETE", h.AdminURL+"/admin/clients/"+id, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if st, got = hydraManage(t, "GET", uri, newRAT, nil); st != http.StatusUnauthorized {
		t.Errorf("read of a deleted client: %d %v, want 401 (RFC 7592 §2)", st, got)
	}
}
