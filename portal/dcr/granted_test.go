package dcr

import (
	"context"
	"errors"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
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
			s := table.DCR{Provider: "other", RegistrationEndpoint: f.URL + "/register", TokenEndpointAuthMethod: "client_secret_post",
				GrantTypes: tt.grants, Scope: tt.scope}
			r, _ := New(&s, "", f.Client())
			_, err := r.Register(context.Background(), Request{ClientName: "x"})
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
