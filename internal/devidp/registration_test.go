package devidp

import (
	"strings"
	"testing"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	p, _ := newTest(t, Options{})
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		code   string
	}{
		{"ok", jsonHdr(testIAT), `{"client_name":"app","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post","response_types":["token"]}`, 201, ""},
		{"defaults", jsonHdr(testIAT), `{}`, 201, ""},
		{"lower-case bearer", map[string]string{"Content-Type": "application/json", "Authorization": "bearer " + testIAT}, `{}`, 201, ""},
		{"no token", jsonHdr(""), `{}`, 401, "invalid_token"},
		{"wrong token", jsonHdr("nope"), `{}`, 401, "invalid_token"},
		{"basic instead of bearer", map[string]string{"Content-Type": "application/json", "Authorization": "Basic " + testIAT}, `{}`, 401, "invalid_token"},
		{"not json", map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + testIAT}, `{}`, 400, "invalid_client_metadata"},
		{"broken json", jsonHdr(testIAT), `{`, 400, "invalid_client_metadata"},
		{"wrong type", jsonHdr(testIAT), `{"grant_types":"client_credentials"}`, 400, "invalid_client_metadata"},
		{"client_secret sent", jsonHdr(testIAT), `{"client_secret":"mine"}`, 400, "invalid_client_metadata"},
		{"no client_credentials", jsonHdr(testIAT), `{"grant_types":["authorization_code"]}`, 400, "invalid_client_metadata"},
		{"auth method", jsonHdr(testIAT), `{"token_endpoint_auth_method":"private_key_jwt"}`, 400, "invalid_client_metadata"},
		{"bad redirect", jsonHdr(testIAT), `{"redirect_uris":["/relative"]}`, 400, "invalid_redirect_uri"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.ClientCount()
			r := do(t, "POST", p.RegistrationURL(), tc.hdr, tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %v", r.status, tc.status, r.body)
			}
			if tc.status != 201 {
				if r.body["error"] != tc.code || r.body["error_description"] == "" {
					t.Errorf("error %v, want %s with a description", r.body, tc.code)
				}
				if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
					t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
				if p.ClientCount() != before {
					t.Errorf("a refused registration left a client behind")
				}
				return
			}
			id, _ := r.body["client_id"].(string)
			for _, f := range []string{"client_id", "client_secret", "registration_access_token"} {
				if s, _ := r.body[f].(string); s == "" {
					t.Errorf("%s missing: %v", f, r.body)
				}
			}
			if r.body["registration_client_uri"] != p.RegistrationURL()+"/"+id || r.header.Get("Location") != p.RegistrationURL()+"/"+id {
				t.Errorf("registration_client_uri %v, Location %q", r.body["registration_client_uri"], r.header.Get("Location"))
			}
			if r.body["client_secret_expires_at"] != float64(0) {
				t.Errorf("client_secret_expires_at = %v, want 0", r.body["client_secret_expires_at"])
			}
			if _, ok := r.body["client_id_issued_at"].(float64); !ok {
				t.Errorf("client_id_issued_at = %v", r.body["client_id_issued_at"])
			}
			if tc.name == "defaults" && (r.body["token_endpoint_auth_method"] != "client_secret_basic" || r.body["grant_types"].([]any)[0] != "client_credentials") {
				t.Errorf("defaults not filled in: %v", r.body)
			}
			if !p.HasClient(id) {
				t.Errorf("client %s not stored", id)
			}
		})
	}
}

func TestRegistrationManagement(t *testing.T) {
	t.Parallel()
	p, _ := newTest(t, Options{})
	c := register(t, p, `{"client_name":"app"}`)
	other := register(t, p, `{"client_name":"other"}`)
	uri := c["registration_client_uri"].(string)
	rat := c["registration_access_token"].(string)

	for _, tc := range []struct {
		name, method, uri, bearer string
		status                    int
	}{
		{"read without token", "GET", uri, "", 401},
		{"read with the initial token", "GET", uri, testIAT, 401},
		{"read with another client's token", "GET", uri, other["registration_access_token"].(string), 401},
		{"read", "GET", uri, rat, 200},
		{"delete with wrong token", "DELETE", uri, "nope", 401},
		{"delete unknown client", "DELETE", p.RegistrationURL() + "/nope", rat, 401},
		{"delete", "DELETE", uri, rat, 204},
		{"read after delete", "GET", uri, rat, 401},
		{"delete again", "DELETE", uri, rat, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, tc.uri, jsonHdr(tc.bearer), "")
			if r.status != tc.status {
				t.Fatalf("%s %s: %d, want %d (%v)", tc.method, tc.uri, r.status, tc.status, r.body)
			}
			if tc.status == 401 && r.body["error"] != "invalid_token" {
				t.Errorf("error = %v", r.body)
			}
			if tc.status == 200 && r.body["client_id"] != c["client_id"] {
				t.Errorf("read %v", r.body)
			}
		})
	}
	if !p.HasClient(other["client_id"].(string)) || p.ClientCount() != 1 {
		t.Errorf("delete removed the wrong clients: %d left", p.ClientCount())
	}
}
