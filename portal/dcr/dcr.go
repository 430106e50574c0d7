// Package dcr registers OAuth clients at identity providers by Dynamic
// Client Registration (RFC 7591), and reads, updates and deletes them
// (RFC 7592).
//
// New returns the driver for a catalogue entry's merged DCR settings. A
// driver POSTs the client metadata as JSON to the registration endpoint
// (RFC 7591), with the initial access token when one is configured. What
// differs between providers is read from the provider registry
// (table.LookupProvider), which the compiler's warnings read too: the
// token's Authorization scheme (Bearer, or SSWS for Okta), JWT access
// tokens asked for with access_token_as_jwt and access_token_signing_alg
// (Gluu, which issues opaque ones otherwise), application_type (Okta), and
// management at <registration endpoint>/<client_id> with the initial
// access token when the provider returned no registration access token
// (Okta): the initial access token goes nowhere else.
//
// A registration_client_uri receives the client's registration access
// token only on the registration endpoint's origin (https unless the
// endpoint is http); secrets and tokens in answers are bounded and
// printable text.
//
// Every driver sends the configured grant_types, response_types (left out
// when not configured, [] when configured empty), token_endpoint_auth_method,
// scope (one space-separated string, as Hydra needs), client_name and
// redirect_uris, and never client_secret or metadata, which Hydra rejects. The initial access token is read
// from its Secret at each call (a relative file name from the
// configuration directory given to New) and never logged; one that cannot
// be read fails the call with ErrSettings. Each call is bounded by the
// settings' Timeout.
//
// A provider's refusal is a *ProviderError carrying the provider's own
// error and error_description (for an answer without them, its body, a
// JSON one decoded first so that no escape hides a secret), with the
// call's secrets redacted and only when they are printable text.
//
// Concurrency: a Registrar and a Discovery are safe for concurrent use.
package dcr

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/outbound"
)

// Request is the client a developer asks for.
type Request struct {
	ClientName   string
	RedirectURIs []string
	// AccessTokenSigningAlg is the JWS algorithm the provider is to sign
	// the client's access tokens with, for a provider that lets the client
	// choose (table.Provider.DefaultSigningAlg); "" means the provider's
	// default.
	AccessTokenSigningAlg string
}

// Registration is a client registered at the provider.
type Registration struct {
	ClientID     string
	ClientSecret string
	// RegistrationClientURI and RegistrationAccessToken are set when the
	// provider supports RFC 7592 management of the client.
	RegistrationClientURI   string
	RegistrationAccessToken string
	// TokenEndpointAuthMethod is the method the provider registered, or
	// the configured one when the response does not say.
	TokenEndpointAuthMethod string
}

// Registrar registers and deletes clients at one provider with one set of
// settings.
type Registrar interface {
	// Register creates a client. On error nothing was created, or the
	// provider's answer could not be used (or granted more than the
	// settings ask for: ErrBadResponse) and the client was deleted there
	// again, or, when the provider did not delete it or gave no way to,
	// ErrLeftAtProvider too.
	Register(ctx context.Context, req Request) (*Registration, error)
	// Delete removes the client at the provider (RFC 7592, or the
	// provider's own API): nil only when the provider answered the
	// deletion with a 2xx. ErrUnmanaged when it gave no way to delete the
	// client (it is left alone), ErrUnknownClient when it answered 404 or
	// 410 (deleted before, or the answer of something else at that
	// address), ErrTokenRefused for a 401 to the registration access
	// token: the client may still exist there.
	Delete(ctx context.Context, reg *Registration) error
	// Update replaces the client's metadata at the provider with req's
	// (RFC 7592 §2.2: a PUT of the full metadata with the client_id) and
	// returns the registration as it is now: a client secret, registration
	// access token or registration_client_uri the answer carries replaces
	// reg's, the ones it leaves out are kept. ErrUnmanaged when the
	// provider gave no way to manage the client, ErrUnknownClient when it
	// no longer knows it (404, 410), ErrTokenRefused when it refuses the
	// registration access token (401), a *ProviderError when it refuses.
	// An answer that grants more than the settings ask for (a grant type
	// other than theirs and refresh_token, or a scope beyond their scope)
	// is ErrWidened with the registration as it is now: the provider made
	// the change, so its credentials must still be kept.
	Update(ctx context.Context, reg *Registration, req Request) (*Registration, error)
	// Read asks the provider for the client (RFC 7592 §2.1) and returns
	// the registration as it is now, as Update does: the provider may
	// rotate the client secret or registration access token on a read,
	// and the old ones then no longer work. It has the same errors as
	// Update, ErrWidened aside.
	Read(ctx context.Context, reg *Registration) (*Registration, error)
}

// InitialAccessToken reads the initial access token sec refers to (a
// relative file name from configDir), as
// every call to the provider does: "" when none is configured (open
// registration). A reference that cannot be read, or a file that holds
// nothing, is an error matching ErrSettings that names the reference,
// never a value.
func InitialAccessToken(sec *table.Secret, configDir string) (string, error) {
	tok, err := sec.ResolveToken(configDir, "initial_access_token")
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrSettings, err)
	}
	return tok, nil
}

// New returns the driver for s. configDir is the configuration directory
// s was compiled from: a relative initial access token file is read from
// it (see table.ConfigPath). hc is the HTTP client to use
// (http.DefaultClient when nil), without following redirects
// (outbound.NoRedirects: a followed redirect would send a request's body
// and Authorization, a registration or initial access token, wherever
// the answer points; the 3xx is refused by redirected).
func New(s *table.DCR, configDir string, hc *http.Client) (Registrar, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: none are configured", ErrSettings)
	}
	hc = outbound.NoRedirects(hc)
	p, ok := table.LookupProvider(s.Provider)
	if !ok {
		return nil, fmt.Errorf("%w: unknown provider %q", ErrSettings, s.Provider)
	}
	return &driver{s: s, p: p, dir: configDir, hc: hc}, nil
}

// applicationType is the application_type of a client with grants.
func applicationType(grants []string) string {
	if slices.Contains(grants, "authorization_code") || slices.Contains(grants, "implicit") {
		return "web"
	}
	return "service"
}

var _ Registrar = (*driver)(nil)

// driver is every provider's Registrar: p says how they differ.
type driver struct {
	s   *table.DCR
	p   *table.Provider
	dir string // the configuration directory, for s's secret file
	hc  *http.Client
}

func (d *driver) authorization() (string, error) {
	tok, err := InitialAccessToken(d.s.InitialAccessToken, d.dir)
	if err != nil || tok == "" {
		return "", err
	}
	return d.p.TokenScheme + " " + tok, nil
}

func (d *driver) body(req Request) map[string]any {
	m := map[string]any{"client_name": req.ClientName}
	if d.p.DefaultSigningAlg != "" {
		m["access_token_as_jwt"] = true
		m["access_token_signing_alg"] = cmp.Or(req.AccessTokenSigningAlg, d.p.DefaultSigningAlg)
	}
	if d.p.ApplicationType {
		m["application_type"] = applicationType(d.s.GrantTypes)
	}
	if len(req.RedirectURIs) > 0 {
		m["redirect_uris"] = req.RedirectURIs
	}
	if d.s.GrantTypes != nil {
		m["grant_types"] = d.s.GrantTypes
	}
	if d.s.ResponseTypes != nil {
		m["response_types"] = d.s.ResponseTypes
	}
	if d.s.TokenEndpointAuthMethod != "" {
		m["token_endpoint_auth_method"] = d.s.TokenEndpointAuthMethod
	}
	if d.s.Scope != "" {
		m["scope"] = d.s.Scope
	}
	return m
}
