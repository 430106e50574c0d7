package table

import "testing"

// TestProviders checks that every provider is complete: found under its
// name, with a token scheme, and a description for each rule it has.
func TestProviders(t *testing.T) {
	t.Parallel()
	for _, name := range ProviderNames() {
		p, ok := LookupProvider(name)
		switch {
		case !ok || p.Name != name:
			t.Errorf("provider %q: looked up as %+v", name, p)
		case p.TokenScheme == "":
			t.Errorf("provider %q has no token scheme", name)
		case p.TokenRequired && p.TokenDoc == "":
			t.Errorf("provider %q requires a token and does not say which", name)
		case p.RegistrationPath != nil && p.RegistrationDoc == "":
			t.Errorf("provider %q checks the registration path and does not document it", name)
		}
	}
	if p, ok := LookupProvider("nobody"); ok {
		t.Errorf("unknown provider looked up as %+v", p)
	}
}
