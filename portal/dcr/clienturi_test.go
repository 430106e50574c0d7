package dcr

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

func TestClientURIProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		endpoint, uri string
		ok            bool
	}{
		{"https://idp.example/register", "https://idp.example/register/c", true},
		{"https://idp.example/register", "https://IDP.example/other/c", true},
		{"https://idp.example/register", "", true},
		{"http://127.0.0.1:80/register", "http://127.0.0.1:80/register/c", true},
		{"https://idp.example/register", "http://idp.example/register/c", false},
		{"https://idp.example/register", "https://idp.example:8443/register/c", false},
		{"https://idp.example/register", "https://evil.example/register/c", false},
		{"https://idp.example/register", "https://user@idp.example/register/c", false},
		{"https://idp.example/register", "/register/c", false},
		{"https://idp.example/register", "file:///etc/passwd", false},
		{"http://idp.example/register", "https://idp.example/register/c", false},
		{"", "https://idp.example/register/c", false},
	}
	for _, tt := range tests {
		d := &driver{s: &table.DCR{RegistrationEndpoint: tt.endpoint}}
		if p := d.clientURIProblem(tt.uri); (p == "") != tt.ok {
			t.Errorf("endpoint %s, uri %s: problem %q, want ok %v", tt.endpoint, tt.uri, p, tt.ok)
		}
	}
}

func TestTokenEndpointProblem(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ep, idpHost string
		ok          bool
	}{
		{"https://idp.example/token", "https://idp.example", true},
		{"https://other.example/oauth2/token", "https://idp.example", true},
		{"http://127.0.0.1:8082/token", "http://127.0.0.1:8082", true},
		{"http://idp.example/token", "https://idp.example", false},
		{"http://127.0.0.1:8082/token", "HTTP://127.0.0.1:8082", true},
		{"HTTP://idp.example/token", "https://idp.example", false},
		{"/token", "https://idp.example", false},
		{"https://:443/token", "https://idp.example", false},
		{"https://user@idp.example/token", "https://idp.example", false},
		{"javascript:alert(1)", "https://idp.example", false},
		{"https://idp.example/token\u202e\a", "https://idp.example", false},
		{"https://idp.example/" + strings.Repeat("a", maxTokenEndpoint), "https://idp.example", false},
	} {
		if p := tokenEndpointProblem(tt.ep, tt.idpHost); (p == "") != tt.ok {
			t.Errorf("token endpoint %.40q of %s: problem %q, want ok %v", tt.ep, tt.idpHost, p, tt.ok)
		}
	}
}

func TestMethodURI(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m  string
		ok bool
	}{
		{"urn:example:auth:mtls", true},
		{"https://idp.example/auth/method", true},
		{"magic", false},
		{"client_secret_post", false}, // a registry name, not a URI
		{"urn:x\u202e", false},
		{"urn:" + strings.Repeat("a", maxMethodURI), false},
	} {
		if got := methodURI(tt.m); got != tt.ok {
			t.Errorf("methodURI(%.40q) = %v, want %v", tt.m, got, tt.ok)
		}
	}
}

// TestClientURIElsewhereGetsNoToken: a registration_client_uri off the
// registration endpoint's origin, in a registration's answer, an
// update's answer or the store, is refused and receives nothing; Okta's
// initial access token only ever goes to <registration endpoint>/<client_id>.
func TestClientURIElsewhereGetsNoToken(t *testing.T) {
	t.Parallel()
	token := &table.Secret{Env: testutil.Env(t, "DCR_TEST_TOKEN", "api-token")}
	evil := testidp.New(t, devidp.Options{})
	evil.SetAnswer(testidp.Reply(200, `{}`))
	for _, provider := range []string{"hydra", "okta"} {
		t.Run(provider, func(t *testing.T) {
			f := newFake(t, nil)
			s := table.DCR{Provider: provider, RegistrationEndpoint: f.URL + "/register", InitialAccessToken: token}
			r, _ := New(&s, "", f.Client())
			ctx := context.Background()

			f.SetAnswer(testidp.Reply(201, `{"client_id":"c","client_secret":"s","registration_client_uri":"`+evil.URL+`/c","registration_access_token":"rat"}`))
			_, err := r.Register(ctx, Request{ClientName: "x"})
			if !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), "registration_client_uri") {
				t.Errorf("Register = %v, want the registration_client_uri refused", err)
			}

			managed := &Registration{ClientID: "c", ClientSecret: "s", RegistrationClientURI: f.URL + "/register/c", RegistrationAccessToken: "rat"}
			f.SetAnswer(testidp.Reply(200, `{"client_id":"c","registration_client_uri":"`+evil.URL+`/c","registration_access_token":"rat-2"}`))
			if _, err := r.Update(ctx, managed, Request{ClientName: "x"}); !errors.Is(err, ErrBadResponse) {
				t.Errorf("Update = %v, want the rotated registration_client_uri refused", err)
			}

			stored := &Registration{ClientID: "c", ClientSecret: "s", RegistrationClientURI: evil.URL + "/c", RegistrationAccessToken: "rat"}
			f.SetAnswer(testidp.Reply(200, `{"client_id":"c"}`))
			if _, err := r.Read(ctx, stored); !errors.Is(err, ErrBadResponse) {
				t.Errorf("Read = %v, want the stored registration_client_uri refused", err)
			}
			_ = r.Delete(ctx, stored)
			stored.RegistrationAccessToken = "" // Okta: no RFC 7592 token, the initial one
			_ = r.Delete(ctx, stored)
			for _, req := range f.Requests() {
				if strings.HasPrefix(req.Authorization, "SSWS") && req.Path != "/register/c" && (req.Method != "POST" || req.Path != "/register") {
					t.Errorf("initial access token sent to %s %s", req.Method, req.Path)
				}
			}
		})
	}
	if reqs := evil.Requests(); len(reqs) != 0 {
		t.Errorf("the other origin received %+v", reqs)
	}
}

// TestCredentialsBounded: a secret or registration access token that is
// too long or not printable is refused, naming the field, not the value.
func TestCredentialsBounded(t *testing.T) {
	t.Parallel()
	for name, answer := range map[string]string{
		"long token":       `{"client_id":"c","client_secret":"s","registration_access_token":"` + strings.Repeat("t", maxCredential+1) + `"}`,
		"unprintable":      `{"client_id":"c","client_secret":"secret-\u202ereversed"}`,
		"control in token": `{"client_id":"c","client_secret":"s","registration_access_token":"rat-\n-12345"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, testidp.Reply(201, answer))
			r := hydraAt(t, f)
			_, err := r.Register(context.Background(), Request{ClientName: "x"})
			if !errors.Is(err, ErrBadResponse) || strings.Contains(err.Error(), "secret-") || strings.Contains(err.Error(), "ttttt") || strings.Contains(err.Error(), "rat-") {
				t.Errorf("Register = %v, want ErrBadResponse without the value", err)
			}
		})
	}
}
