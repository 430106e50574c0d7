package dcr

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testidp"
)

// TestGrantedBeyondAskedIsDeletedAgain: a registration whose answer names
// a grant type (but refresh_token) or a scope the settings did not ask
// for is refused and deleted again at the provider.
func TestGrantedBeyondAskedIsDeletedAgain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		grants []string // asked; nil: none
		scope  string   // asked
		answer string   // the answer's grant_types and scope
		refuse bool
	}{
		{"as asked", []string{"client_credentials"}, "read", `"grant_types":["client_credentials"],"scope":"read"`, false},
		{"refresh_token added", []string{"client_credentials"}, "", `"grant_types":["client_credentials","refresh_token"]`, false},
		{"a provider's default scope", []string{"client_credentials"}, "", `"grant_types":["client_credentials"],"scope":"openid offline"`, false},
		{"no grant types asked", nil, "", `"grant_types":["authorization_code"]`, false},
		{"fewer scopes", []string{"client_credentials"}, "read write", `"scope":"read"`, false},
		{"a grant type added", []string{"client_credentials"}, "", `"grant_types":["client_credentials","authorization_code","password"]`, true},
		{"a scope added", []string{"client_credentials"}, "read", `"grant_types":["client_credentials"],"scope":"read admin"`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := registeringFake(t, `"client_secret":"s",`+tt.answer)
			_, err := otherAt(t, f, tt.grants, tt.scope).Register(context.Background(), Request{ClientName: "x"})
			reqs := f.Requests()
			switch {
			case tt.refuse && (!errors.Is(err, ErrBadResponse) || len(reqs) != 2 || reqs[1] != deletion("/register/cid", "Bearer rat")):
				t.Errorf("Register = %v, requests %+v; want ErrBadResponse, the POST then an RFC 7592 DELETE", err, reqs)
			case !tt.refuse && (err != nil || len(reqs) != 1):
				t.Errorf("Register = %v, requests %+v; want the registration", err, reqs)
			}
		})
	}
}

// TestRefusedRegistrationLeftAtProvider: a refused registration the
// provider does not delete again, or gave no way to delete, is
// ErrLeftAtProvider and ErrBadResponse naming the client, for the
// operator to remove; the deletion's refusal is in its words, never a
// ProviderError a caller would take for a refusal of the registration.
func TestRefusedRegistrationLeftAtProvider(t *testing.T) {
	t.Parallel()
	const widened = `"client_id":"cid","client_secret":"cid-secret","grant_types":["password"]`
	for _, tt := range []struct {
		name    string
		answer  string // the registration's answer, less its braces
		deleted testidp.Answer
		why     string // in the error
	}{
		{"no way to delete", widened, nil, "gave no way to manage this client"},
		{"deletion refused", widened + `,"registration_client_uri":"REG/cid","registration_access_token":"rat"`,
			testidp.Reply(400, `{"error":"invalid_client_metadata","error_description":"redirect_uris must not be empty"}`),
			"provider answered 400: invalid_client_metadata"},
		{"registration access token refused", widened + `,"registration_client_uri":"REG/cid","registration_access_token":"rat"`,
			testidp.Reply(401, `{"error":"invalid_token"}`), "refused the stored registration access token"},
		{"deletion fails", widened + `,"registration_client_uri":"REG/cid","registration_access_token":"rat"`,
			testidp.Reply(500, `{"error":"server_error"}`), "provider answered 500"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f *testidp.Server
			f = newFake(t, func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodDelete {
					return tt.deleted(w, r)
				}
				return testidp.Reply(201, "{"+strings.ReplaceAll(tt.answer, "REG", f.URL+"/register")+"}")(w, r)
			})
			_, err := otherAt(t, f, []string{"client_credentials"}, "").Register(context.Background(), Request{ClientName: "x"})
			if !errors.Is(err, ErrLeftAtProvider) || !errors.Is(err, ErrBadResponse) {
				t.Fatalf("Register = %v, want ErrLeftAtProvider and ErrBadResponse", err)
			}
			if pe, ok := errors.AsType[*ProviderError](err); ok {
				t.Errorf("Register = %v, matches the deletion's ProviderError %+v", err, pe)
			}
			for _, want := range []string{`the grant type "password"`, `client "cid"`, tt.why} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Register = %v, want it to say %s", err, want)
				}
			}
		})
	}
}

// TestUpdateWidenedKeepsTheRegistration: an update answer that grants
// more than the settings ask for is ErrWidened (and ErrBadResponse), with
// the registration as the provider now has it, rotated credentials and
// all, for the portal to keep.
func TestUpdateWidenedKeepsTheRegistration(t *testing.T) {
	t.Parallel()
	var f *testidp.Server
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) bool {
		return testidp.Reply(200, `{"client_id":"cid","client_secret":"s2","registration_client_uri":"`+f.URL+`/register/cid","registration_access_token":"rat2",`+
			`"grant_types":["client_credentials","password"],"scope":"read admin"}`)(w, r)
	})
	reg, err := otherAt(t, f, []string{"client_credentials"}, "read").Update(context.Background(), &Registration{ClientID: "cid", ClientSecret: "s", RegistrationClientURI: f.URL + "/register/cid", RegistrationAccessToken: "rat"}, Request{ClientName: "x"})
	if !errors.Is(err, ErrWidened) || !errors.Is(err, ErrBadResponse) || reg == nil || reg.RegistrationAccessToken != "rat2" || reg.ClientSecret != "s2" {
		t.Errorf("Update = %+v, %v; want the rotated registration and ErrWidened", reg, err)
	}
}
