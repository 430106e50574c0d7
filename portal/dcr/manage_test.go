package dcr

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

// update is an RFC 7592 (or Okta) PUT of the JSON body to path with auth.
func update(path, auth, body string) testidp.Request {
	return testidp.Request{Method: "PUT", Path: path, Authorization: auth, ContentType: "application/json", Body: body}
}

// TestUpdateRequestPerDriver: each driver sends the RFC 7592 update as
// its provider takes it, and keeps what the answer rotates.
func TestUpdateRequestPerDriver(t *testing.T) {
	t.Parallel()
	token := &table.Secret{Env: testutil.Env(t, "DCR_TEST_TOKEN", "api-token")}
	managed := Registration{ClientID: "c", ClientSecret: "old-secret", RegistrationClientURI: "/register/c",
		RegistrationAccessToken: "rat", TokenEndpointAuthMethod: "client_secret_basic"}
	tests := []struct {
		name       string
		provider   string
		reg        Registration
		answer     string
		want       testidp.Request
		wantSecret string
		wantRAT    string
	}{
		{"hydra rotates the registration access token", "hydra", managed,
			`{"client_id":"c","registration_access_token":"rat-2"}`,
			update("/register/c", "Bearer rat",
				`{"client_id":"c","client_name":"renamed","grant_types":["client_credentials"],"redirect_uris":["https://app/cb"]}`),
			"old-secret", "rat-2"},
		{"keycloak issues a new secret", "keycloak", managed,
			`{"client_id":"c","client_secret":"new-secret"}`,
			update("/register/c", "Bearer rat",
				`{"client_id":"c","client_name":"renamed","grant_types":["client_credentials"],"redirect_uris":["https://app/cb"]}`),
			"new-secret", "rat"},
		{"gluu keeps asking for JWT access tokens", "gluu", managed,
			`{"client_id":"c"}`,
			update("/register/c", "Bearer rat",
				`{"access_token_as_jwt":true,"access_token_signing_alg":"RS256","client_id":"c","client_name":"renamed","grant_types":["client_credentials"],"redirect_uris":["https://app/cb"]}`),
			"old-secret", "rat"},
		{"okta by client id with SSWS", "okta", Registration{ClientID: "c", ClientSecret: "old-secret"},
			`{"client_id":"c","client_secret":"old-secret"}`,
			update("/oauth2/v1/clients/c", "SSWS api-token",
				`{"application_type":"service","client_id":"c","client_name":"renamed","grant_types":["client_credentials"],"redirect_uris":["https://app/cb"]}`),
			"old-secret", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, testidp.Reply(200, tt.answer))
			reg := tt.reg
			if reg.RegistrationClientURI != "" {
				reg.RegistrationClientURI = f.URL + reg.RegistrationClientURI
			}
			s := table.DCR{Provider: tt.provider, GrantTypes: []string{"client_credentials"}, RegistrationEndpoint: f.URL + "/oauth2/v1/clients",
				InitialAccessToken: token}
			r, _ := New(&s, "", f.Client())
			got, err := r.Update(context.Background(), &reg, Request{ClientName: "renamed", RedirectURIs: []string{"https://app/cb"}})
			if err != nil {
				t.Fatal(err)
			}
			if got.ClientSecret != tt.wantSecret || got.RegistrationAccessToken != tt.wantRAT || got.RegistrationClientURI != reg.RegistrationClientURI {
				t.Errorf("Update = %+v, want secret %q and token %q", got, tt.wantSecret, tt.wantRAT)
			}
			if reqs := f.Requests(); len(reqs) != 1 || reqs[0] != tt.want {
				t.Errorf("requests = %+v\nwant %+v", reqs, tt.want)
			}
		})
	}
}

func TestManageErrors(t *testing.T) {
	t.Parallel()
	managed := Registration{ClientID: "c", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat"}
	tests := []struct {
		name   string
		status int
		body   string
		reg    Registration
		want   error
	}{
		{"unknown client", 404, `{"error":"not_found"}`, managed, ErrUnknownClient},
		{"gone", 410, ``, managed, ErrUnknownClient},
		{"401 to the registration access token", 401, `{"error":"invalid_token"}`, managed, ErrTokenRefused},
		{"refused", 400, `{"error":"invalid_redirect_uri","error_description":"<b>no</b>"}`, managed,
			&ProviderError{Status: 400, Code: "invalid_redirect_uri", Description: "<b>no</b>"}},
		{"unmanaged", 200, `{}`, Registration{ClientID: "c"}, ErrUnmanaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, testidp.Reply(tt.status, tt.body))
			reg := tt.reg
			if reg.RegistrationClientURI != "" {
				reg.RegistrationClientURI = f.URL + reg.RegistrationClientURI
			}
			r := hydraAt(t, f)
			_, uerr := r.Update(context.Background(), &reg, Request{ClientName: "x"})
			_, rerr := r.Read(context.Background(), &reg)
			for _, err := range []error{uerr, rerr} {
				var pe *ProviderError
				if want, ok := tt.want.(*ProviderError); ok {
					if !errors.As(err, &pe) || *pe != *want {
						t.Errorf("error = %v, want %v", err, want)
					}
				} else if !errors.Is(err, tt.want) {
					t.Errorf("error = %v, want %v", err, tt.want)
				}
			}
		})
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	f := newFake(t, testidp.Reply(http.StatusOK, `{"client_id":"c","client_name":"renamed","redirect_uris":["https://app/cb"]}`))
	r := hydraAt(t, f)
	md, err := r.Read(context.Background(), &Registration{ClientID: "c", RegistrationClientURI: f.URL + "/register/c", RegistrationAccessToken: "rat"})
	if err != nil || md.ClientName != "renamed" || len(md.RedirectURIs) != 1 {
		t.Fatalf("Read = %+v, %v", md, err)
	}
	if reqs := f.Requests(); len(reqs) != 1 || reqs[0] != (testidp.Request{Method: "GET", Path: "/register/c", Authorization: "Bearer rat"}) {
		t.Errorf("requests = %+v", reqs)
	}
}

// TestProviderWordsClipped: a provider's error and error_description
// reach the developer clipped, as the text of a non-JSON answer is.
func TestProviderWordsClipped(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 3000)
	f := newFake(t, testidp.Reply(400, `{"error":"`+long+`","error_description":"`+long+`"}`))
	r := hydraAt(t, f)
	_, err := r.Register(context.Background(), Request{ClientName: "x"})
	pe, ok := errors.AsType[*ProviderError](err)
	if !ok || len(pe.Code) > maxErrorText+len("…") || len(pe.Description) > maxErrorText+len("…") || !utf8.ValidString(pe.Description) {
		t.Errorf("Register = %v, want the provider's words clipped", err)
	}
}
