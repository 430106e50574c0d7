package dcr

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/devidp"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

// newFake starts a test provider that lets answer answer its requests
// (none: the provider does).
func newFake(t *testing.T, answer testidp.Answer) *testidp.Server {
	f := testidp.New(t, devidp.Options{})
	f.SetAnswer(answer)
	return f
}

// hydraAt is a hydra driver that registers at f's /register.
func hydraAt(t *testing.T, f *testidp.Server) Registrar {
	t.Helper()
	r, err := New(&table.DCR{Provider: "hydra", RegistrationEndpoint: f.URL + "/register"}, "", f.Client())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// otherAt is the registrar of a provider of no known kind ("other") at
// f, sending its secret in the form, asking for grants and scope.
func otherAt(t *testing.T, f *testidp.Server, grants []string, scope string) Registrar {
	t.Helper()
	r, err := New(&table.DCR{Provider: "other", RegistrationEndpoint: f.URL + "/register", TokenEndpointAuthMethod: "client_secret_post",
		GrantTypes: grants, Scope: scope}, "", f.Client())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deletion is an RFC 7592 (or Okta) DELETE of path with auth.
func deletion(path, auth string) testidp.Request {
	return testidp.Request{Method: "DELETE", Path: path, Authorization: auth}
}

const okAnswer = `{"client_id":"cid","client_secret":"csecret","registration_client_uri":"REG/cid",` +
	`"registration_access_token":"rat","client_id_issued_at":null,"client_secret_expires_at":null,"redirect_uris":null}`

func TestRegisterRequestPerDriver(t *testing.T) {
	t.Parallel()
	token := &table.Secret{Env: testutil.Env(t, "DCR_TEST_TOKEN", "initial-123")}
	tests := []struct {
		name     string
		settings table.DCR
		req      Request
		path     string
		auth     string
		body     string
	}{
		{
			name: "other with bearer and no response_types",
			settings: table.DCR{Provider: "other", GrantTypes: []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_post", InitialAccessToken: token},
			req:  Request{ClientName: "app"},
			path: "/register", auth: "Bearer initial-123",
			body: `{"client_name":"app","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post"}`,
		},
		{
			name: "gluu asks for JWT access tokens",
			settings: table.DCR{Provider: "gluu", GrantTypes: []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_post", ResponseTypes: []string{"token"}, InitialAccessToken: token},
			req:  Request{ClientName: "app", RedirectURIs: []string{"https://a/cb", "https://b/cb"}},
			path: "/oxauth/restv1/register", auth: "Bearer initial-123",
			body: `{"access_token_as_jwt":true,"access_token_signing_alg":"RS256","client_name":"app","grant_types":["client_credentials"],` +
				`"redirect_uris":["https://a/cb","https://b/cb"],"response_types":["token"],"token_endpoint_auth_method":"client_secret_post"}`,
		},
		{
			name: "gluu signs access tokens with the algorithm asked for",
			settings: table.DCR{Provider: "gluu", GrantTypes: []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_post", InitialAccessToken: token},
			req:  Request{ClientName: "app", AccessTokenSigningAlg: "ES256"},
			path: "/oxauth/restv1/register", auth: "Bearer initial-123",
			body: `{"access_token_as_jwt":true,"access_token_signing_alg":"ES256","client_name":"app","grant_types":["client_credentials"],` +
				`"token_endpoint_auth_method":"client_secret_post"}`,
		},
		{
			name:     "other ignores the signing algorithm",
			settings: table.DCR{Provider: "other", GrantTypes: []string{"client_credentials"}, InitialAccessToken: token},
			req:      Request{ClientName: "app", AccessTokenSigningAlg: "ES256"},
			path:     "/register", auth: "Bearer initial-123",
			body: `{"client_name":"app","grant_types":["client_credentials"]}`,
		},
		{
			name: "keycloak bearer initial token",
			settings: table.DCR{Provider: "keycloak", GrantTypes: []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_basic", InitialAccessToken: token},
			req:  Request{ClientName: "kc"},
			path: "/realms/r/clients-registrations/openid-connect", auth: "Bearer initial-123",
			body: `{"client_name":"kc","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}`,
		},
		{
			name: "okta SSWS and service application",
			settings: table.DCR{Provider: "okta", GrantTypes: []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_basic", ResponseTypes: []string{}, InitialAccessToken: token},
			req:  Request{ClientName: "ok"},
			path: "/oauth2/v1/clients", auth: "SSWS initial-123",
			body: `{"application_type":"service","client_name":"ok","grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}`,
		},
		{
			name: "okta web application",
			settings: table.DCR{Provider: "okta", GrantTypes: []string{"authorization_code"},
				ResponseTypes: []string{"code"}, InitialAccessToken: token},
			req:  Request{ClientName: "ok", RedirectURIs: []string{"https://a/cb"}},
			path: "/oauth2/v1/clients", auth: "SSWS initial-123",
			body: `{"application_type":"web","client_name":"ok","grant_types":["authorization_code"],"redirect_uris":["https://a/cb"],"response_types":["code"]}`,
		},
		{
			name: "hydra open registration, empty response_types sent as [], scope as a string",
			settings: table.DCR{Provider: "hydra", GrantTypes: []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_post", ResponseTypes: []string{}, Scope: "read write"},
			req:  Request{ClientName: "hy"},
			path: "/oauth2/register", auth: "",
			body: `{"client_name":"hy","grant_types":["client_credentials"],"response_types":[],"scope":"read write","token_endpoint_auth_method":"client_secret_post"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, nil)
			f.SetAnswer(testidp.Reply(201, strings.ReplaceAll(okAnswer, "REG", f.URL+"/reg")))
			s := tt.settings
			s.RegistrationEndpoint = f.URL + tt.path
			r, err := New(&s, "", f.Client())
			if err != nil {
				t.Fatal(err)
			}
			reg, err := r.Register(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			want := Registration{ClientID: "cid", ClientSecret: "csecret", RegistrationClientURI: f.URL + "/reg/cid",
				RegistrationAccessToken: "rat", TokenEndpointAuthMethod: s.TokenEndpointAuthMethod}
			if *reg != want {
				t.Errorf("registration = %+v, want %+v", *reg, want)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			got := reqs[0]
			wantReq := testidp.Request{Method: "POST", Path: tt.path, Authorization: tt.auth, ContentType: "application/json", Body: tt.body}
			if got != wantReq {
				t.Errorf("request\n got %+v\nwant %+v", got, wantReq)
			}
		})
	}
}

func TestMergedSettingsReachTheDriver(t *testing.T) { // t.Chdir: not parallel
	// The compiler merges portal.dcr with the entry's dcr; the driver sends
	// the merged result as it is, with the initial access token read from
	// a file relative to the configuration directory (not the working
	// directory).
	dir := t.TempDir()
	f := newFake(t, nil)
	f.SetAnswer(testidp.Reply(201, strings.ReplaceAll(okAnswer, "REG", f.URL+"/global")))
	cfg := `package x
gateway: {}
idps: i: {issuer: "https://idp/", jwks_uri: "https://idp/jwks"}
apis: a: {name: "A", listen_path: "/a/", upstream: targets: ["http://127.0.0.1:1"], auth: jwt: {idp: "i"}}
policies: p: {name: "P", access: a: {}}
portal: {
	dcr: {provider: "other", grant_types: ["authorization_code"], token_endpoint_auth_method: "client_secret_basic",
		registration_endpoint: "` + f.URL + `/global", token_endpoint: "https://idp/token",
		initial_access_token: file: "secrets/iat"}
	catalogue: e: {name: "E", api: "a", policy: "p",
		dcr: {grant_types: ["client_credentials"], response_types: []}}
}
`
	testutil.WriteFile(t, dir+"/x.cue", cfg, 0o600)
	if err := os.Mkdir(dir+"/secrets", 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.WriteFile(t, dir+"/secrets/iat", "iat-from-file\n", 0o600)
	table, err := compiler.Compile(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	r, err := New(table.Portal.Catalogue["e"].DCR, dir, f.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(context.Background(), Request{ClientName: "m"}); err != nil {
		t.Fatal(err)
	}
	got := f.Requests()[0]
	want := `{"client_name":"m","grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}`
	if got.Path != "/global" || got.Body != want || got.Authorization != "Bearer iat-from-file" {
		t.Errorf("request %s %q %s, want /global %q %s", got.Path, got.Authorization, got.Body, "Bearer iat-from-file", want)
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		answer testidp.Answer
		check  func(t *testing.T, err error)
	}{
		{"400 invalid_client_metadata", testidp.Reply(400, `{"error":"invalid_client_metadata","error_description":"response_types token is not allowed"}`),
			wantProviderError(400, "invalid_client_metadata", "response_types token is not allowed")},
		{"401 with a sentence in error", testidp.Reply(401, `{"error":"The request could not be authorized.","error_description":"Bearer token is missing"}`),
			wantProviderError(401, "The request could not be authorized.", "Bearer token is missing")},
		{"500 with HTML", func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(500)
			io.WriteString(w, "<html>boom</html>")
			return true
		}, wantProviderError(500, "server_error", "<html>boom</html>")},
		{"502 empty", testidp.Reply(502, ``), wantProviderError(502, "server_error", "Bad Gateway")},
		{"invalid JSON", testidp.Reply(201, `{"client_id":`), wantIs(ErrBadResponse)},
		{"no client_id", testidp.Reply(201, `{"client_id":null,"client_secret":"s"}`), wantIs(ErrBadResponse)},
		{"unknown auth method", testidp.Reply(201, `{"client_id":"c","client_secret":"s","token_endpoint_auth_method":"\u202e\u001b[31mx"}`), wantIs(ErrBadResponse)},
		{"unknown auth method, not a URI", testidp.Reply(201, `{"client_id":"c","client_secret":"s","token_endpoint_auth_method":"magic"}`), wantIs(ErrBadResponse)},
		{"no secret for client_secret_post", testidp.Reply(201, `{"client_id":"c","token_endpoint_auth_method":"client_secret_post"}`), wantIs(ErrBadResponse)},
		{"timeout", func(w http.ResponseWriter, r *http.Request) bool { <-r.Context().Done(); return true }, wantIs(ErrTimeout)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.answer)
			s := table.DCR{Provider: "other", RegistrationEndpoint: f.URL + "/register", Timeout: table.Duration(200 * time.Millisecond)}
			r, _ := New(&s, "", f.Client())
			reg, err := r.Register(context.Background(), Request{ClientName: "x"})
			if reg != nil {
				t.Errorf("registration %+v despite the error", reg)
			}
			if NotSent(err) {
				t.Errorf("%v counts as not sent, but the provider got the request", err)
			}
			tt.check(t, err)
		})
	}
}

// TestUnreachableProviderNamedOnce: a provider that cannot be reached is
// an error naming the method and the URL once, then the cause.
func TestUnreachableProviderNamedOnce(t *testing.T) {
	t.Parallel()
	f := newFake(t, testidp.Reply(201, `{}`))
	endpoint := f.URL + "/register"
	f.Close()
	s := table.DCR{Provider: "other", RegistrationEndpoint: endpoint, Timeout: table.Duration(time.Second)}
	r, _ := New(&s, "", f.Client())
	_, err := r.Register(context.Background(), Request{ClientName: "x"})
	if err == nil {
		t.Fatal("registered at a closed server")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "dcr: POST "+endpoint+": dial tcp ") || strings.Count(msg, endpoint) != 1 {
		t.Errorf("error %q: want the URL once, then the cause", msg)
	}
}

func wantProviderError(status int, code, desc string) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var pe *ProviderError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a ProviderError", err)
		}
		if pe.Status != status || pe.Code != code || pe.Description != desc {
			t.Errorf("ProviderError = %d %q %q, want %d %q %q", pe.Status, pe.Code, pe.Description, status, code, desc)
		}
	}
}

func wantIs(target error) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("error %v, want %v", err, target)
		}
	}
}

// registeringFake is a provider that answers a registration 201 with
// client cid, its registration access token rat and the answer's other
// fields (JSON members, "" for none), and a DELETE 204.
func registeringFake(t *testing.T, fields string) *testidp.Server {
	var f *testidp.Server
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete {
			w.WriteHeader(204)
			return true
		}
		answer := `{"client_id":"cid","registration_client_uri":"` + f.URL + `/register/cid","registration_access_token":"rat"`
		if fields != "" {
			answer += "," + fields
		}
		return testidp.Reply(201, answer+"}")(w, r)
	})
	return f
}

func TestAnswerWithoutSecretIsDeletedAgain(t *testing.T) {
	t.Parallel()
	f := registeringFake(t, "")
	if _, err := otherAt(t, f, nil, "").Register(context.Background(), Request{ClientName: "x"}); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("Register = %v, want ErrBadResponse", err)
	}
	reqs := f.Requests()
	if len(reqs) != 2 || reqs[1] != deletion("/register/cid", "Bearer rat") {
		t.Errorf("requests = %+v, want the POST then an RFC 7592 DELETE", reqs)
	}
}

func TestUnreadableSecretSendsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := dir + "/empty"
	testutil.WriteFile(t, empty, "\n", 0o600)
	tests := []struct {
		name   string
		secret table.Secret
		want   string // in the error: the reference, never a value
	}{
		{"unset variable", table.Secret{Env: "DCR_TEST_UNSET_TOKEN"}, "environment variable DCR_TEST_UNSET_TOKEN is not set"},
		{"missing file", table.Secret{File: dir + "/missing"}, dir + "/missing"},
		{"empty file", table.Secret{File: empty}, "file:" + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, testidp.Reply(201, okAnswer))
			s := table.DCR{Provider: "gluu", RegistrationEndpoint: f.URL, InitialAccessToken: &tt.secret}
			r, _ := New(&s, "", f.Client())
			_, err := r.Register(context.Background(), Request{ClientName: "x"})
			if !errors.Is(err, ErrSettings) || !strings.Contains(err.Error(), tt.want) || !NotSent(err) {
				t.Errorf("Register = %v (sent: %v), want ErrSettings naming %q, not sent", err, !NotSent(err), tt.want)
			}
			if n := len(f.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	token := &table.Secret{Env: testutil.Env(t, "DCR_TEST_TOKEN", "api-token")}
	tests := []struct {
		name     string
		provider string
		reg      Registration
		status   int
		want     []testidp.Request
		wantErr  bool
		is       error // what the error matches, when set
	}{
		{"RFC 7592", "other", Registration{ClientID: "c", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat"},
			204, []testidp.Request{deletion("/register/c", "Bearer rat")}, false, nil},
		{"already gone", "hydra", Registration{ClientID: "c", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat"},
			404, []testidp.Request{deletion("/register/c", "Bearer rat")}, true, ErrUnknownClient},
		{"registration access token refused", "hydra", Registration{ClientID: "c", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat"},
			401, []testidp.Request{deletion("/register/c", "Bearer rat")}, true, ErrTokenRefused},
		{"provider fails", "other", Registration{ClientID: "c", RegistrationClientURI: "/register/c", RegistrationAccessToken: "rat"},
			500, []testidp.Request{deletion("/register/c", "Bearer rat")}, true, nil},
		{"okta by client id with SSWS", "okta", Registration{ClientID: "c"},
			204, []testidp.Request{deletion("/oauth2/v1/clients/c", "SSWS api-token")}, false, nil},
		{"no way to delete", "gluu", Registration{ClientID: "c"}, 204, nil, true, ErrUnmanaged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, testidp.Reply(tt.status, `{}`))
			reg := tt.reg
			if reg.RegistrationClientURI != "" {
				reg.RegistrationClientURI = f.URL + reg.RegistrationClientURI
			}
			s := table.DCR{Provider: tt.provider, RegistrationEndpoint: f.URL + "/oauth2/v1/clients/",
				InitialAccessToken: token}
			r, _ := New(&s, "", f.Client())
			err := r.Delete(context.Background(), &reg)
			if (err != nil) != tt.wantErr || tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Delete = %v, want error %v matching %v", err, tt.wantErr, tt.is)
			}
			got := f.Requests()
			if len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
				t.Errorf("requests = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUnknownProvider(t *testing.T) {
	t.Parallel()
	if _, err := New(&table.DCR{Provider: "acme"}, "", nil); !errors.Is(err, ErrSettings) {
		t.Errorf("New(provider acme) = %v, want ErrSettings", err)
	}
}

func TestDiscoveryIsCached(t *testing.T) {
	t.Parallel()
	f := newFake(t, nil) // the provider's discovery names its /token
	d := NewDiscovery(f.Client())
	s := &table.DCR{IdPHost: f.URL + "/"}
	for range 2 {
		ep, err := d.TokenEndpoint(context.Background(), s)
		if err != nil || ep != f.URL+"/token" {
			t.Fatalf("TokenEndpoint = %q, %v", ep, err)
		}
	}
	if reqs := f.Requests(); len(reqs) != 1 || reqs[0].Path != "/.well-known/openid-configuration" {
		t.Errorf("requests = %+v, want one discovery fetch", reqs)
	}
	// A configured token endpoint wins without a fetch.
	if ep, _ := d.TokenEndpoint(context.Background(), &table.DCR{TokenEndpoint: "https://t", IdPHost: "https://h"}); ep != "https://t" {
		t.Errorf("configured endpoint = %q", ep)
	}
}
