package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
)

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	tests := []struct {
		name string
		body map[string]any
		code string
	}{
		{"no entry", map[string]any{"client_name": "x"}, "invalid_request"},
		{"unknown entry", map[string]any{"catalogue": []string{"nope"}, "client_name": "x"}, "invalid_request"},
		{"entry without dcr", map[string]any{"catalogue": []string{"nodcr"}, "client_name": "x"}, "invalid_request"},
		{"different policies", map[string]any{"catalogue": []string{"gluu_api", "free"}, "client_name": "x"}, "invalid_request"},
		{"no name", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": " "}, "invalid_client_metadata"},
		{"relative redirect", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x", "redirect_uris": []string{"/cb"}}, "invalid_redirect_uri"},
	}
	for _, tt := range tests {
		var aerr apiError
		if resp := e.api(dev, "POST", "/clients", tt.body, &aerr); resp.StatusCode != 400 || aerr.Code != tt.code {
			t.Errorf("%s: %d %+v, want 400 %s", tt.name, resp.StatusCode, aerr, tt.code)
		}
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d provider calls for invalid requests", n)
	}
	// Entries with one policy and the same settings share a client.
	c := e.create(dev, "both", "orders", "gluu_api", "orders")
	if len(c.Catalogue) != 2 || c.Catalogue[0] != "gluu_api" || c.Policy != "gold" {
		t.Errorf("multi-entry client = %+v", c)
	}
}

func TestClientLocationsEscapeTheClientID(t *testing.T) {
	t.Parallel()
	tests := []struct{ clientID, wantPath string }{
		{"plain", "/clients/plain"},
		{"a/b", "/clients/a%2Fb"},
		{"a?b=c", "/clients/a%3Fb=c"},
		{"a#b", "/clients/a%23b"},
		{"a b%2F", "/clients/a%20b%252F"},
	}
	for _, tt := range tests {
		// registered answers every registration with tt.clientID and logs
		// a developer in.
		registered := func(t *testing.T) (*env, *http.Client) {
			e := newEnv(t)
			id, _ := json.Marshal(tt.clientID)
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"client_id":%s,"client_secret":"s","registration_client_uri":"%s/register/x","registration_access_token":"rat"}`, id, e.idp.URL)
				return true
			})
			return e, e.developer("a@example.com")
		}
		t.Run("API "+tt.clientID, func(t *testing.T) {
			e, dev := registered(t)
			resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, nil)
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusCreated || loc != apiPrefix+tt.wantPath {
				t.Fatalf("create: %d to %q, want 201 to %q", resp.StatusCode, loc, apiPrefix+tt.wantPath)
			}
			var got clientView
			if resp := e.api(dev, "GET", tt.wantPath, nil, &got); resp.StatusCode != http.StatusOK || got.ClientID != tt.clientID {
				t.Errorf("GET the Location: %d %q, want 200 %q", resp.StatusCode, got.ClientID, tt.clientID)
			}
		})
		t.Run("HTML "+tt.clientID, func(t *testing.T) {
			e, dev := registered(t)
			_, _, tok := e.page(dev, "/clients/new?entry=gluu_api")
			resp, body := e.post(dev, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
			if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != tt.wantPath {
				t.Fatalf("create: %d to %q, want 303 to %q: %s", resp.StatusCode, loc, tt.wantPath, body)
			}
			if status, body, _ := e.page(dev, tt.wantPath); status != http.StatusOK || !strings.Contains(body, "is registered.") {
				t.Errorf("the result page: %d %s", status, body)
			}
			// The pages link to the client by the same escaped path.
			if _, body, _ := e.page(dev, "/clients"); !strings.Contains(body, `href="`+tt.wantPath+`"`) {
				t.Errorf("the clients page links to no %q: %s", tt.wantPath, body)
			}
		})
	}
}

// TestSigningAlgorithmIsOneTheAPIsAccept: the algorithm, and the refusal
// of entries whose APIs take tokens from different identity providers.
func TestSigningAlgorithmIsOneTheAPIsAccept(t *testing.T) {
	t.Parallel()
	tab := &table.Table{APIs: map[string]*table.API{
		"keyless": {ID: "keyless"},
		"es":      {ID: "es", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256"}}},
		"es_rs":   {ID: "es_rs", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256", "RS256"}}},
		"es_ps":   {ID: "es_ps", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256", "PS256"}}},
		"ps_rs":   {ID: "ps_rs", JWT: &table.JWTAuth{IdP: "gluu", Algorithms: []string{"PS256", "RS256"}}},
		"other":   {ID: "other", JWT: &table.JWTAuth{IdP: "kc", Algorithms: []string{"RS256"}}},
		"alias":   {ID: "alias", JWT: &table.JWTAuth{IdP: "gluu2", Algorithms: []string{"RS256"}}},
	}, IdPs: map[string]*table.IdP{
		"gluu":  {ID: "gluu", Issuer: "https://gluu.example/"},
		"gluu2": {ID: "gluu2", Issuer: "https://gluu.example/"}, // another entry for the same provider
		"kc":    {ID: "kc", Issuer: "https://kc.example/"},
	}}
	tests := []struct {
		apis    []string
		want    string
		wantErr string
	}{
		{[]string{"keyless"}, "", ""},
		{[]string{"es_rs"}, "RS256", ""},
		{[]string{"es"}, "ES256", ""},
		{[]string{"keyless", "es"}, "ES256", ""},
		{[]string{"es_ps", "ps_rs"}, "PS256", ""},
		{[]string{"es_rs", "ps_rs"}, "RS256", ""},
		{[]string{"es", "keyless", "ps_rs"}, "", `APIs "e0" and "e2" accept tokens signed with different algorithms: get one client for each`},
		// A client gets tokens from one IdP, and the gateway binds it to one.
		{[]string{"es_rs", "other"}, "", `APIs "e0" and "e1" take tokens from different identity providers (https://gluu.example/, https://kc.example/): get one client for each`},
		{[]string{"es_rs", "alias"}, "RS256", ""}, // two IdP entries, one issuer
	}
	for _, tt := range tests {
		var entries []*table.CatalogueEntry
		for i, api := range tt.apis {
			entries = append(entries, &table.CatalogueEntry{ID: fmt.Sprint("e", i), API: api})
		}
		got, aerr := signingAlg(tab, entries)
		gotErr := ""
		if aerr != nil && aerr.Status == http.StatusBadRequest {
			gotErr = aerr.Description
		} else if aerr != nil {
			gotErr = aerr.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("%v: %q, error %q; want %q, error %q", tt.apis, got, gotErr, tt.want, tt.wantErr)
		}
	}
	if a := tab.APIs["es_ps"].JWT.Algorithms; !slices.Equal(a, []string{"ES256", "PS256"}) {
		t.Errorf("the table's algorithms were changed: %v", a)
	}
}

func TestGluuClientsAreSignedWithAnAlgorithmTheAPIAccepts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tab := e.freshTable()
	tab.APIs["gluu_api"].JWT = &table.JWTAuth{IdP: "gluu", Algorithms: []string{"ES256"}}
	tab.Portal.Catalogue["gluu_api"].DCR.Provider = "gluu"
	e.table.Store(tab)
	e.create(e.developer("a@example.com"), "app", "gluu_api")
	if reqs := e.requests(); len(reqs) != 1 || !strings.Contains(reqs[0], `"access_token_as_jwt":true,"access_token_signing_alg":"ES256"`) {
		t.Errorf("provider requests = %q, want ES256 asked for", reqs)
	}
}
