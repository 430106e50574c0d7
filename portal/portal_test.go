package portal

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"

	"github.com/rs/zerolog"
)

func TestAPIJourney(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("Dev@Example.com")

	var cat []catalogueItem
	if resp := e.api(dev, "GET", "/catalogue", nil, &cat); resp.StatusCode != 200 || len(cat) != 4 {
		t.Fatalf("catalogue: %d %+v", resp.StatusCode, cat)
	}
	if cat[0].ID != "free" || cat[1].ID != "gluu_api" || cat[1].Policy != "gold" ||
		cat[1].Limits != "100 requests per minute, 10,000 per 30 days, keys expire after 365 days" {
		t.Errorf("catalogue = %+v", cat)
	}

	c := e.create(dev, "my app", "gluu_api")
	wantExp := t0.Add(8760 * time.Hour)
	if c.ClientID != "client-1" || c.ClientSecret != "secret-1" || c.TokenEndpoint != e.idp.URL+"/token" ||
		c.Policy != "gold" || len(c.Catalogue) != 1 || !c.CreatedAt.Equal(t0) || c.ExpiresAt == nil || !c.ExpiresAt.Equal(wantExp) {
		t.Errorf("created = %+v", c)
	}
	reqs := e.requests()
	want := `POST /register Bearer initial-token {"client_name":"my app","grant_types":["client_credentials"],"response_types":["token"],"token_endpoint_auth_method":"client_secret_post"}`
	if len(reqs) != 1 || reqs[0] != want {
		t.Errorf("provider requests = %q, want %q", reqs, want)
	}
	if bnd, found := e.store.Binding("client-1"); bnd.Policy != "gold" || !bnd.ExpiresAt.Equal(wantExp) || bnd.Revoked || !found {
		t.Errorf("Binding = %+v %v", bnd, found)
	}
	stored, _ := e.store.Client("client-1")
	if stored.Developer != "dev@example.com" || stored.RegistrationAccessToken != "rat-1" {
		t.Errorf("stored = %+v", stored)
	}

	var list []clientView
	e.api(dev, "GET", "/clients", nil, &list)
	if len(list) != 1 || list[0].ClientID != "client-1" || list[0].ClientSecret != "" {
		t.Errorf("list = %+v (the list shows no secrets)", list)
	}
	var one clientView
	if resp := e.api(dev, "GET", "/clients/client-1", nil, &one); resp.StatusCode != 200 || one.ClientSecret != "secret-1" {
		t.Errorf("get: %d %+v", resp.StatusCode, one)
	}

	if resp := e.api(dev, "DELETE", "/clients/client-1", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if reqs := e.requests(); len(reqs) != 3 || reqs[1] != "GET /register/client-1 Bearer rat-1 " || reqs[2] != "DELETE /register/client-1 Bearer rat-1 " {
		t.Errorf("provider requests = %q, want an RFC 7592 read and DELETE", reqs)
	}
	if bnd, found := e.store.Binding("client-1"); !bnd.Revoked || !found {
		t.Error("deleted client is not revoked")
	}
	if resp := e.api(dev, "GET", "/clients/client-1", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("get deleted: %d", resp.StatusCode)
	}

	if resp := e.api(dev, "POST", "/logout", map[string]any{}, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	var aerr apiError
	if resp := e.api(dev, "GET", "/clients", nil, &aerr); resp.StatusCode != http.StatusUnauthorized || aerr.Code != "unauthorized" {
		t.Errorf("after logout: %d %+v", resp.StatusCode, aerr)
	}
	var who map[string]string
	if resp := e.api(dev, "POST", "/login", credentials{"dev@example.com", "correct horse"}, &who); resp.StatusCode != 200 || who["email"] != "dev@example.com" {
		t.Errorf("login: %d %v", resp.StatusCode, who)
	}
}

func TestDeveloperIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.developer("alice@example.com"), e.developer("bob@example.com")
	c := e.create(alice, "alice app", "gluu_api")
	var list []clientView
	e.api(bob, "GET", "/clients", nil, &list)
	if len(list) != 0 {
		t.Errorf("bob sees %+v", list)
	}
	for _, method := range []string{"GET", "DELETE"} {
		if resp := e.api(bob, method, "/clients/"+c.ClientID, nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob %s alice's client: %d, want 404", method, resp.StatusCode)
		}
	}
	resp, _ := bob.Get(e.srv.URL + "/clients/" + c.ClientID)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob's HTML detail of alice's client: %d", resp.StatusCode)
	}
	if _, ok := e.store.Client(c.ClientID); !ok {
		t.Error("alice's client is gone")
	}
}

func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	e := newEnvLog(t, zerolog.New(&logs))
	dev := e.developer("a@example.com")
	e.api(e.browser(), "POST", "/login", credentials{"a@example.com", "wrong password"}, nil)
	c := e.create(dev, "app", "gluu_api")
	e.api(dev, "DELETE", "/clients/"+c.ClientID, nil, nil)
	e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":"invalid_token"}`)
		return true
	})
	e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, nil)
	out := logs.String()
	if !strings.Contains(out, "client registered") || !strings.Contains(out, "registration failed") {
		t.Fatalf("logs lack the events:\n%s", out)
	}
	for _, secret := range []string{"initial-token", c.ClientSecret, "rat-1", "correct horse", "wrong password", "$2a$"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}
}
