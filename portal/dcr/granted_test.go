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

// TestRefusedUnmanagedRegistrationNamed: a refused registration the
// provider gave no way to delete is named as left there, for the
// operator to remove.
func TestRefusedUnmanagedRegistrationNamed(t *testing.T) {
	t.Parallel()
	f := newFake(t, testidp.Reply(201, `{"client_id":"cid","client_secret":"s","grant_types":["password"]}`))
	_, err := otherAt(t, f, []string{"client_credentials"}, "").Register(context.Background(), Request{ClientName: "x"})
	if want := `client "cid" stays at the provider, which gave no way to delete it`; err == nil || !errors.Is(err, ErrBadResponse) || !strings.Contains(err.Error(), want) {
		t.Errorf("Register = %v, want ErrBadResponse saying %s", err, want)
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
