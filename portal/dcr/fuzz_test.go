package dcr

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/printable"
)

// fuzzToken is the initial access token the fuzzed answers are to, sent
// as fuzzAuth.
const (
	fuzzToken = "iat-fuzz-1234"
	fuzzAuth  = "Bearer " + fuzzToken
)

// secretField finds the values of an answer's secrets that are long
// enough to be told apart from incidental text.
var secretField = regexp.MustCompile(`"(?:client_secret|registration_access_token)"\s*:\s*"([^"\\]{8,})"`)

// FuzzReadAnswer checks the reading of a provider's registration answer:
// it never panics, an accepted answer has a client_id (and, when usable,
// a printable one and the secret its auth method needs), a refusal is a
// *ProviderError with its status, no error repeats a secret of a 2xx
// answer nor a secret of the call, and a refusal's words are printable
// text. The seed corpus holds answers in the shapes of Hydra, Keycloak,
// Okta and Gluu.
func FuzzReadAnswer(f *testing.F) {
	f.Add(201, []byte(`{"client_id":"cid","client_secret":"csecret-123"}`), "client_secret_post")
	f.Add(401, []byte(`{"error":"invalid_token","error_description":"Bearer IAT-FUZZ-1234 is not valid"}`), "")
	f.Add(201, []byte(`{"client_id":"cid","client_secret":"csecret-123","registration_client_uri":"https://evil.example/c","registration_access_token":"rat-12345678"}`), "client_secret_post")
	d := &driver{s: &table.DCR{Provider: "hydra", RegistrationEndpoint: "https://idp.example/register"}}
	f.Fuzz(func(t *testing.T, status int, raw []byte, method string) {
		reg, err := readAnswer(status, raw, method, secretsOf(fuzzAuth, nil))
		if status < 200 || status > 299 {
			var pe *ProviderError
			if reg != nil || !errors.As(err, &pe) || pe.Status != status {
				t.Fatalf("status %d: registration %+v, error %v; want a ProviderError", status, reg, err)
			}
			if strings.Contains(strings.ToLower(pe.Error()), strings.ToLower(fuzzToken)) {
				t.Fatalf("error %q repeats the call's token", pe)
			}
			if p := printable.Problem(pe.Code+pe.Description, 2*(maxErrorText+len("…"))); p != "" {
				t.Fatalf("error %q: the provider's words %s", pe, p)
			}
			return
		}
		errs := []error{err}
		switch {
		case err == nil && (reg == nil || reg.ClientID == ""):
			t.Fatalf("accepted without a client_id: %+v", reg)
		case err != nil && (reg != nil || !errors.Is(err, ErrBadResponse)):
			t.Fatalf("refused with registration %+v and error %v, want ErrBadResponse alone", reg, err)
		case err == nil:
			uerr := d.usable(reg)
			errs = append(errs, uerr)
			if uerr == nil && reg.ClientSecret == "" && reg.TokenEndpointAuthMethod != "none" && reg.TokenEndpointAuthMethod != "private_key_jwt" {
				t.Fatalf("usable without a secret for %q", reg.TokenEndpointAuthMethod)
			}
			if uerr != nil && !errors.Is(uerr, ErrBadResponse) {
				t.Fatalf("unusable with %v, want ErrBadResponse", uerr)
			}
		}
		for _, m := range secretField.FindAllSubmatch(raw, -1) {
			for _, e := range errs {
				if e != nil && strings.Contains(e.Error(), string(m[1])) {
					t.Fatalf("error %q repeats the secret %q", e, m[1])
				}
			}
		}
	})
}
