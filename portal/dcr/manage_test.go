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

// TestRead: a read returns the registration as the provider has it now,
// with the client secret, registration access token and
// registration_client_uri it rotated on the read (RFC 7592 §2.1; Gluu's
// rotateClientRegistrationAccessTokenOnUsage, Keycloak), and the stored
// ones it left out; an answer it could not use is ErrBadResponse, as an
// update's is.
func TestRead(t *testing.T) {
	t.Parallel()
	stored := Registration{ClientID: "c", ClientSecret: "secret", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat",
		TokenEndpointAuthMethod: "client_secret_basic"}
	tests := []struct {
		name   string
		answer string // URL: the fake's
		want   Registration
		err    error
	}{
		{"metadata alone", `{"client_id":"c","client_name":"renamed","redirect_uris":["https://app/cb"]}`, stored, nil},
		{"registration access token rotated", `{"client_id":"c","registration_access_token":"rat-2","registration_client_uri":"URL/register/c"}`,
			Registration{ClientID: "c", ClientSecret: "secret", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat-2", TokenEndpointAuthMethod: "client_secret_basic"}, nil},
		{"secret and token rotated, method named", `{"client_id":"c","client_secret":"secret-2","registration_access_token":"rat-2","token_endpoint_auth_method":"client_secret_post"}`,
			Registration{ClientID: "c", ClientSecret: "secret-2", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat-2", TokenEndpointAuthMethod: "client_secret_post"}, nil},
		{"registration_client_uri moved on the origin", `{"client_id":"c","registration_client_uri":"URL/clients/c"}`,
			Registration{ClientID: "c", ClientSecret: "secret", RegistrationClientURI: "/clients/c", RegistrationAccessToken: "rat", TokenEndpointAuthMethod: "client_secret_basic"}, nil},
		{"registration_client_uri off the origin", `{"client_id":"c","registration_access_token":"rat-2","registration_client_uri":"https://elsewhere.example/c"}`, Registration{}, ErrBadResponse},
		{"another client", `{"client_id":"d","registration_access_token":"rat-2"}`, Registration{}, ErrBadResponse},
		{"no client_id", `{"client_name":"renamed"}`, Registration{}, ErrBadResponse},
		{"secret not printable", `{"client_id":"c","client_secret":"secret-2\u202e","registration_access_token":"rat-2"}`, Registration{}, ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f *testidp.Server
			f = newFake(t, func(w http.ResponseWriter, r *http.Request) bool {
				return testidp.Reply(http.StatusOK, strings.ReplaceAll(tt.answer, "URL", f.URL))(w, r)
			})
			reg := stored
			reg.RegistrationClientURI = f.URL + reg.RegistrationClientURI
			got, err := hydraAt(t, f).Read(context.Background(), &reg)
			switch {
			case tt.err != nil:
				if !errors.Is(err, tt.err) || got != nil {
					t.Errorf("Read = %+v, %v; want %v", got, err, tt.err)
				}
			case err != nil:
				t.Errorf("Read: %v", err)
			default:
				want := tt.want
				want.RegistrationClientURI = f.URL + want.RegistrationClientURI
				if *got != want {
					t.Errorf("Read = %+v, want %+v", *got, want)
				}
			}
			if reqs := f.Requests(); len(reqs) != 1 || reqs[0] != (testidp.Request{Method: "GET", Path: "/register/c", Authorization: "Bearer rat"}) {
				t.Errorf("requests = %+v", reqs)
			}
			if err != nil && (strings.Contains(err.Error(), "rat-2") || strings.Contains(err.Error(), "secret-2")) {
				t.Errorf("the error repeats a credential: %v", err)
			}
		})
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
