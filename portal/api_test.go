package portal

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestJSONNeedsJSONContentType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""} {
		resp, err := http.Post(e.srv.URL+apiPrefix+"/login", ct, strings.NewReader(`{"email":"a@b.c","password":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d, want 415", ct, resp.StatusCode)
		}
	}
	resp, _ := http.Post(e.srv.URL+apiPrefix+"/login", "application/json; charset=utf-8", strings.NewReader(`{"email":"a@b.c","password":"x"}`))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("application/json; charset=utf-8: %d, want 401", resp.StatusCode)
	}
}

func TestAPILeniency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	// One string for catalogue and for redirect_uris (split on the separator).
	var c clientView
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": "gluu_api", "client_name": "x",
		"redirect_uris": "https://a.example/cb;https://b.example/cb"}, &c)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	if st, _ := e.store.Client(c.ClientID); len(st.RedirectURIs) != 2 || len(st.Catalogue) != 1 {
		t.Errorf("stored %+v", st)
	}
	var aerr apiError
	if resp := e.api(dev, "PUT", "/clients/"+c.ClientID, map[string]any{}, &aerr); resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD, DELETE, PATCH" {
		t.Errorf("PUT: %d %q %+v", resp.StatusCode, resp.Header.Get("Allow"), aerr)
	}
	if resp := e.api(dev, "GET", "/nope", nil, &aerr); resp.StatusCode != 404 || aerr.Code != "not_found" {
		t.Errorf("GET /nope: %d %+v", resp.StatusCode, aerr)
	}
	if resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": 5}, &aerr); resp.StatusCode != 400 {
		t.Errorf("catalogue 5: %d %+v", resp.StatusCode, aerr)
	}
}

func TestAPIRefusesBodiesItDoesNotUnderstand(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dev := e.developer("a@example.com")
	const clientFields = "catalogue, client_name, redirect_uris"
	tests := []struct {
		path, body string
		want       string
	}{
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x","bogus":1}`, `unknown field "bogus": the fields are ` + clientFields},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x","redirect_uri":"https://a.example/cb"}`, `unknown field "redirect_uri": the fields are ` + clientFields},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x"} {"client_name":"y"}`, "the body has more after its JSON object"},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x"}garbage`, "the body has more after its JSON object"},
		{"/clients", `[1]`, "the body must be a JSON object with the fields " + clientFields},
		{"/clients", `"gluu_api"`, "the body must be a JSON object with the fields " + clientFields},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":5}`, `field "client_name": want a string`},
		{"/clients", `{"catalogue":5,"client_name":"x"}`, `field "catalogue": want a string or a list of strings`},
		{"/clients", `{"catalogue":[1],"client_name":"x"}`, `field "catalogue": want a string or a list of strings`},
		{"/clients", `{"catalogue":["gluu_api"],"client_name":"x","redirect_uris":{}}`, `field "redirect_uris": want a string or a list of strings`},
		{"/clients", `{"catalogue":`, "the body is not valid JSON: unexpected EOF"},
		{"/login", `{"email":"a@example.com","password":"correct horse","remember":true}`, `unknown field "remember": the fields are email, password`},
		{"/signup", `{"email":["a@example.com"],"password":"correct horse"}`, `field "email": want a string`},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("POST", e.srv.URL+apiPrefix+tt.path, strings.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := dev.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var aerr apiError
		json.NewDecoder(resp.Body).Decode(&aerr)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || aerr.Code != "invalid_request" || aerr.Description != tt.want {
			t.Errorf("POST %s %s: %d %+v, want 400 %q", tt.path, tt.body, resp.StatusCode, aerr, tt.want)
		}
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d provider calls", n)
	}
	if cs := e.store.Clients(""); len(cs) != 0 {
		t.Errorf("clients stored: %+v", cs)
	}
}
