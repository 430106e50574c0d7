package table

import (
	"regexp"
	"slices"
)

// Provider is what cuegate knows of an identity provider's client
// registration (DCR.Provider names one): the compiler warns from it about
// settings the provider refuses, and the portal's DCR driver talks to the
// provider by it. The registry is read-only and safe for concurrent use.
type Provider struct {
	Name string
	// TokenScheme is the Authorization scheme the initial access token is
	// sent with.
	TokenScheme string
	// TokenRequired: the provider refuses registrations without an
	// initial access token; TokenDoc says what that token is.
	TokenRequired bool
	TokenDoc      string
	// RegistrationPath matches the path of the provider's registration
	// endpoint, as documented in RegistrationDoc; nil for any path.
	RegistrationPath *regexp.Regexp
	RegistrationDoc  string
	// IdentityClaims are the access-token claims that carry the client
	// id; empty when unknown.
	IdentityClaims []string
	// DefaultSigningAlg, when set, is sent as access_token_signing_alg
	// with access_token_as_jwt: true unless the request names another
	// algorithm: the provider issues opaque access tokens otherwise.
	DefaultSigningAlg string
	// ApplicationType: the provider wants application_type, "web" for a
	// client with authorization_code or implicit grants, else "service".
	ApplicationType bool
	// DeleteByID: a client the provider gave no registration_client_uri
	// for is deleted at <registration endpoint>/<client_id> with the
	// initial access token.
	DeleteByID bool
	// TokenResponseNeedsImplicit: response type token is refused unless
	// grant_types has implicit.
	TokenResponseNeedsImplicit bool
}

// bearerToken is the initial access token as RFC 7591 sends it.
const bearerToken = "an initial access token (Authorization: Bearer)"

// providers are the schema's #Provider values.
var providers = map[string]*Provider{
	"other": {Name: "other", TokenScheme: "Bearer"},
	"gluu": {
		Name: "gluu", TokenScheme: "Bearer", TokenRequired: true, TokenDoc: bearerToken,
		RegistrationPath: regexp.MustCompile(`/register$`), RegistrationDoc: "/oxauth/restv1/register (or /jans-auth/restv1/register)",
		IdentityClaims:    []string{"client_id"},
		DefaultSigningAlg: "RS256",
	},
	"keycloak": {
		Name: "keycloak", TokenScheme: "Bearer", TokenRequired: true, TokenDoc: bearerToken,
		RegistrationPath: regexp.MustCompile(`^/(auth/)?realms/[^/]+/clients-registrations/openid-connect$`), RegistrationDoc: "/realms/{realm}/clients-registrations/openid-connect",
		IdentityClaims: []string{"azp", "clientId"},
	},
	"okta": {
		Name: "okta", TokenScheme: "SSWS", TokenRequired: true, TokenDoc: "an API token (sent as Authorization: SSWS <token>)",
		RegistrationPath: regexp.MustCompile(`/oauth2/v1/clients$`), RegistrationDoc: "/oauth2/v1/clients",
		IdentityClaims:  []string{"cid"},
		ApplicationType: true, DeleteByID: true, TokenResponseNeedsImplicit: true,
	},
	"hydra": {Name: "hydra", TokenScheme: "Bearer", IdentityClaims: []string{"client_id"}},
}

// LookupProvider returns the provider called name, or false for a name
// the schema does not know.
func LookupProvider(name string) (*Provider, bool) {
	p, ok := providers[name]
	return p, ok
}

// ProviderNames lists the providers' names, sorted.
func ProviderNames() []string {
	names := make([]string, 0, len(providers))
	for n := range providers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
